package bench

import (
	"fmt"
	"strings"

	"github.com/aft-shim/aft/internal/redact"
	"github.com/aft-shim/aft/report/folder"
)

// Compare describes how the results b differ from a, run by run (matched by Record.Key) and
// recovery by recovery (by backend), as markdown tables of the ratios b/a, with the secrets of any store URL hidden.
func Compare(a, b *Results) string {
	var s strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&s, format+"\n", args...) }
	p("# aft bench: B compared with A")
	p("")
	p("- A: `%s` (%s, %s)", a.Command, a.Started.Format("2006-01-02 15:04"), a.Machine.CPU)
	p("- B: `%s` (%s, %s)", b.Command, b.Started.Format("2006-01-02 15:04"), b.Machine.CPU)
	p("")
	p("Ratios are B/A: above 1x, B has more throughput, or more latency.")
	p("")
	var rows [][]string
	var onlyA, onlyB []string
	for _, m := range folder.Match(a.Runs, b.Runs, Record.Key) {
		x, y := m.A, m.B
		switch {
		case !m.InA:
			onlyB = append(onlyB, m.Key)
		case !m.InB:
			onlyA = append(onlyA, m.Key)
		default:
			rows = append(rows, []string{m.Key, fmt.Sprintf("%.0f", x.Throughput), fmt.Sprintf("%.0f", y.Throughput), folder.Ratio(y.Throughput, x.Throughput),
				folder.Millis(x.Latency.P50), folder.Millis(y.Latency.P50), folder.Ratio(y.Latency.P50, x.Latency.P50),
				folder.Millis(x.Latency.P99), folder.Millis(y.Latency.P99), folder.Ratio(y.Latency.P99, x.Latency.P99), fmt.Sprintf("%d / %d", x.Errors, y.Errors)})
		}
	}
	if len(rows) > 0 {
		p("## Runs")
		p("")
		table(p, []string{"run", "A (/s)", "B (/s)", "throughput", "A p50", "B p50", "p50", "A p99", "B p99", "p99", "errors A / B"}, rows)
	}
	rows = nil
	for _, m := range folder.Match(a.Recoveries, b.Recoveries, func(r Recovery) string { return r.Backend }) {
		if x, y := m.A, m.B; m.InA && m.InB {
			rows = append(rows, []string{y.Backend, fmt.Sprintf("%.0f", x.RecoveryMS), fmt.Sprintf("%.0f", y.RecoveryMS), folder.Ratio(y.RecoveryMS, x.RecoveryMS),
				fmt.Sprintf("%.0f", x.AfterTPS), fmt.Sprintf("%.0f", y.AfterTPS), folder.Ratio(y.AfterTPS, x.AfterTPS)})
		}
	}
	if len(rows) > 0 {
		p("## Recovery after kill -9")
		p("")
		table(p, []string{"backend", "A recovery (ms)", "B recovery (ms)", "recovery", "A after (/s)", "B after (/s)", "after"}, rows)
	}
	if len(onlyA) > 0 {
		p("Only in A: %s", strings.Join(onlyA, ", "))
		p("")
	}
	if len(onlyB) > 0 {
		p("Only in B: %s", strings.Join(onlyB, ", "))
		p("")
	}
	return redact.Text(s.String()) // folders written before reports were redacted may hold secrets
}
