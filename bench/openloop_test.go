package bench

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/shim/store/mem"
)

// startMemShim serves a shim over a fresh in-memory store for one test.
func startMemShim(t *testing.T) *Shim {
	t.Helper()
	s, err := StartShim(context.Background(), mem.New())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestAttackTxnEndpoint paces whole transactions with vegeta against a shim in this
// process: every hit is one transaction through the API, and each call is recorded.
func TestAttackTxnEndpoint(t *testing.T) {
	shim := startMemShim(t)
	steps := new(Steps)
	hc := &http.Client{Transport: &TxnTransport{Fn: AftTxnSteps(client.New(shim.URL), steps)}}
	shape := Shape{Writes: 2, Reads: 4, Keys: 50, ValueSize: 64, Zipf: 1.1}
	var ticks int
	res, err := Attack(context.Background(), ShapeTargeter(TxnScheme+"://shim/", shape, 1), hc,
		OpenOptions{Rate: 100, Duration: time.Second, Progress: func(int64, time.Duration) { ticks++ }, ProgressEvery: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// The pacer never sends more than the rate allows; on a starved machine it may send
	// fewer, so only the upper bound is the machine's no matter how busy.
	if res.Requests == 0 || res.Requests > 110 || res.Successes != res.Requests || res.Errors != 0 {
		t.Errorf("%d requests, %d successes, %d errors (last %q); want up to 100, all committed", res.Requests, res.Successes, res.Errors, res.LastErr)
	}
	var committed float64
	for _, m := range scrape(shim.Registry, "shim", "mem", 0) {
		if m.Name == "aft_txns_committed_total" {
			committed = m.Value
		}
	}
	if committed != float64(res.Successes) {
		t.Errorf("the shim committed %v transactions, the attack counted %d successes: want one each", committed, res.Successes)
	}
	if res.Codes["200"] != res.Successes {
		t.Errorf("codes %v, want %d x 200", res.Codes, res.Successes)
	}
	if l := res.lat.summary(); l.P50 <= 0 || l.P50 > l.P99 || l.P99 > l.Max {
		t.Errorf("latency %+v: want 0 < p50 <= p99 <= max", l)
	}
	if ticks < 3 {
		t.Errorf("%d progress calls in a second at 200ms, want at least 3", ticks)
	}
	got := steps.Summary()
	for _, s := range []string{StepBegin, StepWrite, StepRead, StepCommit} {
		if got[s].P50 <= 0 {
			t.Errorf("step %s not recorded: %+v", s, got)
		}
	}
	// The writes are there, committed: a new transaction reads at least one written key.
	c := client.New(shim.URL)
	tx, _ := c.Begin(context.Background(), "")
	found := 0
	for i := range shape.Keys {
		if _, err := c.Get(context.Background(), tx.ID, keyName(i)); err == nil {
			found++
		}
	}
	if found == 0 {
		t.Error("no key written by the attack is visible")
	}
}

// TestAttackCountsErrors: failed transactions are errors with their message, not latencies.
func TestAttackCountsErrors(t *testing.T) {
	boom := errors.New("boom")
	hc := &http.Client{Transport: &TxnTransport{Fn: func(context.Context, []string, []string, []byte) error { return boom }}}
	res, err := Attack(context.Background(), ShapeTargeter(TxnScheme+"://x/", PaperShape, 1), hc, OpenOptions{Rate: 50, Duration: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Successes != 0 || res.Errors == 0 || res.Errors != res.Codes["503"] || res.lat.n != 0 {
		t.Errorf("%+v: want only 503 errors", res)
	}
	if res.LastErr != "503 Service Unavailable: boom" {
		t.Errorf("last error %q", res.LastErr)
	}
	if _, err := Attack(context.Background(), nil, hc, OpenOptions{}); err == nil {
		t.Error("an attack without rate and duration ran")
	}
}

// TestGateway runs the paper-shape function through the middleware (aft) and directly
// (plain), closed and open loop.
func TestGateway(t *testing.T) {
	shim := startMemShim(t)
	plain := mem.New()
	fn, err := Serve(ShapeFunction(plain))
	if err != nil {
		t.Fatal(err)
	}
	defer fn.Close()
	gw, mw, err := Gateway(shim.URL, fn.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	defer mw.Wait(context.Background())
	shape := Shape{Writes: 2, Reads: 4, Keys: 20, ValueSize: 32}
	hc := LoadClient(4)
	for _, url := range []string{gw.URL, fn.URL} {
		res, err := Run(context.Background(), Options{Shape: shape, Clients: 4, Txns: 40}, HTTPTxn(hc, url))
		if err != nil || res.Txns != 40 || res.Errors != 0 {
			t.Errorf("closed loop on %s: %v, %v", url, res, err)
		}
		o, err := Attack(context.Background(), ShapeTargeter(url+"/", shape, 2), hc, OpenOptions{Rate: 50, Duration: 300 * time.Millisecond})
		if err != nil || o.Successes == 0 || o.Errors != 0 {
			t.Errorf("open loop on %s: %+v, %v", url, o, err)
		}
	}
	// Through the gateway the writes went to the shim, directly to the plain store.
	if keys, _, err := client.New(shim.URL).Keys(context.Background(), "key-", "", 100); err != nil || len(keys) == 0 {
		t.Errorf("keys at the shim: %v, %v; want the function's writes", keys, err)
	}
	if _, err := plain.Get(context.Background(), "d/key-0000"); err != nil {
		t.Errorf("plain store: %v; want the direct calls' writes", err)
	}
	// Without the middleware and without a plain store, the function refuses.
	bare, _ := Serve(ShapeFunction(nil))
	defer bare.Close()
	if err := HTTPTxn(hc, bare.URL)(context.Background(), []string{"a"}, nil, nil); !errors.Is(err, ErrStatus) {
		t.Errorf("function without aft or store: %v, want a 400", err)
	}
}

func keyName(i int) string {
	return "key-" + string(rune('0'+i/1000%10)) + string(rune('0'+i/100%10)) + string(rune('0'+i/10%10)) + string(rune('0'+i%10))
}
