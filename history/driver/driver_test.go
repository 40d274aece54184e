package driver_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aft-shim/aft/shim/shimtest"

	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/history"
	"github.com/aft-shim/aft/history/driver"
	"github.com/aft-shim/aft/internal/launch"
)

// check fails t on any anomaly of h.
func check(t *testing.T, h []history.Txn) {
	t.Helper()
	if rep := history.CheckWith(h, history.Options{StrictTombstones: true}); !rep.OK() {
		t.Errorf("anomalies in %d txns: %v", len(h), rep)
	}
}

func TestRunTxnsBound(t *testing.T) {
	_, c := shimtest.Start(t)
	var rec history.Recorder
	st, err := driver.Run(t.Context(), c, &rec, driver.Options{Clients: 8, Txns: 300, Groups: 4, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(st)
	if st.Logical != 300 {
		t.Errorf("Logical = %d, want 300", st.Logical)
	}
	if st.Txns != int64(rec.Len()) || st.Txns < 300 {
		t.Errorf("Txns = %d, recorder holds %d, want both >= 300", st.Txns, rec.Len())
	}
	if st.Errors != 0 || st.BadWinners != 0 {
		t.Errorf("errors=%d (%s) bad-winners=%d (%s), want none", st.Errors, st.LastError, st.BadWinners, st.LastBadWinner)
	}
	if st.Readers == 0 || st.Writers == 0 || st.Committed == 0 || st.Aborted == 0 || st.Dedup == 0 || st.Batches == 0 {
		t.Errorf("a dull mix: %v", st)
	}
	if err := driver.Final(t.Context(), c, &rec); err != nil {
		t.Fatal(err)
	}
	h := rec.History()
	final := h[len(h)-1]
	if !final.Final || final.Outcome != history.Committed || len(final.Ops) != len(driver.WrittenKeys(h)) {
		t.Errorf("final txn = %+v, want a committed Final read of %d keys", final, len(driver.WrittenKeys(h)))
	}
	check(t, h)
	n, err := driver.VerifyIdemKeys(t.Context(), c, h)
	if err != nil || n == 0 {
		t.Errorf("VerifyIdemKeys = %d, %v; want some keys and no error", n, err)
	}
}

func TestRunDurationBoundAndProgress(t *testing.T) {
	_, c := shimtest.Start(t)
	var buf syncBuffer
	var calls int
	var mu sync.Mutex
	start := time.Now()
	// A second of load has two 50 ms ticks, and a first transaction, even on a machine
	// that stalls for some hundreds of milliseconds.
	st, err := driver.Run(t.Context(), c, &history.Recorder{}, driver.Options{
		Clients: 4, Duration: time.Second, Progress: &buf, ProgressEvery: 50 * time.Millisecond,
		OnProgress: func(driver.Stats) { mu.Lock(); calls++; mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Run took %v, want about 1s", d)
	}
	if st.Logical == 0 {
		t.Errorf("nothing ran: %v", st)
	}
	lines := strings.Count(buf.String(), "\n")
	if lines < 3 || !strings.HasPrefix(buf.String(), "driver: ") {
		t.Errorf("progress output has %d lines, want a few:\n%s", lines, buf.String())
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != lines {
		t.Errorf("OnProgress called %d times, progress lines %d", calls, lines)
	}
}

func TestRunStop(t *testing.T) {
	_, c := shimtest.Start(t)
	// Stop once some load ran, not at a time a slow machine could reach first.
	stop := make(chan struct{})
	var once sync.Once
	st, err := driver.Run(t.Context(), c, &history.Recorder{}, driver.Options{Clients: 4, Stop: stop,
		ProgressEvery: 10 * time.Millisecond, OnProgress: func(st driver.Stats) {
			if st.Logical > 0 {
				once.Do(func() { close(stop) })
			}
		}})
	if err != nil || st.Logical == 0 {
		t.Errorf("Run = %v, %v; want some load and no error", st, err)
	}
}

func TestRunCancelNoLeak(t *testing.T) {
	shimURL, _ := shimtest.Start(t)
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	defer hc.CloseIdleConnections()
	_, err := driver.Run(ctx, client.New(shimURL, client.WithHTTPClient(hc)), &history.Recorder{}, driver.Options{
		Clients: 16, Duration: time.Minute, Progress: &syncBuffer{}, ThinkTime: time.Millisecond})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Run error = %v, want the context's", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Run took %v after its context ended, want it prompt", d)
	}
	// Idle HTTP connections hold goroutines of their own, in the client and in the server.
	hc.CloseIdleConnections()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+4 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+4 {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines after Run, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

func TestRunSurvivesDeadShim(t *testing.T) {
	// A port nothing listens on: every request fails at once.
	addr, err := launch.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	var rec history.Recorder
	// Stop once the clients failed and went on a few times; the duration only bounds a
	// load that does not.
	stop := make(chan struct{})
	var once sync.Once
	st, err := driver.Run(t.Context(), client.New("http://"+addr), &rec, driver.Options{
		Clients: 4, Duration: 10 * time.Second, Stop: stop, Backoff: 5 * time.Millisecond,
		ProgressEvery: 10 * time.Millisecond, OnProgress: func(st driver.Stats) {
			if st.Errors >= 8 && st.Logical >= 8 {
				once.Do(func() { close(stop) })
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if st.Errors < 8 || st.Logical < 8 || rec.Len() != 0 {
		t.Errorf("against a dead shim: %v, %d recorded; want clients that keep retrying and record nothing", st, rec.Len())
	}
}

func TestOptionsErrors(t *testing.T) {
	for name, o := range map[string]driver.Options{
		"unbounded":        {},
		"fraction above 1": {Txns: 1, ReadFraction: 1.5},
		"negative count":   {Txns: 1, Clients: -1},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := driver.Run(t.Context(), client.New("http://127.0.0.1:1"), &history.Recorder{}, o); err == nil {
				t.Errorf("Run(%+v) = nil error", o)
			}
		})
	}
	_, err := driver.Run(t.Context(), client.New("http://127.0.0.1:1"), &history.Recorder{}, driver.Options{})
	if !errors.Is(err, driver.ErrUnbounded) {
		t.Errorf("unbounded Run error = %v, want ErrUnbounded", err)
	}
}

func TestFinalNothingWritten(t *testing.T) {
	var rec history.Recorder
	if err := driver.Final(t.Context(), client.New("http://127.0.0.1:1"), &rec); err != nil || rec.Len() != 0 {
		t.Errorf("Final of an empty history = %v, %d recorded; want nothing done", err, rec.Len())
	}
}

func TestVerifyIdemKeysMismatch(t *testing.T) {
	_, c := shimtest.Start(t)
	ctx := t.Context()
	// A key committed by one attempt, which a history claims another attempt committed.
	bt, err := c.Begin(ctx, "k1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Commit(ctx, bt.ID, []byte("result:"+bt.ID)); err != nil {
		t.Fatal(err)
	}
	h := []history.Txn{{ID: "someone-else", IdemKey: "k1", Outcome: history.Committed}}
	if n, err := driver.VerifyIdemKeys(ctx, c, h); n != 1 || !errors.Is(err, driver.ErrIdemMismatch) {
		t.Errorf("VerifyIdemKeys = %d, %v; want 1 and a mismatch", n, err)
	}
	h[0].ID = bt.ID
	if n, err := driver.VerifyIdemKeys(ctx, c, h); n != 1 || err != nil {
		t.Errorf("VerifyIdemKeys = %d, %v; want 1 and no error", n, err)
	}
	// A committed attempt the shim does not know.
	h = []history.Txn{{ID: "ghost", IdemKey: "k2", Outcome: history.Committed}}
	if _, err := driver.VerifyIdemKeys(ctx, c, h); !errors.Is(err, driver.ErrIdemMismatch) {
		t.Errorf("VerifyIdemKeys of a forgotten commit = %v, want a mismatch", err)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
