// Package shimtest starts a shim in the test's process and plays the middleware around a
// function, for the tests of the packages above the shim (SDKs, middleware, plugins,
// workloads, end-to-end tests).
package shimtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aft-shim/aft/api"
	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/shim/serve"
	"github.com/aft-shim/aft/shim/store"
	"github.com/aft-shim/aft/shim/store/mem"
	"github.com/aft-shim/aft/shim/txn"
)

// Start starts a shim on an in-memory store, stopped when t ends. It returns the shim's
// base URL and a client of it.
func Start(t testing.TB) (string, *client.Client) {
	t.Helper()
	ts, _ := StartStore(t, mem.New(), txn.Config{})
	return ts.URL, client.New(ts.URL)
}

// StartStore starts a shim on st with cfg (Open), served by an httptest server; both stop
// when t ends (st is not closed).
func StartStore(t testing.TB, st store.Store, cfg txn.Config) (*httptest.Server, *txn.Manager) {
	t.Helper()
	s := Open(t, st, cfg)
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts, s.Manager()
}

// Open recovers a shim over st with cfg and aft serve's other defaults (serve.OpenStore),
// for a test that serves its Handler itself; it is closed when t ends (st is not).
func Open(t testing.TB, st store.Store, cfg txn.Config) *serve.Shim {
	t.Helper()
	c := serve.Defaults()
	c.Txn = cfg
	s, err := serve.OpenStore(context.Background(), st, c, nil)
	if err != nil {
		t.Fatalf("shimtest: start shim: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Seed commits key=value pairs (alternating) in a transaction of their own.
func Seed(t testing.TB, c *client.Client, kv ...string) {
	t.Helper()
	ctx := context.Background()
	tx, err := c.Begin(ctx, "")
	if err != nil {
		t.Fatalf("shimtest: seed: %v", err)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if err := c.Put(ctx, tx.ID, kv[i], []byte(kv[i+1])); err != nil {
			t.Fatalf("shimtest: seed: %v", err)
		}
	}
	if _, err := c.Commit(ctx, tx.ID, nil); err != nil {
		t.Fatalf("shimtest: seed: %v", err)
	}
}

// Committed reads key in a fresh transaction, after the writes under test committed. A
// missing key reads as ok == false.
func Committed(t testing.TB, c *client.Client, key string) (value string, ok bool) {
	t.Helper()
	ctx := context.Background()
	tx, err := c.Begin(ctx, "")
	if err != nil {
		t.Fatalf("shimtest: read %q: %v", key, err)
	}
	defer c.Abort(ctx, tx.ID)
	v, err := c.Get(ctx, tx.ID, key)
	if err != nil {
		if errors.Is(err, client.ErrKeyNotFound) {
			return "", false
		}
		t.Fatalf("shimtest: read %q: %v", key, err)
	}
	return string(v.Bytes), true
}

// Invoke plays the middleware for one invocation of the function at fnURL: it begins a
// transaction, POSTs body with the X-Aft-Txn-Id and X-Aft-Shim headers, and commits when
// the function answers 2xx, aborting otherwise. It returns the function's answer.
func Invoke(t testing.TB, c *client.Client, shimURL, fnURL, body string) (int, string) {
	t.Helper()
	return invoke(t, c, shimURL, fnURL, body, false)
}

// InvokeAndAbort is Invoke, but aborts the transaction whatever the function answers.
func InvokeAndAbort(t testing.TB, c *client.Client, shimURL, fnURL, body string) (int, string) {
	t.Helper()
	return invoke(t, c, shimURL, fnURL, body, true)
}

func invoke(t testing.TB, c *client.Client, shimURL, fnURL, body string, abort bool) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tx, err := c.Begin(ctx, "")
	if err != nil {
		t.Fatalf("shimtest: begin: %v", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, fnURL, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(api.HeaderTxnID, tx.ID)
	req.Header.Set(api.HeaderShim, shimURL)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("shimtest: invoke %s: %v", fnURL, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 == 2 && !abort {
		_, err = c.Commit(ctx, tx.ID, b)
	} else {
		_, err = c.Abort(ctx, tx.ID)
	}
	if err != nil {
		t.Fatalf("shimtest: finish %s: %v", tx.ID, err)
	}
	return resp.StatusCode, string(b)
}

// Want checks the committed state: each key of present holds its value, and no key of
// absent exists.
func Want(t testing.TB, c *client.Client, present map[string]string, absent ...string) {
	t.Helper()
	for k, want := range present {
		if v, ok := Committed(t, c, k); !ok || v != want {
			t.Errorf("committed %q = %q (found %v), want %q", k, v, ok, want)
		}
	}
	for _, k := range absent {
		if v, ok := Committed(t, c, k); ok {
			t.Errorf("committed %q = %q, want no such key", k, v)
		}
	}
}

// Incr increments the counter at key in the transaction of r (its X-Aft-Txn-Id header),
// through c, and returns its new value: what a function under test writes.
func Incr(c *client.Client, r *http.Request, key string) (int, error) {
	ctx, id := r.Context(), r.Header.Get(api.HeaderTxnID)
	n := 0
	v, err := c.Get(ctx, id, key)
	switch {
	case errors.Is(err, client.ErrKeyNotFound):
	case err != nil:
		return 0, err
	default:
		if n, err = strconv.Atoi(string(v.Bytes)); err != nil {
			return 0, err
		}
	}
	n++
	return n, c.Put(ctx, id, key, []byte(strconv.Itoa(n)))
}

// DroppingCounter is a function for the tests of transports that must never send a
// request twice: each request increments prefix + its idempotency key in its transaction
// (Incr) and answers "count=N", except that when drop says so it closes the connection
// after the increment instead of answering, as a function whose connection breaks after it
// ran. drop gets the request's number among all requests and among its key's, from 1.
type DroppingCounter struct {
	C      *client.Client
	Prefix string
	Drop   func(n, nKey int) bool

	mu   sync.Mutex
	n    int
	keys map[string]int
	runs map[string]int // per transaction id
}

func (d *DroppingCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	key := r.Header.Get(api.HeaderIdempotencyKey)
	d.mu.Lock()
	if d.keys == nil {
		d.keys, d.runs = map[string]int{}, map[string]int{}
	}
	d.n++
	d.keys[key]++
	d.runs[r.Header.Get(api.HeaderTxnID)]++
	drop := d.Drop(d.n, d.keys[key])
	d.mu.Unlock()
	count, err := Incr(d.C, r, d.Prefix+key)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if drop {
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
		} else {
			http.Error(w, "cannot drop the connection: "+err.Error(), http.StatusInternalServerError)
		}
		return
	}
	fmt.Fprintf(w, "count=%d", count)
}

// Runs returns how often each transaction id ran the function.
func (d *DroppingCounter) Runs() map[string]int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return maps.Clone(d.runs)
}
