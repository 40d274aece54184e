package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/history"
	"github.com/aft-shim/aft/history/driver"
	"github.com/aft-shim/aft/shim/peer"
	"github.com/aft-shim/aft/shim/shimtest"
	"github.com/aft-shim/aft/shim/store"
	"github.com/aft-shim/aft/shim/store/faults"
	"github.com/aft-shim/aft/shim/store/mem"
	"github.com/aft-shim/aft/shim/txn"
)

// TestStoreFaults runs the workload over a store that fails calls, reports applied writes
// as failed (ambiguous), and goes down for a while: commits fail cleanly or succeed, nothing
// partial or uncommitted is ever visible, and the shim serves again once the store is back.
// It runs over a store that commits in one step and over one that needs two.
func TestStoreFaults(t *testing.T) {
	for name, open := range map[string]func() store.Store{
		"one-step": func() store.Store { return mem.New() },
		"two-step": func() store.Store { return struct{ store.Store }{mem.New()} },
	} {
		t.Run(name, func(t *testing.T) {
			st, f := faults.Wrap(open(), faults.Options{FailRate: 0.03, AmbiguousRate: 0.03, Seed: 11})
			ts, _ := newShim(t, st)
			c := client.New(ts.URL)
			var rec history.Recorder
			done := make(chan driver.Stats)
			go func() {
				// Bounded by count, so that a slow machine runs as much load as a fast one;
				// the time bound only guards against a hang.
				s, err := driver.Run(t.Context(), c, &rec, driver.Options{
					Clients: 16, Txns: 400, Duration: 2 * time.Minute, Groups: 4, GroupSize: 4, Seed: 5,
					Backoff: 5 * time.Millisecond, OpTimeout: 2 * time.Second,
				})
				if err != nil {
					t.Error(err)
				}
				done <- s
			}()
			time.Sleep(1200 * time.Millisecond)
			f.SetDown(true) // an outage
			time.Sleep(300 * time.Millisecond)
			f.SetDown(false)
			stats := <-done
			f.Set(faults.Options{}) // the store is healthy again
			if err := driver.Final(t.Context(), c, &rec); err != nil {
				t.Fatal(err)
			}
			h := rec.History()
			rep := history.CheckWith(h, strict)
			sum := summarize(h)
			t.Logf("driver: %v; injected faults: %d", stats, f.Injected())
			t.Logf("history: %v; check: %v", sum, rep)
			if !rep.OK() {
				t.Errorf("anomalies: %v", rep)
			}
			if n, err := driver.VerifyIdemKeys(t.Context(), c, h); err != nil {
				t.Errorf("verify %d idempotency keys: %v", n, err)
			}
			atLeast(t, map[string][2]int64{
				"committed writers": {int64(sum.committedWriters), 100},
				"injected faults":   {f.Injected(), 20},
				"client errors":     {stats.Errors, 5},
			})
		})
	}
}

// TestStoreFaultsNodes is TestStoreFaults with three shim nodes on the faulty store, the
// client spreading transactions over them: commit log keys, pushes, lease renewals and
// log reads all meet failures and ambiguous writes too. Each node pushes to the others.
func TestStoreFaultsNodes(t *testing.T) {
	for name, open := range map[string]func() store.Store{
		"one-step": func() store.Store { return mem.New() },
		"two-step": func() store.Store { m := mem.New(); return orderedOnly{m, m} },
	} {
		t.Run(name, func(t *testing.T) {
			st, f := faults.Wrap(open(), faults.Options{FailRate: 0.03, AmbiguousRate: 0.03, Seed: 13})
			var urls []string
			var managers []*txn.Manager
			for _, node := range []string{"a", "b", "c"} {
				ts, m := shimtest.StartStore(t, st, txn.Config{Node: node, SettleTime: 10 * time.Millisecond, SyncInterval: 20 * time.Millisecond})
				urls = append(urls, ts.URL)
				managers = append(managers, m)
			}
			for i, m := range managers {
				p := peer.New(peer.Options{Peers: slices.Delete(slices.Clone(urls), i, i+1), Self: urls[i]})
				ctx, cancel := context.WithCancel(context.Background())
				t.Cleanup(cancel)
				go p.Run(ctx)
				m.SetPush(p.Push)
			}
			c := client.New(urls[0], client.WithNodes(urls[1:]...))
			var rec history.Recorder
			done := make(chan driver.Stats)
			go func() {
				s, err := driver.Run(t.Context(), c, &rec, driver.Options{
					Clients: 16, Txns: 3000, Duration: 2 * time.Minute, Groups: 4, GroupSize: 4, Seed: 5,
					Backoff: 5 * time.Millisecond, OpTimeout: 2 * time.Second,
				})
				if err != nil {
					t.Error(err)
				}
				done <- s
			}()
			for rec.Len() < 300 { // the outage strikes mid-load
				time.Sleep(5 * time.Millisecond)
			}
			f.SetDown(true) // an outage
			time.Sleep(300 * time.Millisecond)
			f.SetDown(false)
			stats := <-done
			f.Set(faults.Options{}) // the store is healthy again
			// Every node reads the log of what is left before Final, on any of them, reads.
			caughtUp(t.Context(), t, urls, &rec)
			if err := driver.Final(t.Context(), c, &rec); err != nil {
				t.Fatal(err)
			}
			sum, n := judge(t.Context(), t, c, &rec, stats, fmt.Sprintf("injected faults: %d", f.Injected()))
			atLeast(t, map[string][2]int64{
				"committed writers": {int64(sum.committedWriters), 100},
				"injected faults":   {f.Injected(), 20},
				"client errors":     {stats.Errors, 5},
				"keys verified":     {int64(n), 10},
			})
		})
	}
}

// orderedOnly is a shared store without a one-step commit: a commit is Put then Create.
type orderedOnly struct {
	store.Store
	store.Ordered
}
