package shimtest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aft-shim/aft/shim/auth"
	"github.com/aft-shim/aft/shim/server"
	"github.com/aft-shim/aft/shim/store/mem"
	"github.com/aft-shim/aft/shim/txn"
)

// StartAuth starts a shim on an in-memory store that wants a bearer token on every call
// but the probes and /metrics, as `aft serve --auth-file` does: pairs holds tenants and
// their tokens ("default" is the tenant of a shim without tenants). wrap, when not nil,
// wraps its handler (a test that watches the calls). It stops when t ends.
func StartAuth(t testing.TB, wrap func(http.Handler) http.Handler, pairs ...string) *httptest.Server {
	t.Helper()
	var lines []string
	for i := 0; i+1 < len(pairs); i += 2 {
		lines = append(lines, auth.Line(pairs[i], pairs[i+1]))
	}
	table, err := auth.Parse(strings.NewReader(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatalf("shimtest: auth table: %v", err)
	}
	api := Open(t, mem.New(), txn.Config{}).Handler()
	api.(*server.Server).Auth = table
	if wrap != nil {
		api = wrap(api)
	}
	ts := httptest.NewServer(api)
	t.Cleanup(ts.Close)
	return ts
}
