package middleware

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aft-shim/aft/api"
	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/middleware/dlq"
	"github.com/aft-shim/aft/shim/shimtest"
	"github.com/google/go-cmp/cmp"
)

// TestMiddlewareCrashBetweenWrites: a function writes a counter and two keys in its
// transaction and crashes between the two writes on its first attempt. The caller gets
// one 2xx, the counter is incremented once, and concurrent readers never see one key
// without the other.
func TestMiddlewareCrashBetweenWrites(t *testing.T) {
	for _, tc := range []struct {
		name     string
		crash    func(w http.ResponseWriter)
		viaProxy bool
	}{
		{"500", func(w http.ResponseWriter) { http.Error(w, "crashed", http.StatusInternalServerError) }, false},
		{"panic", func(w http.ResponseWriter) { panic("crash between the writes") }, false},
		{"500 through a proxy", func(w http.ResponseWriter) { http.Error(w, "crashed", http.StatusInternalServerError) }, true},
		{"connection abort through a proxy", func(w http.ResponseWriter) { panic(http.ErrAbortHandler) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			shimURL, shim := newShim(t)
			var calls atomic.Int32
			entered := make(chan struct{}, 4)
			fn := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				entered <- struct{}{}
				id := r.Header.Get(api.HeaderTxnID)
				n, err := shimtest.Incr(shim, r, "count")
				if err != nil {
					http.Error(w, err.Error(), http.StatusInternalServerError)
					return
				}
				v := fmt.Sprintf("v%d-attempt%d", n, attemptOf(r))
				if err := shim.Put(r.Context(), id, "a", []byte(v)); err != nil {
					http.Error(w, err.Error(), http.StatusInternalServerError)
					return
				}
				time.Sleep(20 * time.Millisecond) // let the readers look between the writes
				if attemptOf(r) == 1 {
					tc.crash(w)
					return
				}
				if err := shim.Put(r.Context(), id, "b", []byte(v)); err != nil {
					http.Error(w, err.Error(), http.StatusInternalServerError)
					return
				}
				fmt.Fprintf(w, "count=%d", n)
			})
			var next http.Handler = fn
			if tc.viaProxy {
				next = proxyTo(t, fn)
			}
			e := newEnv(t, Config{ShimURL: shimURL, Client: shim}, next)

			// Readers read a and b in one transaction each, until the request is answered.
			stop := make(chan struct{})
			var wg sync.WaitGroup
			var reads, fractured atomic.Int64
			var readErr atomic.Value
			for range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < 100_000; i++ {
						select {
						case <-stop:
							return
						default:
						}
						a, b, err := readPair(shim, "a", "b")
						if err != nil {
							readErr.Store(err)
							return
						}
						reads.Add(1)
						if a != b {
							fractured.Add(1)
							readErr.Store(fmt.Errorf("fractured read: a=%q b=%q", a, b))
						}
					}
				}()
			}
			answered := make(chan reply, 1)
			go func() { answered <- e.send("POST", "/work", "payload", api.HeaderIdempotencyKey, "crash-1") }()
			<-entered
			readsBefore := reads.Load()
			r := <-answered
			close(stop)
			wg.Wait()

			if r.status != http.StatusOK || r.body != "count=1" || r.attempts() != "2" {
				t.Errorf("answer %d %q attempts %s, want 200 \"count=1\" attempts 2", r.status, r.body, r.attempts())
			}
			if got := calls.Load(); got != 2 {
				t.Errorf("function called %d times, want 2", got)
			}
			if diff := cmp.Diff([]string{"1", "v1-attempt2", "v1-attempt2"}, read(t, shim, "count", "a", "b")); diff != "" {
				t.Errorf("keys (-want +got):\n%s", diff)
			}
			if err, _ := readErr.Load().(error); err != nil {
				t.Error(err)
			}
			t.Logf("%d reads, %d of them while the request ran, %d fractured", reads.Load(), reads.Load()-readsBefore, fractured.Load())

			// The same key again: the stored result, nothing runs.
			r2 := e.send("POST", "/work", "payload", api.HeaderIdempotencyKey, "crash-1")
			if r2.status != http.StatusOK || r2.body != "count=1" || !r2.replayed() {
				t.Errorf("duplicate: %d %q replayed=%v, want 200 \"count=1\" replayed", r2.status, r2.body, r2.replayed())
			}
			if got := calls.Load(); got != 2 {
				t.Errorf("function called %d times after the duplicate, want 2", got)
			}
			if got := e.metric("aft_middleware_retries_total", "function", "fn"); got != 1 {
				t.Errorf("retries metric %v, want 1", got)
			}
		})
	}
}

// readPair reads two keys in one transaction; a missing key reads as "".
func readPair(c *client.Client, k1, k2 string) (string, string, error) {
	ctx := context.Background()
	tx, err := c.Begin(ctx, "")
	if err != nil {
		return "", "", err
	}
	defer c.Abort(ctx, tx.ID)
	var out [2]string
	for i, k := range []string{k1, k2} {
		v, err := c.Get(ctx, tx.ID, k)
		if errors.Is(err, client.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return "", "", err
		}
		out[i] = string(v.Bytes)
	}
	return out[0], out[1], nil
}

// TestMiddlewareDuplicates: the same key again answers the stored result with
// X-Aft-Replayed, without calling the function; the key with another request is 422, also
// at another middleware instance (the fingerprint is in the stored result).
func TestMiddlewareDuplicates(t *testing.T) {
	shimURL, shim := newShim(t)
	var calls atomic.Int32
	fn := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		n, err := shimtest.Incr(shim, r, "orders")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Order", fmt.Sprint(n))
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "order %d for %s", n, bodyOf(r))
	})
	e := newEnv(t, Config{ShimURL: shimURL, Client: shim}, fn)
	first := e.send("POST", "/orders?shop=1", "apples", api.HeaderIdempotencyKey, "order-1")
	if first.status != http.StatusCreated || first.body != "order 1 for apples" || first.replayed() || first.attempts() != "1" {
		t.Fatalf("first: %d %q replayed=%v attempts=%s", first.status, first.body, first.replayed(), first.attempts())
	}
	other := newEnv(t, Config{ShimURL: shimURL, Client: shim}, fn) // a second instance, or this one restarted

	type want struct {
		status   int
		code     string
		replayed bool
	}
	for _, tc := range []struct {
		name         string
		at           *env
		method, path string
		body         string
		want         want
	}{
		{"same request", e, "POST", "/orders?shop=1", "apples", want{http.StatusCreated, "", true}},
		{"same request at another instance", other, "POST", "/orders?shop=1", "apples", want{http.StatusCreated, "", true}},
		{"another body", e, "POST", "/orders?shop=1", "pears", want{http.StatusUnprocessableEntity, api.CodeIdempotencyKeyReused, false}},
		{"another body at another instance", other, "POST", "/orders?shop=1", "pears", want{http.StatusUnprocessableEntity, api.CodeIdempotencyKeyReused, false}},
		{"another path", e, "POST", "/refunds?shop=1", "apples", want{http.StatusUnprocessableEntity, api.CodeIdempotencyKeyReused, false}},
		{"another method", e, "PUT", "/orders?shop=1", "apples", want{http.StatusUnprocessableEntity, api.CodeIdempotencyKeyReused, false}},
		{"another query", e, "POST", "/orders?shop=2", "apples", want{http.StatusUnprocessableEntity, api.CodeIdempotencyKeyReused, false}},
		{"another query at another instance", other, "POST", "/orders?shop=2", "apples", want{http.StatusUnprocessableEntity, api.CodeIdempotencyKeyReused, false}},
		{"no query", e, "POST", "/orders", "apples", want{http.StatusUnprocessableEntity, api.CodeIdempotencyKeyReused, false}},
		{"the query in another order", e, "POST", "/orders?shop=1&a=b", "apples", want{http.StatusUnprocessableEntity, api.CodeIdempotencyKeyReused, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.at.send(tc.method, tc.path, tc.body, api.HeaderIdempotencyKey, "order-1")
			if diff := cmp.Diff(tc.want, want{r.status, r.code, r.replayed()}, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("(-want +got):\n%s\nbody %q", diff, r.body)
			}
			if tc.want.replayed {
				if r.body != first.body || r.header.Get("X-Order") != "1" || r.header.Get("Content-Type") != "text/plain; charset=utf-8" || r.attempts() != "1" {
					t.Errorf("replayed answer %q X-Order=%q Content-Type=%q attempts=%s differs from the first",
						r.body, r.header.Get("X-Order"), r.header.Get("Content-Type"), r.attempts())
				}
			}
		})
	}
	if got := calls.Load(); got != 1 {
		t.Errorf("function called %d times, want 1", got)
	}
	if got := read(t, shim, "orders")[0]; got != "1" {
		t.Errorf("orders = %q, want 1", got)
	}
	if got := e.metric("aft_middleware_replayed_total"); got != 1 {
		t.Errorf("replayed metric %v, want 1", got)
	}
}

// TestMiddlewareFingerprintWithoutQuery: a result stored before the query was part of the
// fingerprint (no "query" field) is answered to a retry whatever its query, as when it was
// stored; the rest of the fingerprint still holds.
func TestMiddlewareFingerprintWithoutQuery(t *testing.T) {
	shimURL, shim := newShim(t)
	ctx := context.Background()
	tx, err := shim.Begin(ctx, "old-1")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("apples"))
	old := `AFT-RESULT 1` + "\n" +
		`{"status":201,"attempts":1,"request":{"function":"fn","method":"POST","path":"/orders","body_sha256":"` + hex.EncodeToString(sum[:]) + `"},"body_bytes":5,"body_sha256":""}` + "\n" + "stored"
	if _, err := shim.Commit(ctx, tx.ID, []byte(old)); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, Config{ShimURL: shimURL, Client: shim}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("the function ran")
	}))
	if r := e.send("POST", "/orders?shop=1", "apples", api.HeaderIdempotencyKey, "old-1"); r.status != 201 || !r.replayed() || r.body != "stored" {
		t.Errorf("retry with a query = %d %q replayed %v, want the stored 201", r.status, r.body, r.replayed())
	}
	if r := e.send("POST", "/refunds?shop=1", "apples", api.HeaderIdempotencyKey, "old-1"); r.status != 422 || r.code != api.CodeIdempotencyKeyReused {
		t.Errorf("another path = %d %q, want 422 %s", r.status, r.body, api.CodeIdempotencyKeyReused)
	}
}

// TestMiddlewareOutcomes: which answers of the function commit, which retry and which
// pass through.
func TestMiddlewareOutcomes(t *testing.T) {
	for _, tc := range []struct {
		status    int
		calls     int
		committed bool
	}{
		{http.StatusOK, 1, true},
		{http.StatusCreated, 1, true},
		{http.StatusNoContent, 1, true},
		{http.StatusSeeOther, 1, true},
		{http.StatusBadRequest, 1, false},
		{http.StatusNotFound, 1, false},
		{http.StatusConflict, 1, false},
		{http.StatusUnprocessableEntity, 1, false},
		{http.StatusRequestTimeout, 3, false},
		{http.StatusTooManyRequests, 3, false},
		{http.StatusInternalServerError, 3, false},
		{http.StatusBadGateway, 3, false},
		{http.StatusServiceUnavailable, 3, false},
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			shimURL, shim := newShim(t)
			var calls atomic.Int32
			fn := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				if _, err := shimtest.Incr(shim, r, "count"); err != nil {
					http.Error(w, err.Error(), http.StatusInternalServerError)
					return
				}
				w.Header().Set("Location", "/elsewhere")
				w.WriteHeader(tc.status)
				fmt.Fprintf(w, "answer of attempt %d", attemptOf(r))
			})
			e := newEnv(t, Config{ShimURL: shimURL, Client: shim}, fn)
			r := e.send("POST", "/", "x", api.HeaderIdempotencyKey, "k")
			wantBody := fmt.Sprintf("answer of attempt %d", tc.calls)
			if tc.status == http.StatusNoContent {
				wantBody = ""
			}
			if r.status != tc.status || r.body != wantBody || r.attempts() != fmt.Sprint(tc.calls) {
				t.Errorf("answer %d %q attempts %s, want %d %q attempts %d", r.status, r.body, r.attempts(), tc.status, wantBody, tc.calls)
			}
			if got := int(calls.Load()); got != tc.calls {
				t.Errorf("function called %d times, want %d", got, tc.calls)
			}
			wantCount := ""
			if tc.committed {
				wantCount = "1"
			}
			if got := read(t, shim, "count")[0]; got != wantCount {
				t.Errorf("count = %q, want %q", got, wantCount)
			}
			if _, ok := storedResult(t, shim, "k"); ok != tc.committed {
				t.Errorf("key committed: %v, want %v", ok, tc.committed)
			}
			entries, err := dlq.List(context.Background(), shim)
			if err != nil {
				t.Fatal(err)
			}
			if dead := tc.calls == 3; len(entries) != map[bool]int{false: 0, true: 1}[dead] {
				t.Errorf("%d dead-letter entries, want dead=%v", len(entries), dead)
			}
		})
	}
}

// TestMiddlewareDeadLetters: retries exhausted give the caller the last error and a
// dead-letter entry; replaying it against the healed function commits once and removes
// it.
func TestMiddlewareDeadLetters(t *testing.T) {
	shimURL, shim := newShim(t)
	var healthy atomic.Bool
	var calls atomic.Int32
	fn := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		n, err := shimtest.Incr(shim, r, "count")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if !healthy.Load() {
			http.Error(w, fmt.Sprintf("boom %d", attemptOf(r)), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "count=%d body=%s q=%s auth=%s", n, bodyOf(r), r.URL.RawQuery, r.Header.Get("Authorization"))
	})
	e := newEnv(t, Config{ShimURL: shimURL, Client: shim, Options: Options{Function: "payments"}}, fn)
	r := e.send("POST", "/pay?amount=3", "card=4242", api.HeaderIdempotencyKey, "pay/1", "X-Trace", "t1", "Authorization", "secret")
	if r.status != http.StatusServiceUnavailable || r.body != "boom 3\n" || r.attempts() != "3" {
		t.Fatalf("answer %d %q attempts %s, want the last error: 503 \"boom 3\" attempts 3", r.status, r.body, r.attempts())
	}
	ctx := context.Background()
	entries, err := dlq.List(ctx, shim)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("%d dead-letter entries, want 1", len(entries))
	}
	got := entries[0]
	if got.Time.IsZero() || time.Since(got.Time) > time.Minute {
		t.Errorf("entry time %v", got.Time)
	}
	got.Time = time.Time{}
	want := dlq.Entry{Key: "pay/1", Function: "payments", Attempts: 3,
		LastError: "function answered 503 Service Unavailable: boom 3",
		Request:   dlq.Request{Method: "POST", URL: "/pay?amount=3", Body: []byte("card=4242"), Header: got.Request.Header}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("entry (-want +got):\n%s", diff)
	}
	if h := got.Request.Header; h.Get("X-Trace") != "t1" || h.Get("Idempotency-Key") != "pay/1" || h.Get("Authorization") != "" {
		t.Errorf("stored headers %v: want X-Trace and Idempotency-Key, and no Authorization", h)
	}
	if _, err := dlq.Get(ctx, shim, "pay/1"); err != nil {
		t.Errorf("get: %v", err)
	}
	if got := e.metric("aft_middleware_dead_requests_total", "function", "payments"); got != 1 {
		t.Errorf("dead metric %v, want 1", got)
	}

	// Replay while still broken: the entry stays.
	if status, err := dlq.Replay(ctx, shim, e.front.URL, entries[0], dlq.ReplayOptions{}); err == nil || status != http.StatusServiceUnavailable {
		t.Errorf("replay against the broken function: %d, %v; want 503 and an error", status, err)
	}
	healthy.Store(true)
	calls.Store(0)
	status, err := dlq.Replay(ctx, shim, e.front.URL, entries[0], dlq.ReplayOptions{Header: http.Header{"Authorization": {"again"}}})
	if err != nil || status != http.StatusOK {
		t.Fatalf("replay: %d, %v", status, err)
	}
	if left, err := dlq.List(ctx, shim); err != nil || len(left) != 0 {
		t.Errorf("after replay: %d entries, %v; want none", len(left), err)
	}
	if _, err := dlq.Get(ctx, shim, "pay/1"); !errors.Is(err, dlq.ErrNotFound) {
		t.Errorf("get after replay: %v, want ErrNotFound", err)
	}
	res, ok := storedResult(t, shim, "pay/1")
	if !ok || string(res.Body) != "count=1 body=card=4242 q=amount=3 auth=again" || calls.Load() != 1 {
		t.Errorf("stored result %q (committed %v), %d calls; want count=1 with the request's body and query, 1 call", res.Body, ok, calls.Load())
	}
}

// TestMiddlewareTimeoutsExhausted: attempts that all time out give 504 attempt_timeout
// and a dead letter; with no zombie slots they are cancelled and aborted.
func TestMiddlewareTimeoutsExhausted(t *testing.T) {
	var calls, cancelled atomic.Int32
	fn := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		select {
		case <-r.Context().Done():
			cancelled.Add(1)
		case <-time.After(5 * time.Second):
		}
	})
	// Both attempts wait to be cancelled: the deadline is room for two timeouts and the
	// backoff on a slow machine, so that the second attempt runs and times out.
	e := newEnv(t, Config{MaxZombies: -1, Options: Options{Attempts: 2, AttemptTimeout: 50 * time.Millisecond, Deadline: 5 * time.Second}}, fn)
	r := e.send("GET", "/slow", "", api.HeaderIdempotencyKey, "slow")
	if r.status != http.StatusGatewayTimeout || r.code != api.CodeAttemptTimeout || r.attempts() != "2" {
		t.Errorf("answer %d %s attempts %s, want 504 attempt_timeout attempts 2", r.status, r.code, r.attempts())
	}
	eventually(t, "both attempts cancelled", func() bool { return cancelled.Load() == 2 })
	eventually(t, "both attempts aborted", func() bool { return e.metric("aft_middleware_aborts_total", "reason", "timeout") == 2 })
	es, err := dlq.List(context.Background(), e.shim)
	if err != nil || len(es) != 1 || !strings.Contains(es[0].LastError, "attempt 2 gave no answer") {
		t.Errorf("dead letters %+v, %v", es, err)
	}
}

// TestMiddlewareShimUnavailable: when the shim does not answer, or answers 5xx, the
// function never runs: 503 shim_unavailable.
func TestMiddlewareShimUnavailable(t *testing.T) {
	down := newDownShim(t)
	broken := newBrokenShim(t)
	for _, tc := range []struct{ name, url string }{{"no answer", down}, {"500", broken}} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			fn := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) })
			e := newEnv(t, Config{ShimURL: tc.url, Client: client.New(tc.url)}, fn)
			for _, h := range [][]string{{api.HeaderIdempotencyKey, "k"}, nil, {api.HeaderTxnID, "0123456789abcdef0123456789abcdef"}} {
				r := e.send("POST", "/", "x", h...)
				if r.status != http.StatusServiceUnavailable || r.code != api.CodeShimUnavailable {
					t.Errorf("headers %q: %d %s, want 503 shim_unavailable", h, r.status, r.code)
				}
			}
			if calls.Load() != 0 {
				t.Errorf("function called %d times without a transaction", calls.Load())
			}
		})
	}
}

// TestMiddlewareBadRequests: malformed and oversized keys are 400, oversized bodies 413;
// the function does not run.
func TestMiddlewareBadRequests(t *testing.T) {
	var calls atomic.Int32
	fn := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) })
	e := newEnv(t, Config{Options: Options{MaxRequestBytes: 10}}, fn)
	long := strings.Repeat("k", MaxKeyBytes)
	for _, tc := range []struct {
		name   string
		body   string
		header []string
		status int
		code   string
	}{
		{"empty key", "", []string{api.HeaderIdempotencyKey, ""}, 400, api.CodeBadIdempotencyKey},
		{"257-byte key", "", []string{api.HeaderIdempotencyKey, long + "k"}, 400, api.CodeBadIdempotencyKey},
		{"two keys", "", []string{api.HeaderIdempotencyKey, "a", api.HeaderIdempotencyKey, "b"}, 400, api.CodeBadIdempotencyKey},
		{"empty call id", "", []string{api.HeaderCallID, ""}, 400, api.CodeBadIdempotencyKey},
		{"257-byte call id", "", []string{api.HeaderCallID, long + "k"}, 400, api.CodeBadIdempotencyKey},
		{"cloudevent without id", "", []string{api.HeaderCESource, "/s", api.HeaderCEID, ""}, 400, api.CodeBadIdempotencyKey},
		{"cloudevent too long", "", []string{api.HeaderCESource, long, api.HeaderCEID, "1"}, 400, api.CodeBadIdempotencyKey},
		{"body too large", "01234567890", []string{api.HeaderIdempotencyKey, "big"}, 413, api.CodeRequestTooLarge},
		{"256-byte key", "", []string{api.HeaderIdempotencyKey, long}, 200, ""},
		{"body at the limit", "0123456789", []string{api.HeaderIdempotencyKey, "limit"}, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := calls.Load()
			r := e.send("POST", "/", tc.body, tc.header...)
			if r.status != tc.status || r.code != tc.code {
				t.Errorf("%d %q, want %d %q (body %q)", r.status, r.code, tc.status, tc.code, r.body)
			}
			if ran := calls.Load() - before; (ran == 1) != (tc.status == 200) {
				t.Errorf("function ran %d times", ran)
			}
		})
	}
}

// TestMiddlewareIdentity: X-Call-Id and CloudEvents ids identify a request like
// Idempotency-Key does; requests without any identity each run.
func TestMiddlewareIdentity(t *testing.T) {
	for _, tc := range []struct {
		name       string
		first, dup []string
		replayed   bool
	}{
		{"utf-8 key", []string{api.HeaderIdempotencyKey, "ключ 🔑"}, []string{api.HeaderIdempotencyKey, "ключ 🔑"}, true},
		{"call id", []string{api.HeaderCallID, "c-1"}, []string{api.HeaderCallID, "c-1"}, true},
		{"call id as idempotency key", []string{api.HeaderCallID, "c-1"}, []string{api.HeaderIdempotencyKey, "c-1"}, true},
		{"idempotency key before call id", []string{api.HeaderIdempotencyKey, "k", api.HeaderCallID, "c-1"}, []string{api.HeaderCallID, "c-2", api.HeaderIdempotencyKey, "k"}, true},
		{"another call id", []string{api.HeaderCallID, "c-1"}, []string{api.HeaderCallID, "c-2"}, false},
		{"cloudevent", []string{api.HeaderCESource, "/orders", api.HeaderCEID, "42"}, []string{api.HeaderCESource, "/orders", api.HeaderCEID, "42"}, true},
		{"cloudevent, another id", []string{api.HeaderCESource, "/orders", api.HeaderCEID, "42"}, []string{api.HeaderCESource, "/orders", api.HeaderCEID, "43"}, false},
		{"cloudevent, another source", []string{api.HeaderCESource, "/orders", api.HeaderCEID, "42"}, []string{api.HeaderCESource, "/refunds", api.HeaderCEID, "42"}, false},
		{"cloudevent id alone", []string{api.HeaderCEID, "42"}, []string{api.HeaderCEID, "42"}, false},
		{"none", nil, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			fn := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, calls.Add(1)) })
			e := newEnv(t, Config{}, fn)
			first := e.send("POST", "/", "event", tc.first...)
			dup := e.send("POST", "/", "event", tc.dup...)
			if first.status != 200 || dup.status != 200 || dup.replayed() != tc.replayed {
				t.Fatalf("first %d, duplicate %d replayed=%v; want 200, 200 replayed=%v", first.status, dup.status, dup.replayed(), tc.replayed)
			}
			wantCalls := map[bool]int32{true: 1, false: 2}[tc.replayed]
			if calls.Load() != wantCalls || tc.replayed && dup.body != first.body {
				t.Errorf("%d calls, answers %q and %q", calls.Load(), first.body, dup.body)
			}
		})
	}
}

// TestMiddlewareNested: a function calling another function with its X-Aft-Txn-Id joins
// its transaction: both functions' writes commit in one commit, once.
func TestMiddlewareNested(t *testing.T) {
	shimURL, shim := newShim(t)
	var calleeCalls atomic.Int32
	callee := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calleeCalls.Add(1)
		if r.Header.Get(api.HeaderShim) != shimURL {
			t.Errorf("callee got %s %q", api.HeaderShim, r.Header.Get(api.HeaderShim))
		}
		if err := shim.Put(r.Context(), r.Header.Get(api.HeaderTxnID), "callee", []byte("b")); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "callee done")
	})
	b := newEnv(t, Config{ShimURL: shimURL, Client: shim, Options: Options{Function: "callee"}}, callee)

	var callerCalls atomic.Int32
	caller := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		callerCalls.Add(1)
		id := r.Header.Get(api.HeaderTxnID)
		if err := shim.Put(r.Context(), id, "caller", []byte("a")); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		req, _ := http.NewRequestWithContext(r.Context(), "POST", b.front.URL+"/", strings.NewReader("nested"))
		req.Header.Set(api.HeaderTxnID, id)
		req.Header.Set(api.HeaderIdempotencyKey, "ignored for a nested call")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get(api.HeaderAttempts) != "" {
			t.Errorf("nested call answered %d with %s %q", resp.StatusCode, api.HeaderAttempts, resp.Header.Get(api.HeaderAttempts))
		}
		// The callee's write is not visible outside the transaction before the commit.
		if got := read(t, shim, "callee")[0]; got != "" {
			t.Errorf("callee's write visible before the commit: %q", got)
		}
		fmt.Fprint(w, "caller done")
	})
	a := newEnv(t, Config{ShimURL: shimURL, Client: shim, Options: Options{Function: "caller"}}, caller)

	r := a.send("POST", "/", "x", api.HeaderIdempotencyKey, "nested-1")
	if r.status != 200 || r.body != "caller done" {
		t.Fatalf("caller answered %d %q", r.status, r.body)
	}
	// One commit holds both writes: they carry one commit version.
	ctx := context.Background()
	tx, _ := shim.Begin(ctx, "")
	va, err1 := shim.Get(ctx, tx.ID, "caller")
	vb, err2 := shim.Get(ctx, tx.ID, "callee")
	shim.Abort(ctx, tx.ID)
	if err1 != nil || err2 != nil || string(va.Bytes) != "a" || string(vb.Bytes) != "b" || va.Version == "" || va.Version != vb.Version {
		t.Errorf("caller %q@%s (%v), callee %q@%s (%v): want both written by one commit", va.Bytes, va.Version, err1, vb.Bytes, vb.Version, err2)
	}
	if got := b.metric("aft_middleware_attempts_total"); got != 0 {
		t.Errorf("callee's middleware began %v attempts, want 0", got)
	}
	if got := b.metric("aft_middleware_invocations_total", "outcome", "nested"); got != 1 {
		t.Errorf("callee's nested invocations %v, want 1", got)
	}
	if got := a.metric("aft_middleware_commits_total", "outcome", "committed"); got != 1 {
		t.Errorf("caller's commits %v, want 1", got)
	}

	// A nested call naming an unknown or finished transaction does not run.
	finished, _ := shim.Begin(ctx, "")
	shim.Commit(ctx, finished.ID, nil)
	for _, tc := range []struct {
		name, id string
		status   int
		code     string
	}{
		{"unknown", "00000000000000000000000000000000", http.StatusNotFound, api.CodeTxnNotFound},
		{"not an id", "../x", http.StatusNotFound, api.CodeTxnNotFound},
		{"empty", "", http.StatusNotFound, api.CodeTxnNotFound},
		{"committed", finished.ID, http.StatusConflict, api.CodeTxnNotRunning},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := calleeCalls.Load()
			r := b.send("POST", "/", "x", api.HeaderTxnID, tc.id)
			if r.status != tc.status || r.code != tc.code {
				t.Errorf("%d %s, want %d %s", r.status, r.code, tc.status, tc.code)
			}
			if calleeCalls.Load() != before {
				t.Error("the callee ran")
			}
		})
	}
}

// TestMiddlewareLargeResponse: a response over the result limit commits, its caller gets
// it whole, and a duplicate gets status and headers without the body; one over
// MaxResponseBytes does not commit.
func TestMiddlewareLargeResponse(t *testing.T) {
	big := strings.Repeat("x", MaxResultBytes+1)
	var calls atomic.Int32
	fn := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "text/big")
		fmt.Fprint(w, big)
		if r.URL.Path == "/huge" {
			fmt.Fprint(w, big)
		}
	})
	e := newEnv(t, Config{Options: Options{MaxResponseBytes: 2*MaxResultBytes + 1}}, fn)
	r := e.send("GET", "/big", "", api.HeaderIdempotencyKey, "big")
	if r.status != 200 || r.body != big || r.header.Get(api.HeaderBodyOmitted) != "" {
		t.Errorf("first answer %d, %d bytes, omitted=%q", r.status, len(r.body), r.header.Get(api.HeaderBodyOmitted))
	}
	dup := e.send("GET", "/big", "", api.HeaderIdempotencyKey, "big")
	if dup.status != 200 || dup.body != "" || dup.header.Get(api.HeaderBodyOmitted) != "true" || !dup.replayed() || dup.header.Get("Content-Type") != "text/big" {
		t.Errorf("duplicate %d, %d bytes, omitted=%q replayed=%v type=%q", dup.status, len(dup.body), dup.header.Get(api.HeaderBodyOmitted), dup.replayed(), dup.header.Get("Content-Type"))
	}
	res, _ := storedResult(t, e.shim, "big")
	if !res.BodyOmitted || res.BodyBytes != int64(len(big)) {
		t.Errorf("stored result omitted=%v bytes=%d", res.BodyOmitted, res.BodyBytes)
	}
	huge := e.send("GET", "/huge", "", api.HeaderIdempotencyKey, "huge")
	if huge.status != http.StatusBadGateway || huge.code != api.CodeResponseTooLarge || huge.attempts() != "1" {
		t.Errorf("huge: %d %s attempts %s, want 502 response_too_large after 1 attempt", huge.status, huge.code, huge.attempts())
	}
	if _, ok := storedResult(t, e.shim, "huge"); ok {
		t.Error("huge response committed")
	}
	if calls.Load() != 2 {
		t.Errorf("%d calls, want 2", calls.Load())
	}
}

// TestGroupHandler: the Middlewares of one Group take per-function Options, whose zero
// fields take the Group's, and share its metrics (registered once); invalid Options are
// refused when the handler is made, before any request.
func TestGroupHandler(t *testing.T) {
	var calls atomic.Int32
	fn := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	})
	e := newEnv(t, Config{Options: Options{Attempts: 2}}, fn)
	once, err := e.mw.Handler(Options{Function: "once", Attempts: 1}, fn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.mw.Handler(Options{Function: "bad", OnRunning: "sometimes"}, fn); err == nil || !strings.Contains(err.Error(), "sometimes") {
		t.Errorf("handler with a bad policy: %v, want an error naming it", err)
	}
	if _, err := e.mw.Handler(Options{Function: "short", AttemptTimeout: time.Minute}, fn); err == nil {
		t.Error("handler with an attempt timeout over the deadline: no error")
	}
	onceFront := httptest.NewServer(once)
	t.Cleanup(onceFront.Close)
	for _, tc := range []struct {
		name     string
		front    string
		calls    int32
		function string
	}{
		{"own options", onceFront.URL, 1, "once"},
		{"group options", e.front.URL, 2, "fn"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls.Store(0)
			resp, err := http.Post(tc.front+"/function/x", "text/plain", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 500 || calls.Load() != tc.calls {
				t.Errorf("%d after %d calls, want 500 after %d", resp.StatusCode, calls.Load(), tc.calls)
			}
			if got := e.metric("aft_middleware_invocations_total", "function", tc.function); got != 1 {
				t.Errorf("invocations of %s: %v, want 1", tc.function, got)
			}
		})
	}
}

// TestConfigValidate: defaults and rejected settings.
func TestConfigValidate(t *testing.T) {
	ok := Config{ShimURL: "http://127.0.0.1:7654", Options: Options{Function: "f"}}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		bad  bool
	}{
		{"defaults", func(*Config) {}, false},
		{"no function", func(c *Config) { c.Function = "" }, true},
		{"no shim", func(c *Config) { c.ShimURL = "" }, true},
		{"shim not http", func(c *Config) { c.ShimURL = "ftp://x" }, true},
		{"negative attempts", func(c *Config) { c.Attempts = -1 }, true},
		{"deadline under attempt timeout", func(c *Config) { c.Deadline, c.AttemptTimeout = time.Second, 2*time.Second }, true},
		{"backoff max under base", func(c *Config) { c.BackoffBase, c.BackoffMax = time.Second, time.Millisecond }, true},
		{"bad policy", func(c *Config) { c.OnRunning = "maybe" }, true},
		{"negative size", func(c *Config) { c.MaxRequestBytes = -1 }, true},
		{"negative shim timeout", func(c *Config) { c.ShimTimeout = -1 }, true},
		{"relay", func(c *Config) { c.RelayURL = "http://127.0.0.1:9000" }, false},
		{"relay not http", func(c *Config) { c.RelayURL = "127.0.0.1:9000" }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			err := c.validate()
			if (err != nil) != tc.bad {
				t.Fatalf("validate: %v, want error %v", err, tc.bad)
			}
			if err == nil {
				want := Options{Function: "f", Attempts: 3, AttemptTimeout: 10 * time.Second, Deadline: 30 * time.Second, OnRunning: OnRunningRun,
					MaxRequestBytes: 4 << 20, MaxResponseBytes: 16 << 20, BackoffBase: 100 * time.Millisecond, BackoffMax: 2 * time.Second}
				if diff := cmp.Diff(want, c.Options); diff != "" {
					t.Errorf("defaults (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// TestProbesPassThrough: the platform's health probes reach the function as they are, with
// no transaction begun; an ordinary request to the same path runs in one.
func TestProbesPassThrough(t *testing.T) {
	var saw []string
	fn := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		saw = append(saw, r.Header.Get(api.HeaderTxnID))
		w.Write([]byte("ok"))
	})
	shimURL, shim := newShim(t)
	mw, err := New(Config{ShimURL: shimURL, Client: shim, Options: Options{Function: "f"}}, nil, fn)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []http.Header{
		{"User-Agent": {"kube-probe/1.35"}},
		{"K-Kubelet-Probe": {"queue"}},
		{"K-Network-Probe": {"queue"}},
		{"User-Agent": {"curl/8"}},
	} {
		req := httptest.NewRequest("GET", "/healthz", nil)
		req.Header = h
		rec := httptest.NewRecorder()
		mw.ServeHTTP(rec, req)
		if rec.Code != 200 || rec.Body.String() != "ok" {
			t.Errorf("%v: %d %q", h, rec.Code, rec.Body)
		}
	}
	if len(saw) != 4 || saw[0] != "" || saw[1] != "" || saw[2] != "" || saw[3] == "" {
		t.Errorf("transaction ids the function saw: %q, want none for the three probes and one for the last", saw)
	}
}
