package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/shim/auth"
	"github.com/aft-shim/aft/shim/store/mem"
	"github.com/aft-shim/aft/shim/txn"
	"github.com/prometheus/client_golang/prometheus"
)

// authServer serves a manager with tokens for tenants a and b and the default tenant.
func authServer(t *testing.T, cfg txn.Config) (ts *httptest.Server, tokens map[string]string) {
	t.Helper()
	tokens = map[string]string{"a": auth.NewToken(), "b": auth.NewToken(), "default": auth.NewToken()}
	var file strings.Builder
	for tenant, token := range tokens {
		file.WriteString(auth.Line(tenant, token) + "\n")
	}
	tab, err := auth.Parse(strings.NewReader(file.String()))
	if err != nil {
		t.Fatal(err)
	}
	m, err := txn.New(ctx, mem.New(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := New(m, prometheus.NewRegistry(), nil)
	s.Auth = tab
	ts = httptest.NewServer(s)
	t.Cleanup(func() { ts.Close(); m.Close() })
	return ts, tokens
}

func TestAuth(t *testing.T) {
	ts, tokens := authServer(t, txn.Config{})
	bearer := func(tenant string) map[string]string {
		return map[string]string{"Authorization": "Bearer " + tokens[tenant]}
	}
	for _, h := range []map[string]string{nil, {"Authorization": "Bearer " + auth.NewToken()}, {"Authorization": "Basic " + tokens["a"]},
		{"Authorization": "Bearer " + tokens["a"] + "x"}} {
		for _, p := range []string{"/v1/txns", "/v1/keys", "/v1/nodes", "/v1/txns/" + strings.Repeat("a", 32)} {
			code, ecode, _ := call(t, ts, "POST", p, h, "")
			if code != 401 || ecode != "unauthorized" {
				t.Errorf("POST %s with %v: %d %s, want 401 unauthorized", p, h, code, ecode)
			}
		}
	}
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		if code, _, _ := call(t, ts, "GET", p, nil, ""); code != 200 {
			t.Errorf("GET %s without a token: %d, want 200", p, code)
		}
	}
	// Tenant a's transaction is unknown to b and to the default tenant, on every route.
	ca := client.New(ts.URL, client.WithToken(tokens["a"]))
	txA, err := ca.Begin(ctx, "k1")
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Put(ctx, txA.ID, "k", []byte("a's")); err != nil {
		t.Fatal(err)
	}
	for _, other := range []string{"b", "default"} {
		for _, r := range []struct{ method, path string }{{"GET", ""}, {"GET", "/keys/k"}, {"PUT", "/keys/k"}, {"DELETE", "/keys/k"},
			{"POST", "/commit"}, {"POST", "/abort"}, {"POST", "/batch"}} {
			code, ecode, _ := call(t, ts, r.method, "/v1/txns/"+txA.ID+r.path, bearer(other), "")
			if code != 404 || ecode != "txn_not_found" {
				t.Errorf("%s %s with %s's token: %d %s, want 404 txn_not_found", r.method, r.path, other, code, ecode)
			}
		}
	}
	if _, err := ca.Commit(ctx, txA.ID, []byte("a's result")); err != nil {
		t.Fatalf("a's commit after the others tried: %v", err)
	}
	cb := client.New(ts.URL, client.WithToken(tokens["b"]))
	txB, err := cb.Begin(ctx, "k1")
	if err != nil || txB.Committed() {
		t.Fatalf("b's begin with a's committed idempotency key: %+v %v, want a new attempt", txB, err)
	}
	if _, err := cb.Get(ctx, txB.ID, "k"); err == nil {
		t.Error("b reads a's key")
	}
	if keys, _, err := cb.Keys(ctx, "", "", 10); err != nil || len(keys) != 0 {
		t.Errorf("b lists %q, %v; want nothing", keys, err)
	}
	if keys, _, err := ca.Keys(ctx, "", "", 10); err != nil || len(keys) != 1 || keys[0] != "k" {
		t.Errorf("a lists %q, %v; want [k]", keys, err)
	}
	_, _, metrics := call(t, ts, "GET", "/metrics", nil, "")
	for _, series := range []string{`aft_tenant_requests_total{class="4xx",tenant="b"}`, `aft_tenant_txns_running{tenant="b"} 1`,
		`aft_tenant_txns_running{tenant="a"} 0`} {
		if !strings.Contains(string(metrics), series) {
			t.Errorf("no %s in /metrics", series)
		}
	}
}

func TestTenantBusy(t *testing.T) {
	ts, tokens := authServer(t, txn.Config{TenantMaxRunning: 1})
	h := map[string]string{"Authorization": "Bearer " + tokens["a"]}
	if code, _, b := call(t, ts, "POST", "/v1/txns", h, ""); code != 201 {
		t.Fatalf("begin: %d %s", code, b)
	}
	req, _ := http.NewRequest("POST", ts.URL+"/v1/txns", nil)
	req.Header.Set("Authorization", h["Authorization"])
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("tenant a's second begin: %d Retry-After %q, want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if code, _, b := call(t, ts, "POST", "/v1/txns", map[string]string{"Authorization": "Bearer " + tokens["b"]}, ""); code != 201 {
		t.Errorf("tenant b's begin while a is at its limit: %d %s", code, b)
	}
}
