package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/history"
	"github.com/aft-shim/aft/history/driver"
	"github.com/aft-shim/aft/shim/backend"
	"github.com/aft-shim/aft/shim/store/redis/redistest"
	"github.com/aft-shim/aft/shim/store/s3/miniotest"
)

// runOutage runs the workload against an in-process shim on a real storage server, takes
// the server away mid-run (outage) and brings it back (recover): commits fail cleanly or
// succeed, nothing partial is ever visible, and the shim commits again once the store is
// back.
func runOutage(t *testing.T, storeURL string, outage, recover func()) {
	st, desc, err := backend.Open(t.Context(), storeURL, backend.Options{CreateStore: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ts, _ := newShim(t, st)
	c := client.New(ts.URL)
	var rec history.Recorder
	stop := make(chan struct{})
	var stopOnce sync.Once
	stopLoad := func() { stopOnce.Do(func() { close(stop) }) }
	done := make(chan driver.Stats, 1)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		// Stop ends the load; the time bound only guards against a hang.
		s, err := driver.Run(context.Background(), c, &rec, driver.Options{
			Clients: 16, Duration: 3 * time.Minute, Stop: stop, Groups: 4, GroupSize: 4, Seed: 3,
			Backoff: 20 * time.Millisecond, OpTimeout: 2 * time.Second,
		})
		if err != nil {
			t.Error(err)
		}
		done <- s
	}()
	t.Cleanup(func() { stopLoad(); <-finished })
	waitRecorded(t, &rec, 100, time.Minute, func() string { return "before the outage" }) // it strikes mid-load
	outage()
	time.Sleep(3 * time.Second) // longer than a client waits for one call (OpTimeout)
	recover()
	back := time.Now()
	// commitsAfter counts the commits that began after the store came back.
	commitsAfter := func(h []history.Txn) int {
		n := 0
		for _, tx := range h {
			if tx.Outcome == history.Committed && tx.CommitStart.After(back) {
				n++
			}
		}
		return n
	}
	// The shim commits again once the store is back: the load runs until it has committed
	// 20 times, or for 30 s, which only bounds a shim that does not recover (the check
	// below then fails), not how fast one does.
	for deadline := back.Add(30 * time.Second); commitsAfter(rec.History()) < 20 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	stopLoad()
	stats := <-done
	if err := driver.Final(t.Context(), c, &rec); err != nil {
		t.Fatal(err)
	}
	h := rec.History()
	rep := history.CheckWith(h, strict)
	after := commitsAfter(h)
	t.Logf("%s: driver: %v; history: %v; committed after recovery: %d; check: %v", desc, stats, summarize(h), after, rep)
	if !rep.OK() {
		t.Errorf("anomalies: %v", rep)
	}
	atLeast(t, map[string][2]int64{
		"errors during the outage": {stats.Errors, 1},
		"commits after the outage": {int64(after), 20},
	})
}

func TestRedisOutage(t *testing.T) {
	srv := redistest.Start(t)
	runOutage(t, srv.URL(0, "prefix=outage:"), func() { srv.Pause(t) }, func() { srv.Resume(t) })
}

func TestS3Outage(t *testing.T) {
	srv := miniotest.Start(t)
	for k, v := range srv.Env() {
		t.Setenv(k, v)
	}
	url := fmt.Sprintf("s3://outage/shim?region=us-east-1&endpoint=http://127.0.0.1:%d&path-style=true", srv.Port())
	runOutage(t, url, srv.Stop, srv.Restart)
}
