package server

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aft-shim/aft/api"
	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/shim/store/faults"
	"github.com/aft-shim/aft/shim/store/mem"
	"github.com/aft-shim/aft/shim/txn"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// batchResults decodes the results of a batch answer.
func batchResults(t *testing.T, b []byte) []api.BatchResult {
	t.Helper()
	var a api.BatchAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("batch answer %q: %v", b, err)
	}
	return a.Results
}

// A batch answers each op as its single call would, in order, and goes on after an op's
// own error; its writes are the transaction's, as single writes are.
func TestBatchAnswersAsTheSingleCalls(t *testing.T) {
	ts, _ := newServer(t, txn.Config{MaxValueSize: 16, MaxTxnBytes: 64, MaxBufferedBytes: 1 << 20})
	c := client.New(ts.URL)
	w, _ := c.Begin(ctx, "")
	c.Put(ctx, w.ID, "b", []byte("committed b"))
	c.Put(ctx, w.ID, "gone", []byte("x"))
	first, _ := c.Commit(ctx, w.ID, nil)
	d, _ := c.Begin(ctx, "")
	c.Delete(ctx, d.ID, "gone")
	deleted, _ := c.Commit(ctx, d.ID, nil)

	id := beginID(t, ts)
	body := fmt.Sprintf(`{"ops": [
		{"op": "write", "key": "a", "value": %q},
		{"op": "read", "key": "b"},
		{"op": "read", "key": "a"},
		{"op": "delete", "key": "c"},
		{"op": "read", "key": "missing"},
		{"op": "read", "key": "gone"},
		{"op": "write", "key": "", "value": ""},
		{"op": "write", "key": "big", "value": %q},
		{"op": "read", "key": "c"}]}`, b64("mine"), b64(strings.Repeat("x", 17)))
	status, code, b := call(t, ts, "POST", "/v1/txns/"+id+"/batch", nil, body)
	if status != 200 {
		t.Fatalf("batch = %d %s %s", status, code, b)
	}
	got := batchResults(t, b)
	for i := range got {
		got[i].Error = "" // texts for people; the codes are the contract
	}
	committedB := []byte("committed b")
	mine := []byte("mine")
	want := []api.BatchResult{
		{Status: 204},
		{Status: 200, Value: &committedB, Version: first.Version},
		{Status: 200, Value: &mine, OwnWrite: true},
		{Status: 204},
		{Status: 404, Code: "key_not_found"},
		{Status: 404, Code: "key_not_found", Version: deleted.Version},
		{Status: 400, Code: "bad_key"},
		{Status: 413, Code: "value_too_large"},
		{Status: 404, Code: "key_not_found"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	if _, err := c.Commit(ctx, id, nil); err != nil {
		t.Fatal(err)
	}
	r, _ := c.Begin(ctx, "")
	if v, err := c.Get(ctx, r.ID, "a"); err != nil || string(v.Bytes) != "mine" {
		t.Errorf("after commit read a = %q, %v; want the batch's write", v.Bytes, err)
	}
}

// An error of the transaction or of the batch answers the whole request, as the single
// call would, and runs no op after it.
func TestBatchWholeRequestErrors(t *testing.T) {
	ts, _ := newServer(t, txn.Config{})
	c := client.New(ts.URL)
	aborted, _ := c.Begin(ctx, "")
	c.Abort(ctx, aborted.ID)
	running := beginID(t, ts)
	tooMany := `{"ops": [` + strings.TrimSuffix(strings.Repeat(`{"op": "read", "key": "k"},`, api.MaxBatchOps+1), ",") + `]}`
	for _, tt := range []struct {
		name, id, body string
		status         int
		code           string
	}{
		{"unknown txn", "0123456789abcdef0123456789abcdef", `{"ops": [{"op": "read", "key": "k"}]}`, 404, "txn_not_found"},
		{"aborted txn", aborted.ID, `{"ops": [{"op": "write", "key": "k", "value": ""}]}`, 409, "aborted"},
		{"not JSON", running, `{"ops": [`, 400, "bad_batch"},
		{"empty body", running, ``, 400, "bad_batch"},
		{"unknown field", running, `{"ops": [], "extra": 1}`, 400, "bad_batch"},
		{"two objects", running, `{"ops": []} {}`, 400, "bad_batch"},
		{"unknown op", running, `{"ops": [{"op": "get", "key": "k"}]}`, 400, "bad_batch"},
		{"write without value", running, `{"ops": [{"op": "write", "key": "k"}]}`, 400, "bad_batch"},
		{"read with value", running, `{"ops": [{"op": "read", "key": "k", "value": ""}]}`, 400, "bad_batch"},
		{"bad base64", running, `{"ops": [{"op": "write", "key": "k", "value": "!!"}]}`, 400, "bad_batch"},
		{"too many ops", running, tooMany, 413, "batch_too_large"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if status, code, b := call(t, ts, "POST", "/v1/txns/"+tt.id+"/batch", nil, tt.body); status != tt.status || code != tt.code {
				t.Errorf("= %d %s %s, want %d %s", status, code, b, tt.status, tt.code)
			}
		})
	}
	// None of the refused batches wrote anything.
	if v, err := c.Get(ctx, running, "k"); err == nil {
		t.Errorf("a refused batch wrote k = %q", v.Bytes)
	}
	if status, _, _ := call(t, ts, "GET", "/v1/txns/"+running+"/batch", nil, ""); status != 405 {
		t.Errorf("GET batch = %d, want 405", status)
	}
}

// A transaction whose commit was tried refuses writes: a batch that writes stops there with
// 409 commit_tried, and the ops after it do not run.
func TestBatchStopsAtATransactionError(t *testing.T) {
	st, ctl := faults.Wrap(mem.New(), faults.Options{})
	m, err := txn.New(ctx, st, txn.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(New(m, prometheus.NewRegistry(), nil))
	t.Cleanup(func() { ts.Close(); m.Close() })
	c := client.New(ts.URL)
	id := beginID(t, ts)
	c.Put(ctx, id, "a", []byte("1"))
	ctl.SetDown(true)
	if _, err := c.Commit(ctx, id, nil); err == nil {
		t.Fatal("commit over a store that is down succeeded")
	}
	ctl.SetDown(false)
	body := `{"ops": [{"op": "read", "key": "a"}, {"op": "delete", "key": "a"}, {"op": "read", "key": "a"}]}`
	if status, code, b := call(t, ts, "POST", "/v1/txns/"+id+"/batch", nil, body); status != 409 || code != "commit_tried" {
		t.Errorf("batch after a commit try = %d %s %s, want 409 commit_tried", status, code, b)
	}
	if _, err := c.Commit(ctx, id, nil); err != nil {
		t.Fatalf("retried commit: %v", err)
	}
	r, _ := c.Begin(ctx, "")
	if v, err := c.Get(ctx, r.ID, "a"); err != nil || string(v.Bytes) != "1" {
		t.Errorf("read a = %q, %v; want 1: the batch's delete must not have run", v.Bytes, err)
	}
}

// POST /v1/txns with a batch begins and runs the ops in one call; a committed key's winner
// runs none.
func TestBeginWithOps(t *testing.T) {
	ts, _ := newServer(t, txn.Config{})
	c := client.New(ts.URL)
	body := fmt.Sprintf(`{"ops": [{"op": "write", "key": "x", "value": %q}, {"op": "read", "key": "x"}]}`, b64("1"))
	status, code, b := call(t, ts, "POST", "/v1/txns", map[string]string{api.HeaderIdempotencyKey: "req"}, body)
	if status != 201 {
		t.Fatalf("begin with ops = %d %s %s", status, code, b)
	}
	var began struct {
		ID, Status string
		Attempt    int
		Results    []api.BatchResult
	}
	json.Unmarshal(b, &began)
	one := "1"
	if began.Status != "running" || began.Attempt != 1 || len(began.Results) != 2 || began.Results[0].Status != 204 ||
		began.Results[1].Value == nil || string(*began.Results[1].Value) != one {
		t.Fatalf("begin with ops answered %s", b)
	}
	if _, err := c.Commit(ctx, began.ID, []byte("done")); err != nil {
		t.Fatal(err)
	}
	body = fmt.Sprintf(`{"ops": [{"op": "write", "key": "y", "value": %q}]}`, b64("2"))
	status, _, b = call(t, ts, "POST", "/v1/txns", map[string]string{api.HeaderIdempotencyKey: "req"}, body)
	if status != 200 || strings.Contains(string(b), "results") || !strings.Contains(string(b), began.ID) {
		t.Errorf("begin with ops of a committed key = %d %s, want 200, the winner, no results", status, b)
	}
	r, _ := c.Begin(ctx, "")
	if _, err := c.Get(ctx, r.ID, "y"); err == nil {
		t.Error("a begin answered with the winner ran its ops")
	}
	if status, code, _ := call(t, ts, "POST", "/v1/txns", nil, `{"ops": 1}`); status != 400 || code != "bad_batch" {
		t.Errorf("begin with a bad batch = %d %s, want 400 bad_batch", status, code)
	}
	if status, _, b := call(t, ts, "POST", "/v1/txns", nil, ""); status != 201 || strings.Contains(string(b), "results") {
		t.Errorf("begin without a body = %d %s, want 201 without results", status, b)
	}
}
