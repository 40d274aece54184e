package local

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/mux"
	"github.com/openfaas/faas-provider/types"
)

// TestMain doubles as a function: started by the provider with AFT_TEST_FUNCTION set, the
// test binary serves HTTP on $PORT and answers with its GREETING and its port.
func TestMain(m *testing.M) {
	if os.Getenv("AFT_TEST_FUNCTION") != "" {
		fmt.Println("function starting")
		var mu sync.Mutex
		runs := map[string]int{} // per X-Run header
		http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			mu.Lock()
			runs[r.Header.Get("X-Run")]++
			n, asked := runs[r.Header.Get("X-Run")], runs[r.URL.Query().Get("runs")]
			mu.Unlock()
			switch {
			case r.URL.Path == "/runs": // how often the request with X-Run: ?runs ran
				fmt.Fprint(w, asked)
				return
			case r.Header.Get("X-Drop") != "" && n == 1: // drop the connection, unanswered
				if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
					conn.Close()
					return
				}
			}
			fmt.Fprintf(w, "%s from %s: %s %s %s", os.Getenv("GREETING"), os.Getenv("PORT"), r.Method, r.URL.Path, body)
		}))
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// router serves the handlers on the paths the gateway uses (as faas-provider's bootstrap
// does), for in-process tests.
func router(h *types.FaaSHandlers) http.Handler {
	r := mux.NewRouter()
	r.HandleFunc("/system/functions", h.FunctionLister).Methods(http.MethodGet)
	r.HandleFunc("/system/functions", h.DeployFunction).Methods(http.MethodPost)
	r.HandleFunc("/system/functions", h.UpdateFunction).Methods(http.MethodPut)
	r.HandleFunc("/system/functions", h.DeleteFunction).Methods(http.MethodDelete)
	r.HandleFunc("/system/function/{name}", h.FunctionStatus).Methods(http.MethodGet)
	r.HandleFunc("/system/scale-function/{name}", h.ScaleFunction).Methods(http.MethodPost)
	r.HandleFunc("/system/secrets", h.Secrets)
	r.HandleFunc("/system/logs", h.Logs)
	r.HandleFunc("/function/{name}", h.FunctionProxy)
	r.HandleFunc("/function/{name}/{params:.*}", h.FunctionProxy)
	return r
}

func do(t *testing.T, ts *httptest.Server, method, path string, body any) (int, string) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, ts.URL+path, rd)
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

func TestLocalProvider(t *testing.T) {
	p := New(Options{})
	t.Cleanup(p.Close)
	ts := httptest.NewServer(router(p.Handlers(types.FaaSConfig{})))
	t.Cleanup(ts.Close)
	dep := types.FunctionDeployment{
		Service: "hello", Image: fmt.Sprintf("%q", os.Args[0]),
		EnvVars:     map[string]string{"AFT_TEST_FUNCTION": "1", "GREETING": "hi"},
		Annotations: &map[string]string{"com.openfaas.aft/transactional": "true"},
	}
	if code, body := do(t, ts, "POST", "/system/functions", dep); code != http.StatusAccepted {
		t.Fatalf("deploy = %d %s", code, body)
	}
	if code, _ := do(t, ts, "POST", "/system/functions", dep); code != http.StatusBadRequest {
		t.Errorf("second deploy of one name = %d, want 400", code)
	}
	code, body := do(t, ts, "POST", "/function/hello/a/b?x=1", "payload")
	if code != 200 || !strings.HasPrefix(body, "hi from ") || !strings.HasSuffix(body, "POST /a/b payload") {
		t.Fatalf("invoke = %d %q", code, body)
	}
	// The namespace suffix the gateway adds is understood.
	if code, _ := do(t, ts, "GET", "/function/hello."+Namespace, nil); code != 200 {
		t.Errorf("invoke with namespace suffix = %d", code)
	}

	// Scale to two replicas: invocations reach both ports.
	if code, body := do(t, ts, "POST", "/system/scale-function/hello", types.ScaleServiceRequest{ServiceName: "hello", Replicas: 2}); code != http.StatusAccepted {
		t.Fatalf("scale = %d %s", code, body)
	}
	ports := map[string]bool{}
	for i := 0; i < 6; i++ {
		_, body := do(t, ts, "GET", "/function/hello", nil)
		ports[strings.Fields(body)[2]] = true
	}
	if len(ports) != 2 {
		t.Errorf("invocations reached %d replicas, want 2: %v", len(ports), ports)
	}
	_, body = do(t, ts, "GET", "/system/function/hello", nil)
	var st types.FunctionStatus
	json.Unmarshal([]byte(body), &st)
	if st.Replicas != 2 || st.AvailableReplicas != 2 || (*st.Annotations)["com.openfaas.aft/transactional"] != "true" {
		t.Errorf("status = %+v", st)
	}

	// Update restarts with the new environment.
	dep.EnvVars["GREETING"] = "hello"
	if code, body := do(t, ts, "PUT", "/system/functions", dep); code != http.StatusAccepted {
		t.Fatalf("update = %d %s", code, body)
	}
	if _, body := do(t, ts, "GET", "/function/hello", nil); !strings.HasPrefix(body, "hello from ") {
		t.Errorf("after update: %q", body)
	}
	if _, body := do(t, ts, "GET", "/system/logs?name=hello&tail=1", nil); !strings.Contains(body, "function starting") {
		t.Errorf("logs = %q", body)
	}
	if code, _ := do(t, ts, "POST", "/system/secrets", types.Secret{Name: "s", Value: "v"}); code != http.StatusAccepted {
		t.Errorf("create secret = %d", code)
	}
	if _, body := do(t, ts, "GET", "/system/secrets", nil); !strings.Contains(body, `"s"`) || strings.Contains(body, `"v"`) {
		t.Errorf("secrets list = %s (names only, no values)", body)
	}
	_, body = do(t, ts, "GET", "/system/functions", nil)
	var list []types.FunctionStatus
	if json.Unmarshal([]byte(body), &list); len(list) != 1 || list[0].Name != "hello" {
		t.Errorf("list = %s", body)
	}

	// Scale to zero, then delete.
	do(t, ts, "POST", "/system/scale-function/hello", types.ScaleServiceRequest{ServiceName: "hello", Replicas: 0})
	if code, _ := do(t, ts, "GET", "/function/hello", nil); code < 500 {
		t.Errorf("invoke at zero replicas = %d, want a 5xx", code)
	}
	if code, _ := do(t, ts, "DELETE", "/system/functions", types.DeleteFunctionRequest{FunctionName: "hello"}); code != http.StatusAccepted {
		t.Errorf("delete = %d", code)
	}
	if code, _ := do(t, ts, "GET", "/system/function/hello", nil); code != http.StatusNotFound {
		t.Errorf("status after delete = %d, want 404", code)
	}
}

// TestInvokeNotResent: an invocation whose kept-alive connection to the function process
// breaks after the function read it is not sent again (it may carry a transaction, which
// would run twice): the caller gets 502 and the function ran it once.
func TestInvokeNotResent(t *testing.T) {
	p := New(Options{})
	t.Cleanup(p.Close)
	ts := httptest.NewServer(router(p.Handlers(types.FaaSConfig{})))
	t.Cleanup(ts.Close)
	dep := types.FunctionDeployment{Service: "drop", Image: fmt.Sprintf("%q", os.Args[0]), EnvVars: map[string]string{"AFT_TEST_FUNCTION": "1"}}
	if code, body := do(t, ts, "POST", "/system/functions", dep); code != http.StatusAccepted {
		t.Fatalf("deploy = %d %s", code, body)
	}
	invoke := func(path string, h ...string) (int, string) {
		req, _ := http.NewRequest("GET", ts.URL+"/function/drop"+path, nil)
		for i := 0; i+1 < len(h); i += 2 {
			req.Header.Set(h[i], h[i+1])
		}
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := invoke("/", "X-Run", "warm"); code != 200 {
		t.Fatalf("first invocation = %d %q", code, body)
	}
	if code, body := invoke("/", "X-Run", "dropped", "X-Drop", "true", "Idempotency-Key", "k"); code != http.StatusBadGateway {
		t.Errorf("dropped invocation = %d %q, want 502", code, body)
	}
	if _, runs := invoke("/runs?runs=dropped"); runs != "1" {
		t.Errorf("the dropped invocation ran %s times, want once", runs)
	}
}

func TestDeployFailures(t *testing.T) {
	p := New(Options{ReadyTimeout: 2e9})
	t.Cleanup(p.Close)
	ts := httptest.NewServer(router(p.Handlers(types.FaaSConfig{})))
	t.Cleanup(ts.Close)
	tests := []struct {
		name string
		dep  any
		say  string // in the answer
	}{
		{"no image", types.FunctionDeployment{Service: "x"}, "image"},
		{"exits at once", types.FunctionDeployment{Service: "y", Image: "echo broken; exit 3"}, "exited before it was ready (exit status 3); its last output:\nbroken"},
		{"not JSON", "{", "bad request body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, body := do(t, ts, "POST", "/system/functions", tt.dep); code != http.StatusBadRequest || !strings.Contains(body, tt.say) {
				t.Errorf("deploy = %d %s, want 400 saying %q", code, body, tt.say)
			}
			if n := len(p.List()); n != 0 {
				t.Errorf("a failed deploy left %d functions behind", n)
			}
		})
	}
}

func TestLoopbackOnly(t *testing.T) {
	h := LoopbackOnly(&types.FaaSHandlers{Info: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) }})
	for addr, want := range map[string]int{"127.0.0.1:5": 200, "[::1]:5": 200, "10.0.0.8:5": 403, "garbage": 403} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/system/info", nil)
		req.RemoteAddr = addr
		h.Info(rec, req)
		if rec.Code != want {
			t.Errorf("caller %s: %d, want %d", addr, rec.Code, want)
		}
	}
	if h.Logs != nil {
		t.Error("a nil handler became non-nil")
	}
}
