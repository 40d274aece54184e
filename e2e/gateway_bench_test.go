package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// BenchmarkGatewayPath measures what aft adds on the OpenFaaS invocation path: one no-op
// function deployed twice behind the real gateway and the aft plugin, plain and
// transactional (the middleware's hop, begin and commit at the shim, fsync'd), invoked
// one at a time in one run. It reports the median and p99 of each, and of the aft function
// the means of what makes up the difference: the middleware's own time
// (aft_middleware_overhead_seconds, which holds the begin and commit calls) and, inside it,
// the shim's time serving the begin and the commit (aft_http_request_duration_seconds):
//
//	go test -run '^$' -bench GatewayPath -benchtime 2000x ./e2e/
func BenchmarkGatewayPath(b *testing.B) {
	st := startStack(b, nil)
	st.deploy("noop-plain", "noop", false)
	st.deploy("noop-aft", "noop", true)
	for _, name := range []string{"noop-plain", "noop-aft"} {
		b.Run(name, func(b *testing.B) {
			means := meansOf(b, st, name)
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
			means()
		})
	}
}

// meansOf starts measuring, over the invocations of the aft function name, the means of the
// middleware's overhead and of the shim's begin and commit; the function it returns reports
// them. For a plain function it reports nothing.
func meansOf(b *testing.B, st *stack, name string) func() {
	if !strings.HasSuffix(name, "-aft") {
		return func() {}
	}
	series := []struct{ base, sel, unit string }{
		{st.pluginURL, "aft_middleware_overhead_seconds_%s{function=\"" + name + "\"}", "middleware-µs"},
		{st.shimURL, "aft_http_request_duration_seconds_%s{route=\"begin\"}", "shim-begin-µs"},
		{st.shimURL, "aft_http_request_duration_seconds_%s{route=\"commit\"}", "shim-commit-µs"},
	}
	read := func() []float64 {
		var out []float64
		for _, s := range series {
			for _, part := range []string{"sum", "count"} {
				v, _ := metric(context.Background(), s.base, fmt.Sprintf(s.sel, part)) // 0 before the first
				out = append(out, v)
			}
		}
		return out
	}
	start := read()
	return func() {
		end := read()
		for i, s := range series {
			sum, n := end[2*i]-start[2*i], end[2*i+1]-start[2*i+1]
			if n <= 0 {
				b.Fatalf("%s: no %s observed", name, s.unit)
			}
			b.ReportMetric(sum/n*1e6, s.unit)
		}
	}
}
