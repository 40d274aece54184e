package openfaas

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aft-shim/aft/api"
	"github.com/aft-shim/aft/api/apitest"
	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/middleware"
	"github.com/aft-shim/aft/shim/shimtest"
	"github.com/gorilla/mux"
	"github.com/openfaas/faas-provider/types"
	"github.com/prometheus/client_golang/prometheus"
)

// router serves the handlers on the gateway's paths (as faas-provider's bootstrap does).
func router(h *types.FaaSHandlers) http.Handler {
	r := mux.NewRouter()
	r.HandleFunc("/system/functions", h.FunctionLister).Methods(http.MethodGet)
	r.HandleFunc("/system/functions", h.DeployFunction).Methods(http.MethodPost)
	r.HandleFunc("/system/function/{name}", h.FunctionStatus).Methods(http.MethodGet)
	r.HandleFunc("/function/{name}", h.FunctionProxy)
	r.HandleFunc("/function/{name}/{params:.*}", h.FunctionProxy)
	return r
}

// fakeProvider is an upstream provider with three functions: tx (transactional, crashes
// on its first call after writing one key), plain (not annotated) and bad (bad
// annotations).
type fakeProvider struct {
	shim     *client.Client
	txCalls  atomic.Int32
	deployed atomic.Int32
	ann      map[string]map[string]string

	mu       sync.Mutex
	dropN    int            // calls of drop
	dropRuns map[string]int // runs of drop per transaction id
}

func (f *fakeProvider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/system/functions" && r.Method == http.MethodPost:
		f.deployed.Add(1)
		w.WriteHeader(http.StatusAccepted)
	case r.URL.Path == "/system/functions":
		json.NewEncoder(w).Encode([]types.FunctionStatus{{Name: "tx"}, {Name: "plain"}})
	case strings.HasPrefix(r.URL.Path, "/system/function/"):
		name := strings.TrimPrefix(r.URL.Path, "/system/function/")
		ann, ok := f.ann[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(types.FunctionStatus{Name: name, Annotations: &ann})
	case r.URL.Path == "/function/tx":
		id := r.Header.Get("X-Aft-Txn-Id")
		ctx := r.Context()
		n := f.txCalls.Add(1)
		f.shim.Put(ctx, id, "order", []byte("created"))
		if n == 1 {
			http.Error(w, "crashed half way", http.StatusInternalServerError)
			return
		}
		f.shim.Put(ctx, id, "stock", []byte("reserved"))
		io.WriteString(w, "ok")
	case r.URL.Path == "/function/drop":
		// Drops the kept-alive connection of its second call, after it ran.
		f.mu.Lock()
		f.dropN++
		drop := f.dropN == 2
		f.dropRuns[r.Header.Get("X-Aft-Txn-Id")]++
		f.mu.Unlock()
		if drop {
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		io.WriteString(w, "ok")
	case r.URL.Path == "/function/plain":
		io.WriteString(w, "txn="+r.Header.Get("X-Aft-Txn-Id"))
	default:
		http.NotFound(w, r)
	}
}

func setup(t *testing.T) (plugin *httptest.Server, up *fakeProvider, shim *client.Client) {
	t.Helper()
	shimURL, shim := shimtest.Start(t)
	up = &fakeProvider{shim: shim, dropRuns: map[string]int{}, ann: map[string]map[string]string{
		"tx":    {AnnotationTransactional: "true", AnnotationAttempts: "3", AnnotationAttemptTimeout: "2s"},
		"drop":  {AnnotationTransactional: "true"},
		"plain": {},
		"bad":   {AnnotationTransactional: "true", AnnotationAttempts: "many"},
	}}
	upSrv := httptest.NewServer(up)
	t.Cleanup(upSrv.Close)
	p, err := New(Options{Upstream: upSrv.URL, ShimURL: shimURL, Registry: prometheus.NewRegistry(),
		Defaults: middleware.Options{BackoffBase: 1e6, BackoffMax: 1e7}})
	if err != nil {
		t.Fatal(err)
	}
	plugin = httptest.NewServer(router(p.Handlers()))
	t.Cleanup(plugin.Close)
	return plugin, up, shim
}

func send(t *testing.T, ts *httptest.Server, method, path, key string) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if method != http.MethodGet {
		body = strings.NewReader("{}")
	}
	req, _ := http.NewRequest(method, ts.URL+path, body)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestPlugin(t *testing.T) {
	plugin, up, shim := setup(t)
	ctx := context.Background()

	// A transactional function that crashes half way on its first attempt: retried, and
	// its writes are committed exactly once, together.
	resp, body := send(t, plugin, "POST", "/function/tx", "order-1")
	if resp.StatusCode != 200 || body != "ok" || resp.Header.Get("X-Aft-Attempts") != "2" {
		t.Fatalf("invoke tx = %d %q attempts %q", resp.StatusCode, body, resp.Header.Get("X-Aft-Attempts"))
	}
	r, _ := shim.Begin(ctx, "")
	for _, k := range []string{"order", "stock"} {
		if _, err := shim.Get(ctx, r.ID, k); err != nil {
			t.Errorf("read %s after the retried invocation: %v", k, err)
		}
	}
	// A duplicate is answered from the stored result; the function does not run again.
	resp, body = send(t, plugin, "POST", "/function/tx", "order-1")
	if resp.StatusCode != 200 || body != "ok" || resp.Header.Get("X-Aft-Replayed") != "true" || up.txCalls.Load() != 2 {
		t.Errorf("duplicate = %d %q replayed %q, function calls %d", resp.StatusCode, body, resp.Header.Get("X-Aft-Replayed"), up.txCalls.Load())
	}
	// An unannotated function passes through untouched.
	if resp, body := send(t, plugin, "GET", "/function/plain", ""); resp.StatusCode != 200 || body != "txn=" {
		t.Errorf("plain = %d %q, want no transaction", resp.StatusCode, body)
	}
	// Bad annotations: refused with a JSON error that names them.
	if resp, body := send(t, plugin, "GET", "/function/bad", ""); resp.StatusCode != 500 || !strings.Contains(body, "bad_function_options") {
		t.Errorf("bad = %d %s", resp.StatusCode, body)
	}
	// An unknown function: the upstream answers.
	if resp, _ := send(t, plugin, "GET", "/function/nope", ""); resp.StatusCode != 404 {
		t.Errorf("unknown function = %d, want the upstream's 404", resp.StatusCode)
	}
	// The management API is forwarded.
	if resp, body := send(t, plugin, "GET", "/system/functions", ""); resp.StatusCode != 200 || !strings.Contains(body, `"plain"`) {
		t.Errorf("list = %d %s", resp.StatusCode, body)
	}
	if resp, _ := send(t, plugin, "POST", "/system/functions", ""); resp.StatusCode != 202 || up.deployed.Load() != 1 {
		t.Errorf("deploy = %d, upstream deploys %d", resp.StatusCode, up.deployed.Load())
	}
}

// TestPluginConnectionDropped: an invocation whose kept-alive connection to the provider
// breaks after the function ran is not sent again in the same transaction: the middleware
// retries it as a new attempt.
func TestPluginConnectionDropped(t *testing.T) {
	plugin, up, _ := setup(t)
	for i, key := range []string{"d1", "d2", "d3"} {
		for j, method := range []string{"POST", "GET"} {
			resp, body := send(t, plugin, method, "/function/drop", key+method)
			want := "1"
			if i == 0 && j == 1 {
				want = "2" // the second call of drop: its connection dropped
			}
			if resp.StatusCode != 200 || body != "ok" || resp.Header.Get("X-Aft-Attempts") != want {
				t.Errorf("%s %s = %d %q after %q attempts, want 200 ok after %s", method, key, resp.StatusCode, body, resp.Header.Get("X-Aft-Attempts"), want)
			}
		}
	}
	up.mu.Lock()
	defer up.mu.Unlock()
	for id, n := range up.dropRuns {
		if n != 1 {
			t.Errorf("transaction %s ran drop %d times, want once", id, n)
		}
	}
}

// downPlugin returns a plugin whose upstream provider is down.
func downPlugin(t *testing.T) *httptest.Server {
	t.Helper()
	shimURL, _ := shimtest.Start(t)
	p, err := New(Options{Upstream: "http://127.0.0.1:1", ShimURL: shimURL})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(router(p.Handlers()))
	t.Cleanup(ts.Close)
	return ts
}

func TestPluginUpstreamDown(t *testing.T) {
	ts := downPlugin(t)
	if resp, body := send(t, ts, "POST", "/function/tx", "k"); resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "provider_unavailable") {
		t.Errorf("invoke with the upstream down = %d %s, want 502 provider_unavailable", resp.StatusCode, body)
	}
}

func TestParseAnnotations(t *testing.T) {
	tests := []struct {
		name    string
		ann     map[string]string
		wantTx  bool
		wantErr bool
	}{
		{"none", nil, false, false},
		{"not true", map[string]string{AnnotationTransactional: "yes"}, false, false},
		{"on", map[string]string{AnnotationTransactional: "true", AnnotationOnRunning: "wait", AnnotationDeadline: "1m"}, true, false},
		{"bad attempts", map[string]string{AnnotationTransactional: "true", AnnotationAttempts: "0"}, false, true},
		{"bad timeout", map[string]string{AnnotationTransactional: "true", AnnotationAttemptTimeout: "soon"}, false, true},
		{"bad policy", map[string]string{AnnotationTransactional: "true", AnnotationOnRunning: "sometimes"}, false, true},
		{"aft.dev", map[string]string{"aft.dev/transactional": "true", "aft.dev/attempts": "2"}, true, false},
		{"both agree", map[string]string{"aft.dev/transactional": "true", AnnotationTransactional: "true", "aft.dev/deadline": "5s", AnnotationDeadline: "5s"}, true, false},
		{"both disagree", map[string]string{"aft.dev/transactional": "true", "aft.dev/attempts": "2", AnnotationAttempts: "3"}, false, true},
	}
	for _, tt := range tests {
		s := parseAnnotations("f", tt.ann)
		if s.transactional != tt.wantTx || (s.err != nil) != tt.wantErr {
			t.Errorf("%s: %+v, want transactional %v error %v", tt.name, s, tt.wantTx, tt.wantErr)
		}
	}
}

// TestPluginErrorBodies: every error the plugin answers is a valid JSON error body with
// both fields, whatever the text holds: bad annotations (for each hard text), options the
// middleware refuses, the upstream provider down for an invocation and for a management
// call.
func TestPluginErrorBodies(t *testing.T) {
	plugin, up, _ := setup(t)
	for i, text := range apitest.Texts {
		name := fmt.Sprintf("weird%d", i)
		up.ann[name] = map[string]string{AnnotationTransactional: "true", AnnotationAttempts: text}
		resp, body := send(t, plugin, "POST", "/function/"+name, "")
		if e := apitest.ErrorBody(t, []byte(body)); resp.StatusCode != 500 || e.Code != api.CodeBadFunctionOptions {
			t.Errorf("attempts %q: %d %+v, want 500 bad_function_options", text, resp.StatusCode, e)
		}
	}
	// Valid annotations that make invalid options: an attempt timeout over the deadline.
	up.ann["long"] = map[string]string{AnnotationTransactional: "true", AnnotationAttemptTimeout: "1m", AnnotationDeadline: "10s"}
	resp, body := send(t, plugin, "POST", "/function/long", "")
	if e := apitest.ErrorBody(t, []byte(body)); resp.StatusCode != 500 || e.Code != api.CodeBadFunctionOptions || !strings.Contains(e.Error, "deadline") {
		t.Errorf("long = %d %+v, want 500 bad_function_options naming the deadline", resp.StatusCode, e)
	}

	down := downPlugin(t)
	for _, path := range []string{"/function/tx", "/system/functions"} {
		resp, body := send(t, down, "GET", path, "")
		e := apitest.ErrorBody(t, []byte(body))
		if resp.StatusCode != http.StatusBadGateway || (e.Code != api.CodeProviderUnavailable && e.Code != api.CodeUpstreamUnreachable) {
			t.Errorf("%s with the upstream down = %d %+v, want 502", path, resp.StatusCode, e)
		}
	}
}

// TestPluginHandlerCached: the middleware of a transactional function is made once and
// cached with its settings; a deploy clears it, and the next invocation makes a new one.
func TestPluginHandlerCached(t *testing.T) {
	up := &fakeProvider{dropRuns: map[string]int{}, ann: map[string]map[string]string{"drop": {AnnotationTransactional: "true"}, "plain": {}}}
	upSrv := httptest.NewServer(up)
	t.Cleanup(upSrv.Close)
	shimURL, _ := shimtest.Start(t)
	p, err := New(Options{Upstream: upSrv.URL, ShimURL: shimURL, SettingsTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(router(p.Handlers()))
	t.Cleanup(ts.Close)
	cachedMW := func(name string) *middleware.Middleware {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.settings[name].s.mw
	}
	send(t, ts, "POST", "/function/drop", "a")
	first := cachedMW("drop")
	if first == nil {
		t.Fatal("no middleware cached for a transactional function")
	}
	send(t, ts, "POST", "/function/drop", "b")
	if cachedMW("drop") != first {
		t.Error("a second invocation made another middleware")
	}
	send(t, ts, "GET", "/function/plain", "")
	if cachedMW("plain") != nil {
		t.Error("a middleware for a function that is not transactional")
	}
	send(t, ts, "POST", "/system/functions", "")
	if cachedMW("drop") != nil {
		t.Error("deploy left the cached middleware")
	}
	send(t, ts, "POST", "/function/drop", "c")
	if m := cachedMW("drop"); m == nil || m == first {
		t.Error("after a deploy, the invocation did not make a new middleware")
	}
}

// With a shim that wants a token, a transactional function calls it through the plugin's
// relay (Options.RelayURL) without holding the token, and its writes commit.
func TestPluginRelay(t *testing.T) {
	const token = "plugin-test-token"
	shim := shimtest.StartAuth(t, nil, "default", token)
	var fnShim string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/system/function/fn":
			ann := map[string]string{AnnotationTransactional: "true"}
			json.NewEncoder(w).Encode(types.FunctionStatus{Name: "fn", Annotations: &ann})
		case "/function/fn":
			fnShim = r.Header.Get(api.HeaderShim)
			c := client.New(fnShim) // what an SDK does, with no token
			if err := c.Put(r.Context(), r.Header.Get(api.HeaderTxnID), "k", []byte("v")); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			io.WriteString(w, "ok")
		default:
			http.NotFound(w, r)
		}
	}))
	defer up.Close()
	relay := httptest.NewUnstartedServer(nil)
	relayURL := "http://" + relay.Listener.Addr().String()
	p, err := New(Options{Upstream: up.URL, ShimURL: shim.URL, ShimOptions: []client.Option{client.WithToken(token)}, RelayURL: relayURL})
	if err != nil {
		t.Fatal(err)
	}
	relay.Config.Handler = p.Relay()
	relay.Start()
	defer relay.Close()
	plugin := httptest.NewServer(router(p.Handlers()))
	defer plugin.Close()

	resp, body := send(t, plugin, "POST", "/function/fn", "r1")
	if resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("answered %d %q", resp.StatusCode, body)
	}
	if fnShim != relayURL {
		t.Errorf("the function got %s %q, want the relay %s", api.HeaderShim, fnShim, relayURL)
	}
	shimtest.Want(t, client.New(shim.URL, client.WithToken(token)), map[string]string{"k": "v"})
}
