package e2e

import (
	"slices"
	"testing"
	"time"
)

// BenchmarkGatewayPath measures what aft adds on the OpenFaaS invocation path: one no-op
// function deployed twice behind the real gateway and the aft plugin, plain and
// transactional (the middleware's hop, begin and commit at the shim, fsync'd), invoked
// one at a time in one run. It reports the median and p99 of each:
//
//	go test -run '^$' -bench GatewayPath -benchtime 2000x ./e2e/
func BenchmarkGatewayPath(b *testing.B) {
	st := startStack(b)
	st.deploy("noop-plain", "noop", false)
	st.deploy("noop-aft", "noop", true)
	for _, name := range []string{"noop-plain", "noop-aft"} {
		b.Run(name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			for i := 0; i < b.N; i++ {
				start := time.Now()
				resp, body := st.call("POST", "/function/"+name, "", nil)
				if resp.StatusCode != 200 || body != "ok" {
					b.Fatalf("invoke %s: %d %q%s", name, resp.StatusCode, body, st.logs())
				}
				lat = append(lat, time.Since(start))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}
