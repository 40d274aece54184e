package middleware

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aft-shim/aft/api"
	"github.com/aft-shim/aft/shim/shimtest"

	"github.com/aft-shim/aft/client"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// newShim starts the real shim over the mem store, closed at cleanup.
func newShim(t testing.TB) (string, *client.Client) { return shimtest.Start(t) }

// env is a middleware in front of a function, with a shim, for one test.
type env struct {
	t     testing.TB
	shim  *client.Client
	mw    *Middleware
	reg   *prometheus.Registry
	front *httptest.Server // serves mw
}

// quick are options for tests: short timeouts and backoff.
func quick(o Options) Options {
	if o.Function == "" {
		o.Function = "fn"
	}
	if o.AttemptTimeout == 0 {
		o.AttemptTimeout = 2 * time.Second
	}
	if o.Deadline == 0 {
		o.Deadline = 5 * time.Second
	}
	if o.BackoffBase == 0 {
		o.BackoffBase, o.BackoffMax = time.Millisecond, 5*time.Millisecond
	}
	return o
}

// newEnv starts a shim and the middleware with cfg in front of fn (an in-process handler).
// cfg.ShimURL is set when empty; cfg.Options get quick defaults.
func newEnv(t testing.TB, cfg Config, fn http.Handler) *env {
	t.Helper()
	if cfg.ShimURL == "" {
		cfg.ShimURL, cfg.Client = newShim(t)
	}
	cfg.Options = quick(cfg.Options)
	e := &env{t: t, reg: prometheus.NewRegistry()}
	mw, err := New(cfg, e.reg, fn)
	if err != nil {
		t.Fatal(err)
	}
	e.mw, e.shim = mw, client.New(cfg.ShimURL)
	e.front = httptest.NewServer(mw)
	t.Cleanup(func() {
		e.front.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := mw.Wait(ctx); err != nil {
			t.Errorf("background attempts still running at cleanup: %v", err)
		}
	})
	return e
}

// proxyTo returns a reverse proxy to the function served by h on its own loopback server,
// as `aft proxy` builds it.
func proxyTo(t testing.TB, h http.Handler) http.Handler {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	u, _ := url.Parse(ts.URL)
	return NewHop(u, HopOptions{Transport: ts.Client().Transport})
}

// reply is an answer of the middleware.
type reply struct {
	status int
	header http.Header
	body   string
	code   string // the code of a JSON error answer
}

func (r reply) attempts() string { return r.header.Get(api.HeaderAttempts) }
func (r reply) replayed() bool   { return r.header.Get(api.HeaderReplayed) == "true" }

// send sends a request to the middleware with headers h (pairs) and body.
func (e *env) send(method, path, body string, h ...string) reply {
	e.t.Helper()
	req, err := http.NewRequest(method, e.front.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(h); i += 2 {
		req.Header.Add(h[i], h[i+1])
	}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, body: string(b)}
	if resp.Header.Get("Content-Type") == "application/json" {
		var j struct{ Code string }
		json.Unmarshal(b, &j)
		r.code = j.Code
	}
	return r
}

// metric sums the samples of the metric name whose labels include every pair of labels.
func (e *env) metric(name string, labels ...string) float64 {
	e.t.Helper()
	return scrape(e.t, e.reg, name, labels...)
}

func scrape(t testing.TB, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	sum := 0.0
	sc := bufio.NewScanner(rec.Body)
lines:
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if !strings.Contains(line, labels[i]+`="`+labels[i+1]+`"`) {
				continue lines
			}
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		sum += v
	}
	return sum
}

// read reads keys in one transaction of the shim; a missing key reads as "".
func read(t testing.TB, c *client.Client, keys ...string) []string {
	t.Helper()
	ctx := context.Background()
	tx, err := c.Begin(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Abort(ctx, tx.ID)
	out := make([]string, len(keys))
	for i, k := range keys {
		v, err := c.Get(ctx, tx.ID, k)
		if errors.Is(err, client.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		out[i] = string(v.Bytes)
	}
	return out
}

// storedResult returns the result stored under an idempotency key, and whether one is.
func storedResult(t testing.TB, c *client.Client, key string) (Result, bool) {
	t.Helper()
	tx, err := c.Begin(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	if !tx.Committed() {
		c.Abort(context.Background(), tx.ID)
		return Result{}, false
	}
	var res Result
	if err := res.UnmarshalBinary(tx.Result); err != nil {
		t.Fatal(err)
	}
	return res, true
}

// eventually waits up to 5s for cond.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not within 5s: %s", what)
		}
	}
}

// newDownShim returns the URL of a shim that does not answer: its port is closed.
func newDownShim(t testing.TB) string {
	ts := httptest.NewServer(http.NotFoundHandler())
	ts.Close()
	return ts.URL
}

// newBrokenShim returns the URL of a shim that answers 500 to everything.
func newBrokenShim(t testing.TB) string {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, `{"error":"store on fire","code":"internal"}`)
	}))
	t.Cleanup(ts.Close)
	return ts.URL
}

func attemptOf(r *http.Request) int {
	n, _ := strconv.Atoi(r.Header.Get(api.HeaderAttempt))
	return n
}

// bodyOf reads a request body.
func bodyOf(r *http.Request) string {
	var b bytes.Buffer
	b.ReadFrom(r.Body)
	return b.String()
}

// holdFirstCall returns a function that increments the counter "count" in its transaction
// and answers "count=N by call M"; its first call tells first and then waits for release.
// calls counts the calls.
func holdFirstCall(t *testing.T, shim *client.Client) (fn http.Handler, calls *atomic.Int32, first <-chan struct{}, release chan struct{}) {
	calls = new(atomic.Int32)
	started, release := make(chan struct{}), make(chan struct{})
	fn = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		count, err := shimtest.Incr(shim, r, "count")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if n == 1 {
			close(started)
			<-release
		}
		fmt.Fprintf(w, "count=%d by call %d", count, n)
	})
	return fn, calls, started, release
}
