package middleware

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aft-shim/aft/api"
	"github.com/aft-shim/aft/shim/shimtest"
)

// TestMiddlewareZombie: the first attempt outlives the attempt timeout and then succeeds;
// the retry succeeds too. Exactly one commits (the counter is incremented once), and the
// caller gets the answer of the attempt that committed, which is the stored result.
func TestMiddlewareZombie(t *testing.T) {
	for _, tc := range []struct {
		name       string
		viaProxy   bool
		winner     int    // the attempt that commits
		zombie     string // the zombie's outcome in the metrics
		retryState string // how the retry ends: committed, or aborted (cancelled, it lost)
	}{
		// The retry answers first; the zombie answers later and its commit is fenced.
		{"retry wins", false, 2, "fenced", "committed"},
		{"retry wins through a proxy", true, 2, "fenced", "committed"},
		// The zombie answers while the retry still runs: it commits, the caller gets its
		// answer at once, and the retry is cancelled and aborted.
		{"zombie wins", false, 1, "committed", "aborted"},
		{"zombie wins through a proxy", true, 1, "committed", "aborted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			shimURL, shim := newShim(t)
			var (
				calls        atomic.Int32
				mu           sync.Mutex
				release      = map[int]chan struct{}{1: make(chan struct{}), 2: make(chan struct{})}
				retryStarted = make(chan struct{})
				retryEnded   = make(chan string, 2)
			)
			fn := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				n := attemptOf(r)
				bodyOf(r) // (a server notices a closed connection only once the body is read)
				count, err := shimtest.Incr(shim, r, "count")
				if err != nil {
					http.Error(w, err.Error(), http.StatusInternalServerError)
					return
				}
				if n == 2 {
					close(retryStarted)
				}
				mu.Lock()
				ch := release[n]
				mu.Unlock()
				select {
				case <-ch:
				case <-r.Context().Done():
					retryEnded <- "cancelled"
					return
				case <-time.After(5 * time.Second):
					t.Errorf("attempt %d never released", n)
					retryEnded <- "not released"
				}
				w.Header().Set("X-Attempt", fmt.Sprint(n))
				fmt.Fprintf(w, "count=%d by attempt %d", count, n)
			})
			var next http.Handler = fn
			if tc.viaProxy {
				next = proxyTo(t, fn)
			}
			// Attempt 1 is held until the test releases it, so it times out however long
			// the timeout; the timeout also bounds attempt 2 (its Incr, and its answer, or
			// the zombie's commit, once released), which a slow machine must fit in.
			e := newEnv(t, Config{ShimURL: shimURL, Client: shim, Options: Options{AttemptTimeout: time.Second, Deadline: 5 * time.Second}}, next)

			answered := make(chan reply, 1)
			go func() { answered <- e.send("POST", "/z", "body", api.HeaderIdempotencyKey, "zombie-1") }()
			<-retryStarted // attempt 1 timed out and runs on as a zombie; attempt 2 runs
			var r reply
			if tc.winner == 2 {
				close(release[2])
				r = <-answered
				close(release[1]) // the zombie answers after the caller got the retry's answer
			} else {
				close(release[1]) // the zombie answers while the retry runs
				r = <-answered
				if got := <-retryEnded; got != "cancelled" {
					t.Errorf("retry %s, want cancelled", got)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := e.mw.Wait(ctx); err != nil {
				t.Fatal(err)
			}

			want := fmt.Sprintf("count=1 by attempt %d", tc.winner)
			if r.status != 200 || r.body != want || r.attempts() != fmt.Sprint(tc.winner) || r.header.Get("X-Attempt") != fmt.Sprint(tc.winner) {
				t.Errorf("answer %d %q attempts %s, want 200 %q attempts %d", r.status, r.body, r.attempts(), want, tc.winner)
			}
			if got := read(t, shim, "count")[0]; got != "1" {
				t.Errorf("count = %q, want 1: one commit", got)
			}
			res, ok := storedResult(t, shim, "zombie-1")
			if !ok || string(res.Body) != r.body {
				t.Errorf("stored result %q (committed %v), the caller got %q", res.Body, ok, r.body)
			}
			if calls.Load() != 2 {
				t.Errorf("%d calls, want 2", calls.Load())
			}
			if got := e.metric("aft_middleware_zombie_commits_total", "outcome", tc.zombie); got != 1 {
				t.Errorf("zombie commits %s: %v, want 1", tc.zombie, got)
			}
			if got := e.metric("aft_middleware_zombies"); got != 0 {
				t.Errorf("zombies gauge %v after the end", got)
			}
			if tc.retryState == "aborted" {
				if got := e.metric("aft_middleware_aborts_total", "reason", "winner"); got != 1 {
					t.Errorf("retry aborts (winner) %v, want 1", got)
				}
			}
			if got := e.metric("aft_middleware_dead_requests_total"); got != 0 {
				t.Errorf("dead requests %v, want 0", got)
			}
		})
	}
}

// TestMiddlewareZombieBound: with no zombie slot left, a timed-out attempt is cancelled
// and aborted instead of running on.
func TestMiddlewareZombieBound(t *testing.T) {
	var cancelled atomic.Int32
	fn := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if attemptOf(r) == 1 {
			select {
			case <-r.Context().Done():
				cancelled.Add(1)
				return
			case <-time.After(5 * time.Second):
			}
		}
		fmt.Fprint(w, "ok")
	})
	// Attempt 1 waits to be cancelled; attempt 2 must answer within the timeout, which is
	// room for a slow machine.
	e := newEnv(t, Config{MaxZombies: -1, Options: Options{AttemptTimeout: time.Second}}, fn)
	r := e.send("POST", "/", "", api.HeaderIdempotencyKey, "k")
	if r.status != 200 || r.attempts() != "2" {
		t.Errorf("answer %d attempts %s, want 200 after 2", r.status, r.attempts())
	}
	eventually(t, "attempt 1 cancelled", func() bool { return cancelled.Load() == 1 })
	eventually(t, "attempt 1 aborted", func() bool { return e.metric("aft_middleware_aborts_total", "reason", "timeout") == 1 })
	if got := e.metric("aft_middleware_zombie_commits_total"); got != 0 {
		t.Errorf("zombie commits %v, want none", got)
	}
}

// TestMiddlewareOnRunning: a duplicate that arrives while its key runs here: run (first
// commit wins), wait (answer the running one's outcome) or refuse (409).
func TestMiddlewareOnRunning(t *testing.T) {
	type want struct {
		Status   int
		Code     string
		Replayed bool
		Calls    int32
	}
	for _, tc := range []struct {
		policy OnRunning
		body   string // of the duplicate
		want   want
	}{
		{OnRunningRun, "same", want{200, "", false, 2}},
		{OnRunningWait, "same", want{200, "", true, 1}},
		{OnRunningRefuse, "same", want{409, api.CodeRequestInProgress, false, 1}},
		{OnRunningRun, "other", want{422, api.CodeIdempotencyKeyReused, false, 1}},
		{OnRunningWait, "other", want{422, api.CodeIdempotencyKeyReused, false, 1}},
	} {
		t.Run(fmt.Sprintf("%s %s", tc.policy, tc.body), func(t *testing.T) {
			shimURL, shim := newShim(t)
			fn, calls, first, release := holdFirstCall(t, shim)
			// The first call is held while the test waits (up to 5s) for the duplicate: it
			// must not time out and be retried meanwhile.
			e := newEnv(t, Config{ShimURL: shimURL, Client: shim, Options: Options{OnRunning: tc.policy,
				AttemptTimeout: 30 * time.Second, Deadline: time.Minute}}, fn)
			answered := make(chan reply, 1)
			go func() { answered <- e.send("POST", "/", "same", api.HeaderIdempotencyKey, "dup") }()
			<-first
			dupAnswered := make(chan reply, 1)
			go func() { dupAnswered <- e.send("POST", "/", tc.body, api.HeaderIdempotencyKey, "dup") }()
			// Let the duplicate arrive (and, under run, its attempt finish) before the first
			// goes on.
			eventually(t, "the duplicate counted", func() bool {
				return e.metric("aft_middleware_running_duplicates_total")+e.metric("aft_middleware_invocations_total", "outcome", "rejected") >= 1
			})
			if tc.policy == OnRunningRun && tc.body == "same" {
				eventually(t, "the duplicate's attempt committed", func() bool { return e.metric("aft_middleware_commits_total") == 1 })
			}
			close(release)
			r1, dup := <-answered, <-dupAnswered

			got := want{dup.status, dup.code, dup.replayed(), calls.Load()}
			if got != tc.want {
				t.Errorf("duplicate answered %+v, want %+v (body %q)", got, tc.want, dup.body)
			}
			if r1.status != 200 {
				t.Errorf("first answered %d %q", r1.status, r1.body)
			}
			if dup.status == 200 && dup.body != r1.body {
				t.Errorf("answers differ: %q and %q", r1.body, dup.body)
			}
			if got := read(t, shim, "count")[0]; got != "1" {
				t.Errorf("count = %q, want 1", got)
			}
			if tc.policy == OnRunningRun && tc.body == "same" {
				// The duplicate committed first; the first request's commit was fenced and
				// it answered the winner's result.
				if r1.body != "count=1 by call 2" || e.metric("aft_middleware_commits_total", "outcome", "fenced") != 1 {
					t.Errorf("first answered %q, fenced commits %v", r1.body, e.metric("aft_middleware_commits_total", "outcome", "fenced"))
				}
			}
		})
	}
}

// TestMiddlewareZombieAfterLastAttempt: when the last attempt fails while a zombie of the
// request still runs, the middleware waits for it (within the deadline): the zombie
// commits, the caller gets its answer, and nothing is recorded as dead.
func TestMiddlewareZombieAfterLastAttempt(t *testing.T) {
	var e *env
	fn := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if attemptOf(r) == 1 {
			// Past the attempt timeout, and past the last attempt's failure, however
			// slow the machine.
			deadline := time.Now().Add(5 * time.Second)
			for e.metric("aft_middleware_aborts_total", "reason", "status") != 1 {
				if time.Now().After(deadline) {
					t.Error("the last attempt was not aborted within 5s")
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			fmt.Fprint(w, "late but fine")
			return
		}
		http.Error(w, "retry broke", http.StatusInternalServerError)
	})
	e = newEnv(t, Config{Options: Options{Attempts: 2, AttemptTimeout: time.Second, Deadline: 10 * time.Second}}, fn)
	r := e.send("POST", "/", "", api.HeaderIdempotencyKey, "late")
	if r.status != 200 || r.body != "late but fine" || r.attempts() != "1" {
		t.Errorf("answer %d %q attempts %s, want the zombie's 200 \"late but fine\" attempts 1", r.status, r.body, r.attempts())
	}
	if got := e.metric("aft_middleware_dead_requests_total"); got != 0 {
		t.Errorf("dead requests %v, want 0", got)
	}
	if got := e.metric("aft_middleware_zombie_commits_total", "outcome", "committed"); got != 1 {
		t.Errorf("zombie commits %v, want 1", got)
	}
}
