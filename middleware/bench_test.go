package middleware

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aft-shim/aft/api"
)

// BenchmarkMiddleware measures the latency the middleware adds: a no-op function called
// directly over HTTP, and through the middleware (reverse proxy, begin and commit at an
// in-process shim over the mem store), each with conc concurrent callers. It reports the
// mean latency of both and their ratio; every request has a fresh idempotency key.
func BenchmarkMiddleware(b *testing.B) {
	fn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	}))
	defer fn.Close()
	shimURL, shim := newShim(b)
	mw, err := New(Config{ShimURL: shimURL, Client: shim, Options: Options{Function: "noop"}}, nil, proxyTo(b, fn.Config.Handler))
	if err != nil {
		b.Fatal(err)
	}
	front := httptest.NewServer(mw)
	defer front.Close()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	hc := &http.Client{Transport: tr}
	var seq atomic.Int64

	// run sends n requests to url from conc goroutines and returns the mean latency.
	run := func(b *testing.B, url string, n, conc int) time.Duration {
		var total atomic.Int64
		var next atomic.Int64
		var wg sync.WaitGroup
		for range conc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= int64(n) {
					req, _ := http.NewRequest("POST", url, strings.NewReader(`{"op":"noop"}`))
					req.Header.Set(api.HeaderIdempotencyKey, fmt.Sprintf("bench-%d", seq.Add(1)))
					start := time.Now()
					resp, err := hc.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					total.Add(int64(time.Since(start)))
					if resp.StatusCode != 200 {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			}()
		}
		wg.Wait()
		return time.Duration(total.Load() / int64(max(n, 1)))
	}
	for _, conc := range []int{1, 16} {
		b.Run(fmt.Sprintf("conc=%d", conc), func(b *testing.B) {
			run(b, fn.URL, 50, conc) // warm connections
			run(b, front.URL, 50, conc)
			b.ResetTimer()
			direct := run(b, fn.URL, b.N, conc)
			aft := run(b, front.URL, b.N, conc)
			b.ReportMetric(float64(direct.Microseconds()), "direct-µs/req")
			b.ReportMetric(float64(aft.Microseconds()), "aft-µs/req")
			b.ReportMetric(float64(aft)/float64(max(direct, 1)), "ratio")
		})
	}
}
