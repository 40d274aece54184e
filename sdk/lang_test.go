package sdk_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aft-shim/aft/internal/launch"
	"github.com/aft-shim/aft/sdk"
	"github.com/aft-shim/aft/shim/shimtest"
)

// lang is one of the SDKs in another language, with its test command and examples.
type lang struct {
	name    string   // the SDK's folder under sdk/
	bin     string   // the interpreter
	test    []string // the arguments that run its tests in its folder
	example string   // the extension of its examples, in examples/
}

var langs = []lang{
	{name: "python", bin: "python3", test: []string{"-m", "unittest", "-v"}, example: ".py"},
	{name: "node", bin: "node", test: []string{"--test"}, example: ".js"},
}

// langEnv is the environment of the interpreters: no bytecode written into the tree,
// unbuffered output.
var langEnv = []string{"PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1", "NODE_NO_WARNINGS=1"}

// interpreter finds l's interpreter, failing (not skipping) without it: the SDK is part of
// what the tests check.
func interpreter(t *testing.T, l lang) string {
	t.Helper()
	p, err := exec.LookPath(l.bin)
	if err != nil {
		t.Fatalf("%s is not installed (%v): the %s SDK (sdk/%s) cannot be tested; install %s and run again", l.bin, err, l.name, l.name, l.bin)
	}
	return p
}

// TestLangSDKs runs the unit tests of the Python and Node SDKs against a shim in this
// process, in a transaction this test began, then commits it and checks that their writes
// are there: the SDKs really wrote through the shim, with keys encoded as the Go client
// encodes them. The shim wants a token, which the SDKs take from AFT_SHIM_TOKEN, and
// serves HTTPS too (AFT_TEST_TLS_SHIM), with a certificate of the CA in AFT_TEST_CA; their
// tests of a refused token and of TLS must have reached it.
func TestLangSDKs(t *testing.T) {
	for _, l := range langs {
		t.Run(l.name, func(t *testing.T) {
			t.Parallel()
			bin := interpreter(t, l)
			s := startAuthShim(t)
			shimURL, c := s.url, s.admin
			prefix := l.name + "/"
			shimtest.Seed(t, c, prefix+"seed", "seeded")
			id, _ := begin(t, c, shimURL)

			ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, l.test...)
			cmd.Dir = l.name
			cmd.Env = append(append(os.Environ(), langEnv...),
				"AFT_TEST_SHIM="+shimURL, "AFT_TEST_TXN="+id, "AFT_TEST_PREFIX="+prefix, "AFT_TEST_SEED=seeded",
				"AFT_TEST_TLS_SHIM="+s.tlsURL, "AFT_TEST_CA="+s.caFile,
				sdk.EnvToken+"="+s.token, sdk.EnvTokenFile+"=", sdk.EnvCA+"=")
			cmd.WaitDelay = 2 * time.Second
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("the %s SDK tests failed (%s %v in sdk/%s): %v\n%s", l.name, l.bin, l.test, l.name, err, out)
			}
			t.Logf("%s %v:\n%s", l.bin, l.test, out)
			if s.refused.Load() == 0 || s.tlsOK.Load() == 0 {
				t.Errorf("the shim refused %d requests and served %d over TLS: the %s SDK's tests of tokens and TLS did not run", s.refused.Load(), s.tlsOK.Load(), l.name)
			}

			commit(t, c, id)
			shimtest.Want(t, c, map[string]string{
				prefix + "seed":                    "seeded",
				prefix + "bytes":                   "written by the SDK",
				prefix + "str":                     "h\u00e9llo",
				prefix + "empty":                   "",
				prefix + "weird/ key.\u00e9%~_-?#": "weird",
				prefix + "bin\xff":                 "\x00\x01\xfe",
				prefix + "many/a":                  "1",
				prefix + "many/b":                  "2",
				prefix + "many/empty":              "",
			}, prefix+"deleted", prefix+"missing")
		})
	}
}

// TestLangExamples runs the example functions of the Python and Node SDKs as processes
// and invokes them as the middleware would: the transfer, and the composition where order
// calls reserve in its transaction.
func TestLangExamples(t *testing.T) {
	for _, l := range langs {
		t.Run(l.name, func(t *testing.T) {
			t.Parallel()
			bin := interpreter(t, l)
			shimURL, c := shimtest.Start(t)
			shimtest.Seed(t, c, "accounts/alice", "100")

			dir := filepath.Join(l.name, "examples")
			reservePort, orderPort, transferPort := freePort(t), freePort(t), freePort(t)
			reserve := startFunction(t, bin, dir, "reserve"+l.example, reservePort)
			order := startFunction(t, bin, dir, "order"+l.example, orderPort, "RESERVE_URL="+reserve.url)
			transfer := startFunction(t, bin, dir, "transfer"+l.example, transferPort)
			for _, f := range []*function{reserve, order, transfer} {
				f.waitReady(t)
			}

			code, body := shimtest.Invoke(t, c, shimURL, transfer.url, `{"from":"alice","to":"bob","amount":30}`)
			var got map[string]int64
			if code != 200 || json.Unmarshal([]byte(body), &got) != nil || got["alice"] != 70 || got["bob"] != 30 {
				t.Fatalf("transfer answered %d %s", code, body)
			}
			shimtest.Want(t, c, map[string]string{"accounts/alice": "70", "accounts/bob": "30"})
			if code, body := shimtest.Invoke(t, c, shimURL, transfer.url, `{"from":"bob","to":"carol","amount":31}`); code != 409 {
				t.Fatalf("overdraft answered %d %s, want 409", code, body)
			}
			shimtest.Want(t, c, map[string]string{"accounts/bob": "30"}, "accounts/carol")

			if code, body := shimtest.Invoke(t, c, shimURL, order.url, `{"order":"42","item":"widget"}`); code != 200 {
				t.Fatalf("order answered %d %s", code, body)
			}
			shimtest.Want(t, c, map[string]string{"orders/42": "widget", "reservations/42": "widget"})
			if code, body := shimtest.InvokeAndAbort(t, c, shimURL, order.url, `{"order":"43","item":"gadget"}`); code != 200 {
				t.Fatalf("order answered %d %s", code, body)
			}
			shimtest.Want(t, c, nil, "orders/43", "reservations/43")

			// Invoked without the middleware, a function refuses with a clear answer.
			resp, err := http.Post(reserve.url, "application/json", bytes.NewReader([]byte(`{"order":"1","item":"x"}`)))
			if err != nil {
				t.Fatal(err)
			}
			var e struct{ Error string }
			json.NewDecoder(resp.Body).Decode(&e)
			resp.Body.Close()
			if resp.StatusCode != 400 || !bytes.Contains([]byte(e.Error), []byte("not running under the aft middleware")) {
				t.Fatalf("reserve without the middleware answered %d %q", resp.StatusCode, e.Error)
			}
		})
	}
}

// function is an example function running as a process.
type function struct {
	name string
	url  string
	addr string
	proc *launch.Proc
}

// startFunction starts script of dir with bin, listening on 127.0.0.1:port; it is killed
// when t ends.
func startFunction(t *testing.T, bin, dir, script string, port int, env ...string) *function {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	f := &function{name: filepath.Join(dir, script), url: "http://" + addr, addr: addr}
	cmd := exec.Command(bin, script)
	cmd.Dir = dir
	cmd.Env = append(append(append(os.Environ(), langEnv...), "PORT="+strconv.Itoa(port), "HOST=127.0.0.1"), env...)
	cmd.WaitDelay = time.Second
	p, err := launch.Start(cmd)
	if err != nil {
		t.Fatalf("start %s: %v", f.name, err)
	}
	f.proc = p
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("output of %s:\n%s", f.name, p.Tail())
		}
	})
	return f
}

// waitReady waits, at most 10 s, until f accepts connections.
func (f *function) waitReady(t *testing.T) {
	t.Helper()
	if err := f.proc.WaitDial(t.Context(), f.addr, 10*time.Second); err != nil {
		t.Fatalf("%s does not listen on %s: %v", f.name, f.addr, err)
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	port, err := launch.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// TestLangSDKsNoResend: the Python and Node SDKs do not send a call to another function
// twice when its connection breaks after the callee read it (Python's urllib opens a
// connection per request and does not retry; Node's fetch keeps connections alive and
// does not resend a request that was written, which the test checks on a reused
// connection): the callee runs the dropped call once.
func TestLangSDKsNoResend(t *testing.T) {
	scripts := map[string][]string{
		"python": {"-c", `
import os, aft
t = aft.Txn("t1", "http://127.0.0.1:1")
for p in ("/w1", "/w2", "/w3", "/dropped"):
    try:
        t.call(os.environ["CALLEE"] + p, method="GET")
    except aft.AftError as e:
        print(e)
`},
		"node": {"-e", `
const { Txn } = require('./aft');
(async () => {
  const t = new Txn('t1', 'http://127.0.0.1:1');
  for (const p of ['/w1', '/w2', '/w3', '/dropped']) {
    try { const r = await t.call(process.env.CALLEE + p, null, { method: 'GET' }); await r.text(); }
    catch (e) { console.log(e.message); }
  }
})();
`},
	}
	for _, l := range langs {
		t.Run(l.name, func(t *testing.T) {
			bin := interpreter(t, l)
			type connKey struct{}
			var mu sync.Mutex
			var conns int
			runs, connOf := map[string]int{}, map[string]int{}
			callee := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				runs[r.URL.Path]++
				connOf[r.URL.Path] = r.Context().Value(connKey{}).(int)
				drop := r.URL.Path == "/dropped"
				mu.Unlock()
				if drop {
					if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
						conn.Close()
						return
					}
				}
				w.Write([]byte("ok"))
			}))
			callee.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
				mu.Lock()
				defer mu.Unlock()
				conns++
				return context.WithValue(ctx, connKey{}, conns)
			}
			callee.Start()
			defer callee.Close()
			cx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(cx, bin, scripts[l.name]...)
			cmd.Dir = l.name
			cmd.Env = append(append(os.Environ(), langEnv...), "CALLEE="+callee.URL)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", l.bin, err, out)
			}
			mu.Lock()
			defer mu.Unlock()
			t.Logf("%s: runs %v, on connections %v; output: %s", l.name, runs, connOf, out)
			if runs["/dropped"] != 1 {
				t.Errorf("the callee ran the dropped call %d times, want once", runs["/dropped"])
			}
			reused := false
			for _, p := range []string{"/w1", "/w2", "/w3"} {
				reused = reused || connOf[p] == connOf["/dropped"]
			}
			if l.name == "node" && !reused {
				t.Errorf("node sent the dropped call on a new connection: the test did not try a reused one")
			}
		})
	}
}
