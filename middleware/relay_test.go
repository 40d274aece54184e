package middleware

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aft-shim/aft/api"
	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/shim/shimtest"
)

// testToken is the shim token of the relay tests: it must reach the shim on every call,
// and the function must never see it.
const testToken = "s3cret-shim-token"

// gate watches the calls that reach a shim run with a token, as `aft serve --auth-file`
// wants one (shimtest.StartAuth): tenant acme's testToken.
type gate struct {
	URL string

	mu    sync.Mutex
	calls []string // "METHOD PATH", of every call that had the token
	bad   []string // of every call that did not
}

func newGate(t testing.TB) *gate {
	t.Helper()
	g := &gate{}
	watch := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			call := r.Method + " " + r.URL.EscapedPath()
			g.mu.Lock()
			if r.Header.Get("Authorization") == "Bearer "+testToken {
				g.calls = append(g.calls, call)
			} else {
				g.bad = append(g.bad, call)
			}
			g.mu.Unlock()
			h.ServeHTTP(w, r) // which answers 401 without the token
		})
	}
	g.URL = shimtest.StartAuth(t, watch, "acme", testToken).URL
	return g
}

// client returns a client of the shim behind g that presents the token.
func (g *gate) client() *client.Client { return client.New(g.URL, client.WithToken(testToken)) }

// check fails t when a call reached g without the token, and returns the calls that had it.
func (g *gate) check(t testing.TB) []string {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.bad) > 0 {
		t.Errorf("calls reached the shim without the token: %v", g.bad)
	}
	return append([]string(nil), g.calls...)
}

// newRelayEnv is newEnv with a gated shim and the middleware's relay served on a loopback
// server of its own, as `aft proxy` serves it.
func newRelayEnv(t testing.TB, g *gate, o Options, fn http.Handler) (*env, string) {
	t.Helper()
	rs := httptest.NewUnstartedServer(nil) // its address, for RelayURL, before its handler
	relayURL := "http://" + rs.Listener.Addr().String()
	e := newEnv(t, Config{Options: o, ShimURL: g.URL, Client: g.client(), RelayURL: relayURL}, fn)
	e.shim = g.client()
	rs.Config.Handler = e.mw.Relay()
	rs.Start()
	t.Cleanup(rs.Close)
	return e, relayURL
}

// functionTxn is what a function does with its headers, as the SDKs do: a client of
// X-Aft-Shim, with no credentials, for X-Aft-Txn-Id.
func functionTxn(r *http.Request) (*client.Client, string) {
	return client.New(r.Header.Get(api.HeaderShim)), r.Header.Get(api.HeaderTxnID)
}

// The token reaches the shim on every call, the middleware's and the function's through
// the relay; the function sees none of it, so neither does its caller, nor a duplicate
// answered from the stored result.
func TestRelayKeepsTheToken(t *testing.T) {
	g := newGate(t)
	var mu sync.Mutex
	var fnHeaders []http.Header
	fn := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		fnHeaders = append(fnHeaders, r.Header.Clone())
		mu.Unlock()
		c, id := functionTxn(r)
		if err := c.Put(r.Context(), id, "k", []byte("v")); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if v, err := c.Get(r.Context(), id, "k"); err != nil || string(v.Bytes) != "v" {
			http.Error(w, fmt.Sprintf("read own write: %q, %v", v.Bytes, err), http.StatusInternalServerError)
			return
		}
		// A careless function: it echoes every header it got, in its answer's headers and
		// body, which the middleware stores with the commit.
		for k, vs := range r.Header {
			w.Header()["X-Echo-"+k] = vs
		}
		json.NewEncoder(w).Encode(r.Header)
	})
	e, relayURL := newRelayEnv(t, g, Options{}, proxyTo(t, fn))

	first := e.send("POST", "/orders", "order", api.HeaderIdempotencyKey, "o1")
	if first.status != 200 {
		t.Fatalf("answered %d %q", first.status, first.body)
	}
	again := e.send("POST", "/orders", "order", api.HeaderIdempotencyKey, "o1")
	if !again.replayed() {
		t.Errorf("the duplicate was not answered from the stored result: %d %q", again.status, again.body)
	}
	res, ok := storedResult(t, e.shim, "o1")
	if !ok {
		t.Fatal("no stored result")
	}
	shimtest.Want(t, e.shim, map[string]string{"k": "v"})

	if len(fnHeaders) != 1 {
		t.Fatalf("the function ran %d times, want once", len(fnHeaders))
	}
	if got := fnHeaders[0].Get(api.HeaderShim); got != relayURL {
		t.Errorf("%s = %q, want the relay, %s", api.HeaderShim, got, relayURL)
	}
	for name, h := range map[string]http.Header{"the function's request": fnHeaders[0], "the answer": first.header,
		"the duplicate's answer": again.header, "the stored result": res.Header} {
		for k, vs := range h {
			if strings.Contains(k+strings.Join(vs, " "), testToken) {
				t.Errorf("the token is in %s, header %s: %q", name, k, vs)
			}
		}
	}
	for name, b := range map[string]string{"the answer": first.body, "the duplicate's answer": again.body, "the stored result": string(res.Body)} {
		if strings.Contains(b, testToken) {
			t.Errorf("the token is in the body of %s: %s", name, b)
		}
	}
	calls := g.check(t)
	var relayed int
	for _, c := range calls {
		if strings.Contains(c, fnHeaders[0].Get(api.HeaderTxnID)+"/keys/") {
			relayed++
		}
	}
	if relayed != 2 {
		t.Errorf("the shim got %d calls of keys with the token, want the function's 2 (a write and a read): %v", relayed, calls)
	}
}

// A token the shim does not know is the shim being unavailable to the caller: 503, to be
// tried again, and the function does not run.
func TestMiddlewareWrongToken(t *testing.T) {
	g := newGate(t)
	ran := false
	fn := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ran = true })
	e := newEnv(t, Config{ShimURL: g.URL, Client: client.New(g.URL, client.WithToken("wrong"))}, fn)
	r := e.send("POST", "/", "x", api.HeaderIdempotencyKey, "w1")
	if r.status != http.StatusServiceUnavailable || r.code != api.CodeShimUnavailable || !strings.Contains(r.body, "token") || ran {
		t.Errorf("answered %d %s %q, function ran %v; want 503 shim_unavailable naming the token, and no run", r.status, r.code, r.body, ran)
	}
	if strings.Contains(r.body, "wrong") {
		t.Errorf("the answer shows the token: %s", r.body)
	}
}

// What the relay passes on, and what it refuses: only the function's operations, of a
// transaction it holds, with its token in place of any the caller sent.
func TestRelayRefuses(t *testing.T) {
	g := newGate(t)
	shim := g.client()
	grp, err := NewGroup(Config{Options: Options{Function: "f"}, ShimURL: g.URL, Client: shim, RelayURL: "http://relay.invalid"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rs := httptest.NewServer(grp.Relay())
	defer rs.Close()
	ctx := context.Background()
	held, _ := shim.Begin(ctx, "")
	other, _ := shim.Begin(ctx, "")
	release := grp.hold(held.ID)
	batch := `{"ops":[{"op":"write","key":"b","value":"eA=="},{"op":"read","key":"a"}]}`
	tests := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"write", "PUT", "/v1/txns/" + held.ID + "/keys/a", "1", 204, ""},
		{"read", "GET", "/v1/txns/" + held.ID + "/keys/a", "", 200, ""},
		{"key with a slash", "PUT", "/v1/txns/" + held.ID + "/keys/x%2Fy", "2", 204, ""},
		{"delete", "DELETE", "/v1/txns/" + held.ID + "/keys/x%2Fy", "", 204, ""},
		{"batch", "POST", "/v1/txns/" + held.ID + "/batch", batch, 200, ""},
		{"status", "GET", "/v1/txns/" + held.ID, "", 200, ""},
		{"missing key", "GET", "/v1/txns/" + held.ID + "/keys/none", "", 404, api.CodeKeyNotFound},
		{"begin", "POST", "/v1/txns", "", 403, api.CodeRelayRefused},
		{"commit", "POST", "/v1/txns/" + held.ID + "/commit", "", 403, api.CodeRelayRefused},
		{"abort", "POST", "/v1/txns/" + held.ID + "/abort", "", 403, api.CodeRelayRefused},
		{"listing", "GET", "/v1/keys?prefix=", "", 403, api.CodeRelayRefused},
		{"nodes", "GET", "/v1/nodes", "", 403, api.CodeRelayRefused},
		{"metrics", "GET", "/metrics", "", 403, api.CodeRelayRefused},
		{"write by POST", "POST", "/v1/txns/" + held.ID + "/keys/a", "", 403, api.CodeRelayRefused},
		{"status by DELETE", "DELETE", "/v1/txns/" + held.ID, "", 403, api.CodeRelayRefused},
		{"another running transaction", "GET", "/v1/txns/" + other.ID + "/keys/a", "", 404, api.CodeTxnNotFound},
		{"another's batch", "POST", "/v1/txns/" + other.ID + "/batch", batch, 404, api.CodeTxnNotFound},
		{"no id", "GET", "/v1/txns//keys/a", "", 404, api.CodeTxnNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, rs.URL+tt.path, strings.NewReader(tt.body))
			req.Header.Set("Authorization", "Bearer the-function's-own")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var j api.ErrorBody
			json.Unmarshal(b, &j)
			if resp.StatusCode != tt.status || j.Code != tt.code {
				t.Errorf("%d %s (%s), want %d %s", resp.StatusCode, j.Code, b, tt.status, tt.code)
			}
		})
	}
	if tx, err := shim.Status(ctx, held.ID); err != nil || tx.Status != "running" {
		t.Errorf("after the refused commit and abort the transaction is %+v, %v; want running", tx, err)
	}
	release()
	resp, err := http.Get(rs.URL + "/v1/txns/" + held.ID)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("status after the hold ended: %d, want 404", resp.StatusCode)
	}
	begins := 0
	for _, c := range g.check(t) {
		if c == "POST /v1/txns" {
			begins++
		}
		if strings.HasSuffix(c, "/commit") || strings.HasSuffix(c, "/abort") || strings.Contains(c, other.ID) || strings.HasPrefix(c, "GET /v1/keys") {
			t.Errorf("a refused call reached the shim: %s", c)
		}
	}
	if begins != 2 {
		t.Errorf("%d begins reached the shim, want the test's own 2", begins)
	}
}

// A nested call: the callee's middleware joins the caller's transaction and its relay
// passes the callee's calls on while it runs, not after.
func TestRelayNested(t *testing.T) {
	g := newGate(t)
	var calleeRelay, calleeID string
	callee := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, id := functionTxn(r)
		calleeRelay, calleeID = r.Header.Get(api.HeaderShim), id
		if err := c.Put(r.Context(), id, "callee", []byte("b")); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "callee done")
	})
	b, bRelay := newRelayEnv(t, g, Options{Function: "callee"}, callee)

	var afterStatus int
	caller := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, id := functionTxn(r)
		if err := c.Put(r.Context(), id, "caller", []byte("a")); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		req, _ := http.NewRequestWithContext(r.Context(), "POST", b.front.URL+"/", strings.NewReader("nested"))
		req.Header.Set(api.HeaderTxnID, id)
		req.Header.Set(api.HeaderShim, r.Header.Get(api.HeaderShim)) // as the SDKs pass it on
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			http.Error(w, "nested call: "+resp.Status, http.StatusBadGateway)
			return
		}
		// The callee returned: its relay no longer passes the transaction on; the caller's does.
		_, err = client.New(bRelay).Status(r.Context(), id)
		var ce *client.Error
		if errors.As(err, &ce) {
			afterStatus = ce.StatusCode
		}
		if _, err := c.Status(r.Context(), id); err != nil {
			http.Error(w, "own status: "+err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "caller done")
	})
	a, _ := newRelayEnv(t, g, Options{Function: "caller"}, caller)

	r := a.send("POST", "/", "x", api.HeaderIdempotencyKey, "nested-1")
	if r.status != 200 || r.body != "caller done" {
		t.Fatalf("caller answered %d %q", r.status, r.body)
	}
	if calleeRelay != bRelay || calleeID == "" {
		t.Errorf("callee got %s %q, want its own relay %s", api.HeaderShim, calleeRelay, bRelay)
	}
	if afterStatus != http.StatusNotFound {
		t.Errorf("the callee's relay after the callee returned answered %d, want 404", afterStatus)
	}
	shimtest.Want(t, a.shim, map[string]string{"caller": "a", "callee": "b"})
	g.check(t)
}

// The relay sends a call once: a shim connection that breaks after the call was read is
// an error to the function, never a second call in its transaction (http.Transport alone
// would send the GET again).
func TestRelayNeverResends(t *testing.T) {
	var got atomic.Int32
	shim := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/keys/first") {
			io.WriteString(w, "v")
			return
		}
		got.Add(1)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close() // it ran, and no answer comes
		}
	}))
	defer shim.Close()
	grp, err := NewGroup(Config{Options: Options{Function: "f"}, ShimURL: shim.URL, RelayURL: "http://relay.invalid"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rs := httptest.NewServer(grp.Relay())
	defer rs.Close()
	id := "0123456789abcdef0123456789abcdef"
	defer grp.hold(id)()
	for _, key := range []string{"first", "second"} { // the second goes on the kept-alive connection
		resp, err := http.Get(rs.URL + "/v1/txns/" + id + "/keys/" + key)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if key == "second" && resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("broken call answered %d, want 503", resp.StatusCode)
		}
	}
	if n := got.Load(); n != 1 {
		t.Errorf("the shim got the broken call %d times, want once", n)
	}
}

// FuzzRelayed checks the relay's reading of a path against the shim's routes, spelled out
// the naive way: it passes a call on only when it is a status, a read, write or delete,
// or a batch, of the transaction named by the path's first segment after /v1/txns/.
func FuzzRelayed(f *testing.F) {
	for _, s := range []struct{ method, path string }{
		{"GET", "/v1/txns/abc"}, {"PUT", "/v1/txns/abc/keys/k"}, {"POST", "/v1/txns/abc/batch"},
		{"POST", "/v1/txns/abc/commit"}, {"POST", "/v1/txns"}, {"GET", "/v1/txns/abc/"},
		{"GET", "/v1/txns/a%2Fb/keys/../../x/commit"}, {"DELETE", "/v1/txns/%zz/keys/k"}, {"GET", "/v1/keys"},
	} {
		f.Add(s.method, s.path)
	}
	f.Fuzz(func(t *testing.T, method, path string) {
		id, err := relayed(method, path)
		segs := strings.Split(path, "/")
		want := len(segs) >= 4 && segs[0] == "" && segs[1] == "v1" && segs[2] == "txns" &&
			(len(segs) == 4 && method == "GET" ||
				len(segs) == 5 && segs[4] == "batch" && method == "POST" ||
				len(segs) >= 6 && segs[4] == "keys" && (method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE"))
		if !want {
			if err == nil {
				t.Fatalf("%s %s passed on as transaction %q", method, path, id)
			}
			return
		}
		wantID, uerr := url.PathUnescape(segs[3])
		switch {
		case uerr != nil || wantID == "":
			if err == nil {
				t.Fatalf("%s %s passed on as transaction %q, whose id does not decode", method, path, id)
			}
		case err != nil || id != wantID:
			t.Fatalf("%s %s: %q, %v; want transaction %q", method, path, id, err, wantID)
		}
	})
}
