package middleware

import (
	"strconv"
	"testing"

	"github.com/aft-shim/aft/api"
	"github.com/aft-shim/aft/shim/shimtest"
)

// TestMiddlewareConnectionDropped: the function, kept-alive connections on, drops the
// connection of the second request it gets after it ran (read the body, incremented the
// request's counter in its transaction). The transport must not send that request again
// in the same transaction: each transaction id sees one run, the middleware retries as a
// new attempt, and each request's counter ends at 1.
func TestMiddlewareConnectionDropped(t *testing.T) {
	for _, method := range []string{"POST", "GET"} {
		t.Run(method, func(t *testing.T) {
			shimURL, shim := newShim(t)
			fn := &shimtest.DroppingCounter{C: shim, Prefix: "count/", Drop: func(n, _ int) bool { return n == 2 }}
			e := newEnv(t, Config{ShimURL: shimURL, Client: shim}, proxyTo(t, fn))
			body := map[string]string{"POST": "order", "GET": ""}[method]
			for i := 1; i <= 3; i++ {
				key := "k" + strconv.Itoa(i)
				r := e.send(method, "/orders", body, api.HeaderIdempotencyKey, key)
				wantAttempts := map[bool]string{true: "2", false: "1"}[i == 2]
				if r.status != 200 || r.body != "count=1" || r.attempts() != wantAttempts {
					t.Errorf("request %s answered %d %q after %s attempts, want 200 count=1 after %s", key, r.status, r.body, r.attempts(), wantAttempts)
				}
				if got := read(t, shim, "count/"+key)[0]; got != "1" {
					t.Errorf("count/%s = %q, want 1", key, got)
				}
			}
			runs := fn.Runs()
			for id, k := range runs {
				if k != 1 {
					t.Errorf("transaction %s ran the function %d times, want once", id, k)
				}
			}
			if len(runs) != 4 {
				t.Errorf("%d transactions ran, want 4 (the dropped request's attempt, then one each)", len(runs))
			}
		})
	}
}
