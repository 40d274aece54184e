package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aft-shim/aft/shim/txn"
)

// A begin past the running-transaction or idempotency-key cap answers 503 busy with
// Retry-After, naming the limit.
func TestBeginPastCapsIsBusy(t *testing.T) {
	ts, _ := newServer(t, txn.Config{MaxRunning: 2, MaxIdemKeys: 1})
	begin := func(key string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("POST", ts.URL+"/v1/txns", http.NoBody)
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := begin("a"); r.StatusCode != 201 {
		t.Fatalf("first begin: %d", r.StatusCode)
	}
	checkBusy(t, ts, "POST", "/v1/txns", map[string]string{"Idempotency-Key": "b"}, "--max-idem-keys")
	if r := begin(""); r.StatusCode != 201 {
		t.Fatalf("second begin: %d", r.StatusCode)
	}
	checkBusy(t, ts, "POST", "/v1/txns", nil, "--max-running")
}

func checkBusy(t *testing.T, ts *httptest.Server, method, path string, h map[string]string, limit string) {
	t.Helper()
	req, _ := http.NewRequest(method, ts.URL+path, http.NoBody)
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct{ Error, Code string }
	json.NewDecoder(resp.Body).Decode(&e)
	if resp.StatusCode != 503 || e.Code != "busy" || !strings.Contains(e.Error, limit) {
		t.Errorf("%s %s past %s: %d %+v, want 503 busy naming the limit", method, path, limit, resp.StatusCode, e)
	}
	if ra := resp.Header.Get("Retry-After"); ra == "" {
		t.Errorf("%s %s past %s: no Retry-After", method, path, limit)
	}
}
