package middleware

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aft-shim/aft/api"
	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/shim/shimtest"
	"github.com/aft-shim/aft/shim/store/mem"
	"github.com/aft-shim/aft/shim/txn"
)

// TestMiddlewareFencedNoExtraBegin: a commit fenced by another attempt of its key answers
// the winner's result from the shim's 409, without another begin: two requests of one key
// run side by side (policy run), the second commits first, and the shim sees one begin per
// attempt, two in all.
func TestMiddlewareFencedNoExtraBegin(t *testing.T) {
	var begins atomic.Int32
	h := shimtest.Open(t, mem.New(), txn.Config{}).Handler()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/txns" {
			begins.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	shim := client.New(ts.URL)

	fn, _, first, release := holdFirstCall(t, shim)
	// The first call is held while the duplicate runs: its attempt timeout must outlast the
	// duplicate on a starved machine, or the held call is retried and the counts change.
	e := newEnv(t, Config{ShimURL: ts.URL, Client: shim, Options: Options{OnRunning: OnRunningRun,
		AttemptTimeout: 30 * time.Second, Deadline: time.Minute}}, fn)
	answered := make(chan reply, 1)
	go func() { answered <- e.send("POST", "/", "same", api.HeaderIdempotencyKey, "dup") }()
	<-first
	dup := e.send("POST", "/", "same", api.HeaderIdempotencyKey, "dup")
	close(release)
	r1 := <-answered
	if dup.status != 200 || r1.status != 200 || r1.body != "count=1 by call 2" || dup.body != r1.body {
		t.Errorf("answers %d %q and %d %q, want both the winner's 200 count=1 by call 2", r1.status, r1.body, dup.status, dup.body)
	}
	if got := e.metric("aft_middleware_commits_total", "outcome", "fenced"); got != 1 {
		t.Errorf("fenced commits %v, want 1", got)
	}
	if got := begins.Load(); got != 2 {
		t.Errorf("the shim saw %d begins, want 2: one per attempt, none to find the winner", got)
	}
}
