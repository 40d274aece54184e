package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/internal/launch"
	"github.com/openfaas/faas-provider/types"
)

// gatewayBinary builds the OpenFaaS gateway from the tools module (a test peer under the
// OpenFaaS CE licence: built here, never shipped), once per test run.
var gateway struct {
	once sync.Once
	path string
	err  error
}

func gatewayBinary(t testing.TB) string {
	t.Helper()
	bin := aftBinary(t) // also finds the build directory
	gateway.once.Do(func() {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			gateway.err = fmt.Errorf("build gateway: go env GOMOD: %v", err)
			return
		}
		gateway.path = filepath.Join(filepath.Dir(bin), "gateway")
		cmd := exec.Command("go", "build", "-o", gateway.path, "github.com/openfaas/faas/gateway")
		cmd.Dir = filepath.Join(filepath.Dir(strings.TrimSpace(string(out))), "tools", "gateway")
		if out, err := cmd.CombinedOutput(); err != nil {
			gateway.err = fmt.Errorf("build gateway in %s: %v\n%s", cmd.Dir, err, out)
		}
	})
	if gateway.err != nil {
		t.Fatal(gateway.err)
	}
	return gateway.path
}

// waitHTTP waits, at most 30s, until url answers 200.
func waitHTTP(t testing.TB, url string, p *launch.Proc) {
	t.Helper()
	if err := p.WaitProbe(t.Context(), launch.HTTPOK(url), 50*time.Millisecond, 30*time.Second); err != nil {
		t.Fatalf("%s did not answer 200: %v", url, err)
	}
}

// freePort returns a loopback port free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	port, err := launch.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// stack is the whole OpenFaaS path on this machine: the real gateway -> aft provider
// openfaas -> aft provider local -> function processes (this test binary) -> aft serve.
type stack struct {
	shimURL   string
	pluginURL string // the aft plugin's own address (its /metrics)
	logs      func() string
	call      func(method, path, key string, body any) (*http.Response, string)
	deploy    func(name, mode string, transactional bool)
}

// startStack starts the stack; everything stops at cleanup. With sec, the shim serves
// HTTPS and wants a token, which the plugin holds; the functions call the shim through
// the plugin's relay.
func startStack(tb testing.TB, sec *secureShim) *stack {
	tb.Helper()
	for _, port := range []int{8080, 8082} { // the gateway's, fixed
		l, err := net.Listen("tcp", ":"+strconv.Itoa(port))
		if err != nil {
			tb.Fatalf("the OpenFaaS gateway needs ports 8080 and 8082, and %d is taken: %v (stop what uses it and run again)", port, err)
		}
		l.Close()
	}
	bin, gw := aftBinary(tb), gatewayBinary(tb)
	dir := tb.TempDir()

	var shimFlags, pluginFlags []string
	scheme := "http://"
	if sec != nil {
		shimFlags, scheme = sec.serveFlags(), "https://"
		pluginFlags = append(sec.callerFlags(), "--relay-listen", "127.0.0.1:0")
	}
	shimProc := startAft(tb, bin, filepath.Join(dir, "data"), shimFlags...)
	shimURL := scheme + shimProc.addr
	localPort, pluginPort := freePort(tb), freePort(tb)
	local := startProc(tb, os.Environ(), bin, "provider", "local", "--port", strconv.Itoa(localPort))
	// Stopped, not killed (before startProc's kill, cleanups running last first): its
	// function processes, each in a process group of its own, die with its Close only.
	tb.Cleanup(func() { local.Stop(5 * time.Second) })
	waitHTTP(tb, fmt.Sprintf("http://127.0.0.1:%d/healthz", localPort), local)
	plugin := startProc(tb, os.Environ(), bin, append([]string{"provider", "openfaas",
		"--port", strconv.Itoa(pluginPort), "--upstream", fmt.Sprintf("http://127.0.0.1:%d", localPort),
		"--shim", shimURL, "--attempt-timeout", "1s", "--deadline", "10s"}, pluginFlags...)...)
	waitHTTP(tb, fmt.Sprintf("http://127.0.0.1:%d/healthz", pluginPort), plugin)

	// The gateway's GET /system/functions panics when no Prometheus answers: a minimal one.
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"status":"success","data":{"resultType":"vector","result":[]}}`)
	}))
	tb.Cleanup(prom.Close)
	promPort := prom.Listener.Addr().(*net.TCPAddr).Port
	gwProc := startProc(tb, append(os.Environ(),
		fmt.Sprintf("functions_provider_url=http://127.0.0.1:%d/", pluginPort),
		"faas_prometheus_host=127.0.0.1", "faas_prometheus_port="+strconv.Itoa(promPort),
		"basic_auth=false", "read_timeout=30s", "write_timeout=30s", "upstream_timeout=25s",
	), gw)
	const gwURL = "http://127.0.0.1:8080"
	waitHTTP(tb, gwURL+"/healthz", gwProc)
	logs := func() string {
		return "\ngateway:\n" + gwProc.Tail() + "\nplugin:\n" + plugin.Tail() + "\nlocal:\n" + local.Tail()
	}

	call := func(method, path, key string, body any) (*http.Response, string) {
		tb.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, gwURL+path, rd)
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			tb.Fatalf("%s %s: %v%s", method, path, err, logs())
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	deploy := func(name, mode string, transactional bool) {
		tb.Helper()
		ann := map[string]string{}
		if transactional {
			ann["com.openfaas.aft/transactional"] = "true"
		}
		// A zombie sleeps 5 s, past the attempt timeout (1 s) by far more than its retry
		// takes to commit, even on a starved machine: else the zombie would commit first.
		dep := types.FunctionDeployment{Service: name, Image: strconv.Quote(os.Args[0]),
			EnvVars:     map[string]string{"AFT_E2E_FUNCTION": mode, "INNER_URL": gwURL + "/function/inner", "ZOMBIE_SLEEP": "5s"},
			Annotations: &ann}
		if resp, body := call("POST", "/system/functions", "", dep); resp.StatusCode/100 != 2 {
			tb.Fatalf("deploy %s through the gateway: %d %s%s", name, resp.StatusCode, body, logs())
		}
	}
	return &stack{shimURL: shimURL, pluginURL: fmt.Sprintf("http://127.0.0.1:%d", pluginPort), logs: logs, call: call, deploy: deploy}
}

// TestOpenFaaSGateway runs the real OpenFaaS gateway -> aft provider openfaas (the plugin)
// -> aft provider local -> function processes -> aft serve, and checks through the gateway:
// a function that crashes between its two writes is retried and leaves both written once,
// never one without the other to concurrent readers; a duplicate is answered from the
// stored result; a zombie and its retry both finish and exactly one commits; a nested call
// joins its caller's transaction; an unannotated function passes untouched; and the
// management API works through the plugin.
func TestOpenFaaSGateway(t *testing.T) {
	st := startStack(t, nil)
	ctx := context.Background()
	logs, call, deploy, shimURL := st.logs, st.call, st.deploy, st.shimURL
	for _, f := range []struct {
		name, mode string
		tx         bool
	}{{"pair", "pair", true}, {"zombie", "zombie", true}, {"outer", "outer", true}, {"inner", "inner", true}, {"plain", "plain", false}} {
		deploy(f.name, f.mode, f.tx)
	}
	shim := client.New(shimURL)
	read := func(keys ...string) map[string]string {
		t.Helper()
		r, err := shim.Begin(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		defer shim.Abort(ctx, r.ID)
		out := map[string]string{}
		for _, k := range keys {
			if v, err := shim.Get(ctx, r.ID, k); err == nil {
				out[k] = string(v.Bytes)
			}
		}
		return out
	}

	t.Run("crash between two writes, retried", func(t *testing.T) {
		stop := make(chan struct{})
		var fractured, reads int
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // a concurrent reader: both keys or neither
			defer wg.Done()
			for i := 0; i < 10000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				got := read("pair/a", "pair/b")
				reads++
				if len(got) == 1 || got["pair/a"] != got["pair/b"] {
					fractured++
				}
			}
		}()
		resp, body := call("POST", "/function/pair", "pair-1", map[string]int{"n": 1})
		close(stop)
		wg.Wait()
		if resp.StatusCode != 200 || resp.Header.Get("X-Aft-Attempts") != "2" {
			t.Fatalf("invoke = %d %q, attempts %q%s", resp.StatusCode, body, resp.Header.Get("X-Aft-Attempts"), logs())
		}
		if got := read("pair/a", "pair/b"); got["pair/a"] != "pair-1" || got["pair/b"] != "pair-1" {
			t.Errorf("after the invocation: %v, want both keys written", got)
		}
		if fractured != 0 {
			t.Errorf("%d of %d concurrent reads saw one key without the other", fractured, reads)
		}
		// The same request again: the stored result, nothing runs.
		resp2, body2 := call("POST", "/function/pair", "pair-1", map[string]int{"n": 1})
		if resp2.StatusCode != 200 || body2 != body || resp2.Header.Get("X-Aft-Replayed") != "true" {
			t.Errorf("duplicate = %d %q replayed %q; want the stored %q", resp2.StatusCode, body2, resp2.Header.Get("X-Aft-Replayed"), body)
		}
	})

	t.Run("zombie and retry, one commit", func(t *testing.T) {
		fenced := func() float64 {
			t.Helper()
			v, err := metric(ctx, shimURL, "aft_txns_fenced_total")
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		before := fenced()
		resp, body := call("POST", "/function/zombie", "zombie-1", nil)
		// The first attempt outlived the attempt timeout (1s): the answer is the second's.
		if resp.StatusCode != 200 || resp.Header.Get("X-Aft-Attempts") != "2" || !strings.Contains(body, "by attempt 2 ") {
			t.Fatalf("invoke = %d %q after %q attempts, want 200 from attempt 2 of 2 (a zombie and its retry)%s",
				resp.StatusCode, body, resp.Header.Get("X-Aft-Attempts"), logs())
		}
		// The zombie finishes (5 s after it started, ZOMBIE_SLEEP) and its commit is fenced;
		// the bound has room for a starved machine.
		deadline := time.Now().Add(15 * time.Second)
		for fenced() < before+1 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if got := fenced() - before; got != 1 {
			t.Errorf("the shim fenced %v commits, want 1: the zombie's%s", got, logs())
		}
		if got := read("zombie/count"); got["zombie/count"] != "1" {
			t.Errorf("count = %q after a zombie and its retry, want exactly 1", got["zombie/count"])
		}
	})

	t.Run("nested call joins the transaction", func(t *testing.T) {
		resp, body := call("POST", "/function/outer", "nested-1", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("invoke = %d %q%s", resp.StatusCode, body, logs())
		}
		r, _ := shim.Begin(ctx, "")
		defer shim.Abort(ctx, r.ID)
		outer, err1 := shim.Get(ctx, r.ID, "nested/outer")
		inner, err2 := shim.Get(ctx, r.ID, "nested/inner")
		if err1 != nil || err2 != nil || outer.Version != inner.Version {
			t.Errorf("outer %+v %v, inner %+v %v: want both written by one commit", outer, err1, inner, err2)
		}
	})

	t.Run("unannotated function untouched", func(t *testing.T) {
		resp, body := call("GET", "/function/plain", "", nil)
		if resp.StatusCode != 200 || body != `txn=""` {
			t.Errorf("plain = %d %q, want no transaction", resp.StatusCode, body)
		}
	})

	t.Run("management API through the plugin", func(t *testing.T) {
		_, body := call("GET", "/system/functions", "", nil)
		var list []types.FunctionStatus
		if err := json.Unmarshal([]byte(body), &list); err != nil || len(list) != 5 {
			t.Fatalf("list = %s (%v), want 5 functions", body, err)
		}
		if resp, body := call("POST", "/system/scale-function/plain", "", types.ScaleServiceRequest{ServiceName: "plain", Replicas: 2}); resp.StatusCode/100 != 2 {
			t.Fatalf("scale = %d %s", resp.StatusCode, body)
		}
		var st types.FunctionStatus
		_, body = call("GET", "/system/function/plain", "", nil)
		if json.Unmarshal([]byte(body), &st); st.Replicas != 2 {
			t.Errorf("after scaling: %s, want 2 replicas", body)
		}
		if resp, body := call("DELETE", "/system/functions", "", types.DeleteFunctionRequest{FunctionName: "plain"}); resp.StatusCode/100 != 2 {
			t.Fatalf("delete = %d %s", resp.StatusCode, body)
		}
		if resp, _ := call("GET", "/system/function/plain", "", nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("status after delete = %d, want 404", resp.StatusCode)
		}
	})
}
