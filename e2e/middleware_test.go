package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/internal/launch"
	"github.com/aft-shim/aft/shim/shimtest"
	"github.com/aft-shim/aft/shim/store/mem"
)

// proxyReadyRE matches the line `aft proxy` prints when ready, with its address.
var proxyReadyRE = regexp.MustCompile(`^aft proxy: listening on (\S+) `)

// startProxy starts `aft proxy` with args on a free loopback port, waits for its ready
// line and returns its address and process; it is killed at cleanup.
func startProxy(t *testing.T, bin string, args ...string) (string, *aftProc) {
	t.Helper()
	p := startAftCmd(t, launch.Submatch(proxyReadyRE), 20*time.Second, bin, append([]string{"proxy", "--listen", "127.0.0.1:0"}, args...)...)
	return p.addr, p
}

// TestMiddlewareProxyRetry runs `aft proxy` as a process in front of a function that
// writes a counter and two keys through the shim and breaks its connection on the first
// attempt of each request: the caller gets one 2xx after two attempts, every key is written
// once, a duplicate is answered from the stored result, a request whose attempts all fail
// goes to the dead-letter queue, `aft dlq list` shows it and `aft dlq replay` sends it
// again once the function is healthy, and SIGTERM stops the proxy cleanly.
func TestMiddlewareProxyRetry(t *testing.T) {
	bin := aftBinary(t)
	shimSrv, _ := newShim(t, mem.New())
	shim := client.New(shimSrv.URL)

	var calls atomic.Int32
	var healthy atomic.Bool
	fn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		body, _ := io.ReadAll(r.Body)
		id, shimURL := r.Header.Get("X-Aft-Txn-Id"), r.Header.Get("X-Aft-Shim")
		if id == "" || shimURL != shimSrv.URL {
			http.Error(w, "no transaction", http.StatusBadRequest)
			return
		}
		c := shim // the client of X-Aft-Shim, checked above
		if r.URL.Path == "/fail" && !healthy.Load() {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		n := 0
		if v, err := c.Get(r.Context(), id, "count"); err == nil {
			n, _ = strconv.Atoi(string(v.Bytes))
		} else if !errors.Is(err, client.ErrKeyNotFound) {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		n++
		c.Put(r.Context(), id, "count", []byte(strconv.Itoa(n)))
		c.Put(r.Context(), id, "a", body)
		if r.Header.Get("X-Aft-Attempt") == "1" {
			panic(http.ErrAbortHandler) // the connection breaks between the two writes
		}
		c.Put(r.Context(), id, "b", body)
		fmt.Fprintf(w, "count=%d", n)
	}))
	defer fn.Close()

	addr, proxy := startProxy(t, bin, "--upstream", fn.URL, "--shim", shimSrv.URL, "--function", "e2e",
		"--attempts", "3", "--attempt-timeout", "5s", "--deadline", "20s", "--backoff-base", "10ms", "--backoff-max", "50ms")
	base := "http://" + addr

	post := func(path, key, body string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
		req.Header.Set("Idempotency-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	readKeys := func(keys ...string) []string {
		t.Helper()
		ctx := context.Background()
		tx, err := shim.Begin(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		defer shim.Abort(ctx, tx.ID)
		var out []string
		for _, k := range keys {
			v, err := shim.Get(ctx, tx.ID, k)
			if err != nil && !errors.Is(err, client.ErrKeyNotFound) {
				t.Fatal(err)
			}
			out = append(out, string(v.Bytes))
		}
		return out
	}

	resp, body := post("/orders", "e2e-1", "apples")
	if resp.StatusCode != 200 || body != "count=1" || resp.Header.Get("X-Aft-Attempts") != "2" {
		t.Fatalf("answer %d %q attempts %q, want 200 count=1 after 2 attempts; proxy log:\n%s", resp.StatusCode, body, resp.Header.Get("X-Aft-Attempts"), proxy.Tail())
	}
	if got := strings.Join(readKeys("count", "a", "b"), ","); got != "1,apples,apples" {
		t.Errorf("count,a,b = %s, want 1,apples,apples", got)
	}
	resp, body = post("/orders", "e2e-1", "apples")
	if resp.StatusCode != 200 || body != "count=1" || resp.Header.Get("X-Aft-Replayed") != "true" || calls.Load() != 2 {
		t.Errorf("duplicate: %d %q replayed=%q after %d calls, want the stored answer without a call", resp.StatusCode, body, resp.Header.Get("X-Aft-Replayed"), calls.Load())
	}

	// Retries exhausted: the last error, and a dead letter.
	resp, body = post("/fail", "e2e-dead", "pears")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("X-Aft-Attempts") != "3" {
		t.Fatalf("failing request: %d %q attempts %q, want 503 after 3", resp.StatusCode, body, resp.Header.Get("X-Aft-Attempts"))
	}
	aft := func(args ...string) (string, error) {
		out, err := exec.Command(bin, args...).CombinedOutput()
		return string(out), err
	}
	out, err := aft("dlq", "list", "--shim", shimSrv.URL)
	if err != nil || !strings.Contains(out, "e2e-dead") || !strings.Contains(out, "down for maintenance") || !strings.Contains(out, "POST /fail") {
		t.Fatalf("aft dlq list: %v\n%s", err, out)
	}
	t.Logf("aft dlq list:\n%s", out)
	healthy.Store(true)
	out, err = aft("dlq", "replay", "--shim", shimSrv.URL, "--target", base, "--key", "e2e-dead")
	if err != nil || !strings.Contains(out, "e2e-dead: 200 OK, removed") {
		t.Fatalf("aft dlq replay: %v\n%s", err, out)
	}
	out, err = aft("dlq", "list", "--shim", shimSrv.URL)
	if err != nil || strings.Contains(out, "e2e-dead") {
		t.Errorf("aft dlq list after the replay: %v\n%s", err, out)
	}
	if got := strings.Join(readKeys("count", "a", "b"), ","); got != "2,pears,pears" {
		t.Errorf("after the replay count,a,b = %s, want 2,pears,pears", got)
	}

	// Metrics on the proxy's own address.
	mresp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	for _, want := range []string{`aft_middleware_dead_requests_total{function="e2e"} 1`, `aft_middleware_replayed_total{function="e2e"} 1`} {
		if !strings.Contains(string(mb), want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	// SIGTERM: a clean exit.
	proxy.Signal(syscall.SIGTERM)
	select {
	case <-proxy.Exited():
		if code := proxy.Cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("exit status %d after SIGTERM; log:\n%s", code, proxy.Tail())
		}
	case <-time.After(20 * time.Second):
		t.Errorf("aft proxy still runs 20s after SIGTERM")
	}
}

// TestMiddlewareProxyKeepAliveDrop runs `aft proxy` in front of a function whose
// connections are kept alive, and which drops the connection of the first run of each
// request after it ran (it read the request and incremented the request's counter in its
// transaction). The proxy must not send that request again in the same transaction: every
// transaction id sees one run, every request is answered 200 after two attempts (the
// dropped one and its retry), and every counter ends at 1, for POSTs with a body and GETs
// without one alike.
func TestMiddlewareProxyKeepAliveDrop(t *testing.T) {
	bin := aftBinary(t)
	shimSrv, _ := newShim(t, mem.New())
	shim := client.New(shimSrv.URL)

	counter := &shimtest.DroppingCounter{C: shim, Prefix: "drop/", Drop: func(_, nKey int) bool { return nKey == 1 }}
	fn := httptest.NewServer(counter)
	defer fn.Close()

	addr, proxy := startProxy(t, bin, "--upstream", fn.URL, "--shim", shimSrv.URL, "--function", "e2e-drop",
		"--attempts", "3", "--attempt-timeout", "5s", "--deadline", "20s", "--backoff-base", "10ms", "--backoff-max", "50ms")
	hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	defer hc.CloseIdleConnections()
	const requests = 6
	for i := range requests {
		method, key := "GET", "drop-"+strconv.Itoa(i)
		var body io.Reader
		if i%2 == 0 {
			method, body = "POST", strings.NewReader("order "+strconv.Itoa(i))
		}
		req, _ := http.NewRequest(method, "http://"+addr+"/orders", body)
		req.Header.Set("Idempotency-Key", key)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "count=1" || resp.Header.Get("X-Aft-Attempts") != "2" {
			t.Errorf("%s %s = %d %q after %q attempts, want 200 count=1 after 2; proxy log:\n%s", method, key, resp.StatusCode, b, resp.Header.Get("X-Aft-Attempts"), proxy.Tail())
		}
		if v, ok := shimtest.Committed(t, shim, "drop/"+key); !ok || v != "1" {
			t.Errorf("drop/%s = %q (found %v), want 1", key, v, ok)
		}
	}
	runs := counter.Runs()
	for id, n := range runs {
		if n != 1 {
			t.Errorf("transaction %s ran the function %d times, want once", id, n)
		}
	}
	if len(runs) != 2*requests {
		t.Errorf("%d transactions ran, want %d (two attempts a request)", len(runs), 2*requests)
	}
}
