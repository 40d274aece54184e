package middleware

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/aft-shim/aft/api"
)

// TestProxy: `aft proxy`'s handlers: the function through the middleware and the hop,
// metrics and health on the same address or apart.
func TestProxy(t *testing.T) {
	shimURL, _ := newShim(t)
	fn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "fn "+r.URL.Path+" txn="+map[bool]string{true: "yes", false: "no"}[r.Header.Get(api.HeaderTxnID) != ""])
	}))
	t.Cleanup(fn.Close)
	up, _ := url.Parse(fn.URL)
	get := func(h http.Handler, path string) (int, string) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		return w.Code, w.Body.String()
	}
	for _, same := range []bool{true, false} {
		px, err := NewProxy(ProxyConfig{Config: Config{Options: quick(Options{}), ShimURL: shimURL}, Upstream: up, SameAddressAdmin: same})
		if err != nil {
			t.Fatal(err)
		}
		if code, body := get(px.Handler, "/work"); code != 200 || body != "fn /work txn=yes" {
			t.Errorf("same address %v: function = %d %q", same, code, body)
		}
		code, body := get(px.Handler, "/healthz")
		if want := map[bool]string{true: `{"status":"ok"}`, false: "fn /healthz txn=yes"}[same]; code != 200 || body != want {
			t.Errorf("same address %v: /healthz = %d %q, want %q", same, code, body, want)
		}
		want := map[bool]string{true: "1", false: "2"}[same] // /healthz too when apart
		if code, body := get(px.Admin, "/metrics"); code != 200 || !strings.Contains(body, `aft_middleware_invocations_total{function="fn",outcome="committed"} `+want+"\n") {
			t.Errorf("same address %v: /metrics = %d, want %s invocations counted:\n%s", same, code, want, body)
		}
		if err := px.Wait(t.Context()); err != nil {
			t.Error(err)
		}
	}
}
