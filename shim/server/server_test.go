package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/shim/auth"
	"github.com/aft-shim/aft/shim/peer"
	"github.com/aft-shim/aft/shim/ra"
	"github.com/aft-shim/aft/shim/record"
	"github.com/aft-shim/aft/shim/store/mem"
	"github.com/aft-shim/aft/shim/txn"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
)

var ctx = context.Background()

func newServer(t testing.TB, cfg txn.Config) (*httptest.Server, *txn.Manager) {
	t.Helper()
	m, err := txn.New(ctx, mem.New(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(New(m, prometheus.NewRegistry(), nil))
	t.Cleanup(func() { ts.Close(); m.Close() })
	return ts, m
}

// call sends a raw request and returns status, decoded error code (if JSON) and body.
func call(t testing.TB, ts *httptest.Server, method, path string, h map[string]string, body string) (int, string, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body == "" {
		req.Body = http.NoBody
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e struct{ Code string }
	if resp.StatusCode >= 400 {
		if err := json.Unmarshal(b, &e); err != nil || e.Code == "" {
			t.Errorf("%s %s: %d answer is not the JSON error shape: %q", method, path, resp.StatusCode, b)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s: error Content-Type %q", method, path, ct)
		}
	}
	return resp.StatusCode, e.Code, b
}

func beginID(t *testing.T, ts *httptest.Server) string {
	t.Helper()
	code, _, b := call(t, ts, "POST", "/v1/txns", nil, "")
	var j struct{ ID, Status string }
	if err := json.Unmarshal(b, &j); code != 201 || err != nil || j.Status != "running" {
		t.Fatalf("begin = %d %s", code, b)
	}
	return j.ID
}

func TestAPIErrors(t *testing.T) {
	ts, _ := newServer(t, txn.Config{MaxValueSize: 100, MaxTxnBytes: 1000, MaxBufferedBytes: 10000, MaxReadSet: 1})
	id := beginID(t, ts)
	done := beginID(t, ts)
	call(t, ts, "POST", "/v1/txns/"+done+"/abort", nil, "")
	unknown := "/v1/txns/00000000000000000000000000000000"
	tests := []struct {
		name         string
		method, path string
		h            map[string]string
		body         string
		wantStatus   int
		wantCode     string
	}{
		{"unknown txn read", "GET", unknown + "/keys/a", nil, "", 404, "txn_not_found"},
		{"unknown txn write", "PUT", unknown + "/keys/a", nil, "v", 404, "txn_not_found"},
		{"unknown txn status", "GET", unknown, nil, "", 404, "txn_not_found"},
		{"unknown txn commit", "POST", unknown + "/commit", nil, "", 404, "txn_not_found"},
		{"missing key", "GET", "/v1/txns/" + id + "/keys/nope", nil, "", 404, "key_not_found"},
		{"read set too large", "GET", "/v1/txns/" + id + "/keys/other", nil, "", 413, "read_set_too_large"},
		{"read of a key read before", "GET", "/v1/txns/" + id + "/keys/nope", nil, "", 404, "key_not_found"},
		{"empty key", "PUT", "/v1/txns/" + id + "/keys/", nil, "v", 400, "bad_key"},
		{"NUL key", "PUT", "/v1/txns/" + id + "/keys/a%00b", nil, "v", 400, "bad_key"},
		{"key too long", "PUT", "/v1/txns/" + id + "/keys/" + strings.Repeat("k", 1025), nil, "v", 400, "bad_key"},
		{"value too large", "PUT", "/v1/txns/" + id + "/keys/a", nil, strings.Repeat("v", 101), 413, "value_too_large"},
		{"write to aborted", "PUT", "/v1/txns/" + done + "/keys/a", nil, "v", 409, "aborted"},
		{"read in aborted", "GET", "/v1/txns/" + done + "/keys/a", nil, "", 409, "aborted"},
		{"commit aborted", "POST", "/v1/txns/" + done + "/commit", nil, "", 409, "aborted"},
		{"empty idempotency key", "POST", "/v1/txns", map[string]string{"Idempotency-Key": ""}, "", 400, "bad_idempotency_key"},
		{"long idempotency key", "POST", "/v1/txns", map[string]string{"Idempotency-Key": strings.Repeat("i", 257)}, "", 400, "bad_idempotency_key"},
		{"result too large", "POST", "/v1/txns/" + id + "/commit", nil, strings.Repeat("r", 1<<20+1), 413, "result_too_large"},
		{"wrong method", "PATCH", "/v1/txns/" + id + "/keys/a", nil, "", 405, "method_not_allowed"},
		{"wrong method begin", "GET", "/v1/txns", nil, "", 405, "method_not_allowed"},
		{"unknown path", "GET", "/v2/whatever", nil, "", 404, "not_found"},
		{"unknown txn subpath", "POST", "/v1/txns/" + id + "/explode", nil, "", 404, "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, errCode, body := call(t, ts, tt.method, tt.path, tt.h, tt.body)
			if code != tt.wantStatus || errCode != tt.wantCode {
				t.Errorf("%s %s = %d %q (%s), want %d %q", tt.method, tt.path, code, errCode, body, tt.wantStatus, tt.wantCode)
			}
		})
	}
	// A duplicated Idempotency-Key header is refused too.
	req, _ := http.NewRequest("POST", ts.URL+"/v1/txns", nil)
	req.Header.Add("Idempotency-Key", "a")
	req.Header.Add("Idempotency-Key", "b")
	if resp, err := ts.Client().Do(req); err != nil || resp.StatusCode != 400 {
		t.Errorf("two Idempotency-Key headers: %v %v, want 400", resp.StatusCode, err)
	}
}

func TestAPIFlowWithClient(t *testing.T) {
	ts, _ := newServer(t, txn.Config{})
	c := client.New(ts.URL)
	keys := []string{"plain", "a/b", "..", ".", "%2F", "sp ace", "\xff\x01", strings.Repeat("k", 1024)}
	w, err := c.Begin(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range keys {
		if err := c.Put(ctx, w.ID, k, []byte{byte(i)}); err != nil {
			t.Fatalf("put %q: %v", k, err)
		}
		v, err := c.Get(ctx, w.ID, k)
		if err != nil || !v.OwnWrite || !bytes.Equal(v.Bytes, []byte{byte(i)}) {
			t.Fatalf("read own write of %q = %+v, %v", k, v, err)
		}
	}
	if err := c.Put(ctx, w.ID, "empty", nil); err != nil {
		t.Fatal(err)
	}
	info, err := c.Commit(ctx, w.ID, nil)
	if err != nil || !info.Committed() || info.Version == "" {
		t.Fatalf("commit = %+v, %v", info, err)
	}
	r, _ := c.Begin(ctx, "")
	for i, k := range keys {
		v, err := c.Get(ctx, r.ID, k)
		if err != nil || !bytes.Equal(v.Bytes, []byte{byte(i)}) || v.Version != info.Version {
			t.Errorf("read %q = %+v, %v; want %d at %s", k, v, err, i, info.Version)
		}
	}
	if v, err := c.Get(ctx, r.ID, "empty"); err != nil || len(v.Bytes) != 0 {
		t.Errorf("read of an empty value = %+v, %v", v, err)
	}
	// Delete: a tombstone, read as key_not_found with its version.
	d, _ := c.Begin(ctx, "")
	c.Delete(ctx, d.ID, "plain")
	del, _ := c.Commit(ctx, d.ID, nil)
	r2, _ := c.Begin(ctx, "")
	var ce *client.Error
	if _, err := c.Get(ctx, r2.ID, "plain"); !errors.Is(err, client.ErrKeyNotFound) || !errors.As(err, &ce) || ce.Version != del.Version {
		t.Errorf("read of deleted key: %v, want key_not_found at %s", err, del.Version)
	}
	// Idempotency: first commit wins, begin returns the winner and its result.
	a1, _ := c.Begin(ctx, "req-1")
	a2, _ := c.Begin(ctx, "req-1")
	if a1.Attempt != 1 || a2.Attempt != 2 {
		t.Errorf("attempts %d, %d; want 1, 2", a1.Attempt, a2.Attempt)
	}
	if _, err := c.Commit(ctx, a1.ID, []byte("the result")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Commit(ctx, a1.ID, []byte("the result")); err != nil {
		t.Errorf("repeated commit: %v", err)
	}
	if _, err := c.Commit(ctx, a2.ID, nil); !errors.Is(err, client.ErrFenced) || !errors.As(err, &ce) || ce.Winner != a1.ID || string(ce.Result) != "the result" {
		t.Errorf("second attempt commit: %v, want fenced by %s with its result", err, a1.ID)
	}
	again, err := c.Begin(ctx, "req-1")
	if err != nil || !again.Committed() || again.ID != a1.ID || string(again.Result) != "the result" {
		t.Errorf("begin of committed key = %+v, %v", again, err)
	}
	if s, err := c.Status(ctx, a2.ID); err != nil || s.Status != "fenced" {
		t.Errorf("status of the fenced attempt = %+v, %v", s, err)
	}
	if _, err := c.Abort(ctx, a1.ID); !errors.Is(err, client.ErrCommitted) {
		t.Errorf("abort after commit: %v", err)
	}
}

func TestOperations(t *testing.T) {
	ts, _ := newServer(t, txn.Config{})
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, _, _ := call(t, ts, "GET", path, nil, ""); code != 200 {
			t.Errorf("%s = %d", path, code)
		}
	}
	beginID(t, ts)
	code, _, b := call(t, ts, "GET", "/metrics", nil, "")
	for _, want := range []string{"aft_txns_begun_total 1", "aft_commit_duration_seconds", "aft_http_requests_total", "process_resident_memory_bytes"} {
		if code != 200 || !bytes.Contains(b, []byte(want)) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// FuzzHandler throws arbitrary requests at the API around committed values, which must
// survive unchanged, and checks every answer has a known status and, when an error, the
// JSON error shape. The committed keys are ones the fuzzer names (the seeds do, in several
// encodings), and "DONE" in a path stands for the transaction that committed them, "ID" for
// a running one: an input may write, delete, commit or abort either, and none may change a
// committed value, since one request cannot both write and commit.
func FuzzHandler(f *testing.F) {
	// A node on a shared store (mem is store.Ordered), so that pushes reach Learn.
	m, err := txn.New(ctx, mem.New(), txn.Config{Node: "fuzz", MaxValueSize: 1 << 10, MaxTxnBytes: 1 << 14, MaxBufferedBytes: 1 << 20})
	if err != nil {
		f.Fatal(err)
	}
	defer m.Close()
	h := New(m, prometheus.NewRegistry(), nil)
	// Tokens of the default tenant (the precious data's) and of tenant a.
	tokens := map[string]string{"default": auth.NewToken(), "a": auth.NewToken()}
	tab, err := auth.Parse(strings.NewReader(auth.Line("default", tokens["default"]) + "\n" + auth.Line("a", tokens["a"]) + "\n"))
	if err != nil {
		f.Fatal(err)
	}
	h.Auth = tab
	c := client.New("http://fuzz", client.WithToken(tokens["default"]), client.WithHTTPClient(&http.Client{Transport: handlerTransport{h}}))
	precious := map[string]string{"k": "committed value", "a/b": "another", "%": ""}
	w, _ := c.Begin(ctx, "")
	for k, v := range precious {
		c.Put(ctx, w.ID, k, []byte(v))
	}
	before, err := c.Commit(ctx, w.ID, []byte("its result"))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"/v1/txns", "/v1/txns/ID/keys/k", "/v1/txns/ID/commit", "/v1/txns/ID/abort", "/v1/txns/ID",
		"/v1/txns/ID/keys/%2F..%00", "/healthz", "/v1/keys?prefix=a&limit=2", "/v1/txns/ID/keys/%6B", "/v1/txns/ID/keys/a/b",
		"/v1/txns/ID/keys/a%2Fb", "/v1/txns/ID/keys/%25", "/v1/txns/DONE/keys/k", "/v1/txns/DONE/keys/a%2Fb",
		"/v1/txns/DONE/keys/%25", "/v1/txns/DONE/commit", "/v1/txns/DONE/abort", "/v1/txns/DONE"} {
		for _, method := range []string{"GET", "PUT", "POST", "DELETE"} {
			f.Add(method, s, "body", "", "default")
			f.Add(method, s, "body", "", "a")
		}
	}
	f.Add("POST", "/v1/txns", "", "key", "default")
	f.Add("GET", "/v1/keys", "", "", "Bearer")
	f.Add("GET", "/v1/txns/ID", "", "", "Basic x")
	forged := record.Record{Version: ra.Version{TS: 7, Txn: strings.Repeat("a", 32)}, Writes: []record.Write{{Key: "k"}}}
	f.Add("POST", peer.Path, string(peer.Append(nil, peer.Commit{Stamp: 9, Record: forged.Marshal()})), "", "a")
	for _, body := range []string{`{"ops": [{"op": "write", "key": "k", "value": "dg=="}, {"op": "read", "key": "k"}]}`,
		`{"ops": [{"op": "delete", "key": "a/b"}, {"op": "read", "key": "%"}]}`, `{"ops": []}`, `{"ops": [{"op": "read"}]}`} {
		f.Add("POST", "/v1/txns/ID/batch", body, "", "default")
		f.Add("POST", "/v1/txns/DONE/batch", body, "", "a")
		f.Add("POST", "/v1/txns", body, "key", "a")
	}
	allowed := map[int]bool{200: true, 201: true, 204: true, 400: true, 401: true, 404: true, 405: true, 409: true, 413: true, 503: true}
	// who is a tenant whose token the request carries, or the Authorization header itself.
	f.Fuzz(func(t *testing.T, method, path, body, idem, who string) {
		open, err := c.Begin(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Abort(ctx, open.ID) // also when the input is no request at all
		path = strings.ReplaceAll(path, "DONE", w.ID)
		path = strings.ReplaceAll(path, "ID", open.ID)
		req, err := http.NewRequest(method, "http://fuzz"+path, strings.NewReader(body))
		if err != nil || !strings.HasPrefix(path, "/") {
			return
		}
		if idem != "" {
			req.Header.Set("Idempotency-Key", idem)
		}
		if token, ok := tokens[who]; ok {
			req.Header.Set("Authorization", "Bearer "+token)
		} else if who != "" {
			req.Header.Set("Authorization", who)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if !allowed[rec.Code] {
			t.Fatalf("%s %q: status %d: %s", method, path, rec.Code, rec.Body)
		}
		if rec.Code >= 400 {
			var e struct{ Error, Code string }
			if json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Error == "" || e.Code == "" {
				t.Fatalf("%s %q: %d answer not the JSON error shape: %q", method, path, rec.Code, rec.Body)
			}
		}
		c.Abort(ctx, open.ID)
		if rec.Code == http.StatusCreated { // the input began a transaction: end it, as a client would
			var began struct{ ID string }
			if json.Unmarshal(rec.Body.Bytes(), &began) == nil && began.ID != "" {
				ca := client.New("http://fuzz", client.WithToken(tokens[who]), client.WithHTTPClient(&http.Client{Transport: handlerTransport{h}}))
				if _, err := ca.Abort(ctx, began.ID); err != nil && who != "default" && who != "a" {
					t.Fatalf("a transaction began with Authorization %q: %v", who, err)
				}
				c.Abort(ctx, began.ID)
			}
		}
		if n := m.Running(); n > 0 {
			t.Fatalf("%d transactions still running after %s %q and the aborts of what it began", n, method, path)
		}
		r, err := c.Begin(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Abort(ctx, r.ID)
		for k, want := range precious {
			v, err := c.Get(ctx, r.ID, k)
			if err != nil || string(v.Bytes) != want || v.Version != before.Version {
				t.Fatalf("committed %q changed after %s %q: %+v %v, want %q at %s", k, method, path, v, err, want, before.Version)
			}
		}
	})
}

// handlerTransport serves requests in-process.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, req)
	return rec.Result(), nil
}

func TestListKeys(t *testing.T) {
	ts, _ := newServer(t, txn.Config{})
	c := client.New(ts.URL)
	w, _ := c.Begin(ctx, "")
	for _, k := range []string{"dlq/\xff1", "dlq/2", "dlq/3", "other"} {
		c.Put(ctx, w.ID, k, []byte("v"))
	}
	c.Commit(ctx, w.ID, nil)
	var got []string
	after := ""
	for pages := 0; pages < 10; pages++ {
		keys, next, err := c.Keys(ctx, "dlq/", after, 2)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, keys...)
		if next == "" {
			break
		}
		after = next
	}
	if want := []string{"dlq/2", "dlq/3", "dlq/\xff1"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("listed %q, want %q", got, want)
	}
	if code, errCode, _ := call(t, ts, "GET", "/v1/keys?limit=0", nil, ""); code != 400 || errCode != "bad_limit" {
		t.Errorf("limit=0: %d %s", code, errCode)
	}
}

// TestListKeysPagesOnTheWire: next is passed back as after as it is (both base64), and a
// listing of keys holding any byte returns each exactly once.
func TestListKeysPagesOnTheWire(t *testing.T) {
	ts, _ := newServer(t, txn.Config{})
	c := client.New(ts.URL)
	want := []string{"p/+", "p/%", "p/%2F", "p/=", "p/a b", "p/a+b", "p/a/b", "p/\x01", "p/\xfe\xff", "p/\xff", "p/\u00fc", "p/z"}
	w, _ := c.Begin(ctx, "")
	for _, k := range append([]string{"o/1", "q/1"}, want...) {
		c.Put(ctx, w.ID, k, []byte("v"))
	}
	if _, err := c.Commit(ctx, w.ID, nil); err != nil {
		t.Fatal(err)
	}
	slices.Sort(want)
	for _, limit := range []int{1, 2, 5, 1000} {
		var got []string
		next := ""
		for pages := 0; pages <= len(want); pages++ {
			q := url.Values{"prefix": {"p/"}, "limit": {strconv.Itoa(limit)}}
			if next != "" {
				q.Set("after", next)
			}
			code, _, b := call(t, ts, "GET", "/v1/keys?"+q.Encode(), nil, "")
			var page struct {
				Keys []string
				Next *string
			}
			if err := json.Unmarshal(b, &page); code != 200 || err != nil {
				t.Fatalf("limit %d: GET /v1/keys?%s = %d %s", limit, q.Encode(), code, b)
			}
			for _, k := range page.Keys {
				raw, err := base64.StdEncoding.DecodeString(k)
				if err != nil {
					t.Fatalf("key %q is not base64: %v", k, err)
				}
				got = append(got, string(raw))
			}
			if page.Next == nil {
				break
			}
			next = *page.Next
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("limit %d: paging with next as after listed (-want +got):\n%s", limit, diff)
		}
		// The client pages the same way with the keys themselves.
		got = got[:0]
		after := ""
		for pages := 0; pages <= len(want); pages++ {
			keys, next, err := c.Keys(ctx, "p/", after, limit)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, keys...)
			if next == "" {
				break
			}
			after = next
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("limit %d: client.Keys listed (-want +got):\n%s", limit, diff)
		}
	}
	for _, bad := range []string{"not base64!", "cA", "p/"} {
		if code, errCode, b := call(t, ts, "GET", "/v1/keys?after="+url.QueryEscape(bad), nil, ""); code != 400 || errCode != "bad_after" {
			t.Errorf("after=%q: %d %s, want 400 bad_after", bad, code, b)
		}
	}
}
