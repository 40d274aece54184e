package workloads

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeFunction answers the nth request (from 1) as answer says; it counts requests
// received and requests finished. release is closed by the test once the invoker is done
// with the request, for an answer that must outlast the platform's patience.
type fakeFunction struct {
	answer        func(n int, w http.ResponseWriter, release <-chan struct{})
	release       chan struct{}
	got, finished atomic.Int64
	mu            sync.Mutex
	headers       []http.Header
}

func (f *fakeFunction) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := int(f.got.Add(1))
	f.mu.Lock()
	f.headers = append(f.headers, r.Header.Clone())
	f.mu.Unlock()
	defer f.finished.Add(1)
	f.answer(n, w, f.release)
}

func TestInvoker(t *testing.T) {
	status := func(codes ...int) func(int, http.ResponseWriter, <-chan struct{}) {
		return func(n int, w http.ResponseWriter, _ <-chan struct{}) {
			w.WriteHeader(codes[min(n, len(codes))-1])
		}
	}
	// heldFirst holds the first delivery until invoke has returned, so the platform gives
	// up on it (by Timeout or AckWait) however slow the machine is; it then answers 200,
	// and still runs to its end. A platform that never gives up is caught by the bound:
	// the first delivery is then acked and the counts are wrong.
	heldFirst := func(n int, w http.ResponseWriter, release <-chan struct{}) {
		if n == 1 {
			select {
			case <-release:
			case <-time.After(20 * time.Second):
			}
		}
	}
	tests := []struct {
		name      string
		p         Platform
		answer    func(int, http.ResponseWriter, <-chan struct{})
		acked     bool
		delivered int64 // deliveries the invoker counts, and the function receives
	}{
		{"ok at once", Platform{}, status(200), true, 1},
		{"5xx and 429 retried", Platform{Attempts: 4}, status(503, 429, 200), true, 3},
		{"4xx is final", Platform{Attempts: 4}, status(404, 200), false, 1},
		{"out of attempts", Platform{Attempts: 2}, status(500), false, 2},
		{"broken connection retried, not replayed by net/http", Platform{Attempts: 3},
			func(n int, w http.ResponseWriter, _ <-chan struct{}) {
				if n == 1 {
					panic(http.ErrAbortHandler)
				}
			}, true, 2},
		// Timeout also bounds the second delivery, which opens a new connection: a second
		// is room for a slow machine, and the first delivery times out whatever it is.
		{"timeout retried while the first runs on", Platform{Attempts: 3, Timeout: time.Second},
			heldFirst, true, 2},
		{"ack_wait redelivers beside the first", Platform{Attempts: 1, AckWait: 30 * time.Millisecond, Redeliveries: 1},
			heldFirst, true, 2},
		{"sequential duplicate", Platform{Duplicate: func(int) (bool, time.Duration) { return true, -1 }}, status(200), true, 2},
		{"concurrent duplicate", Platform{Duplicate: func(int) (bool, time.Duration) { return true, 0 }}, status(200), true, 2},
		{"duplicate of a failure still acks", Platform{Attempts: 1, Duplicate: func(int) (bool, time.Duration) { return true, -1 }},
			status(500, 200), true, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeFunction{answer: tc.answer, release: make(chan struct{})}
			srv := httptest.NewServer(f)
			defer srv.Close()
			p := tc.p
			p.Backoff = time.Millisecond
			inv := &invoker{p: p.withDefaults(), hc: srv.Client(), route: func(string) string { return srv.URL }}
			d := delivery{fn: "f", body: []byte(`{}`), header: p.header("run:s0-r0", "s0")}
			if got := inv.invoke(context.Background(), d, 0); got != tc.acked {
				t.Errorf("acked = %v, want %v", got, tc.acked)
			}
			close(f.release)
			inv.wg.Wait()
			deadline := time.Now().Add(2 * time.Second)
			for f.finished.Load() < f.got.Load() && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if n := inv.deliveries.Load(); n != tc.delivered || f.got.Load() != tc.delivered {
				t.Errorf("invoker counted %d deliveries, the function got %d; want %d", n, f.got.Load(), tc.delivered)
			}
			if f.finished.Load() != f.got.Load() {
				t.Errorf("%d of %d executions finished: the platform's timeout must not stop the function", f.finished.Load(), f.got.Load())
			}
		})
	}
}

func TestIdentityHeaders(t *testing.T) {
	tests := []struct {
		id   Identity
		want map[string]string
	}{
		{IdempotencyKey, map[string]string{"Idempotency-Key": "run:s1-r2"}},
		{CallID, map[string]string{"X-Call-Id": "run:s1-r2"}},
		{CloudEvent, map[string]string{"Ce-Id": "run:s1-r2", "Ce-Source": "/workloads/s1", "Ce-Specversion": "1.0"}},
	}
	for _, tc := range tests {
		h := Platform{Identity: tc.id}.header(requestID("run", 1, 2), "s1")
		for k, v := range tc.want {
			if h.Get(k) != v {
				t.Errorf("identity %d: %s = %q, want %q", tc.id, k, h.Get(k), v)
			}
		}
		if len(h) != len(tc.want) && tc.id != CloudEvent {
			t.Errorf("identity %d: headers %v", tc.id, h)
		}
	}
}

func TestNoPodRefused(t *testing.T) {
	inv := &invoker{p: Platform{Attempts: 2, Backoff: time.Millisecond}.withDefaults(), hc: http.DefaultClient,
		route: func(string) string { return "" }}
	if inv.invoke(context.Background(), delivery{fn: "f", body: []byte(`{}`)}, 0) {
		t.Error("acked without a pod")
	}
	if n := inv.deliveries.Load(); n != 2 {
		t.Errorf("%d deliveries, want 2", n)
	}
}
