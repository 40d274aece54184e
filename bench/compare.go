package bench

import (
	"fmt"
	"strings"
)

// Compare describes how the results b differ from a, run by run (matched by Record.Key) and
// recovery by recovery (by backend), as markdown tables of the ratios b/a.
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
	byKey := map[string]Record{}
	for _, x := range a.Runs {
		byKey[x.Key()] = x
	}
	var rows [][]string
	var onlyB []string
	seen := map[string]bool{}
	for _, y := range b.Runs {
		k := y.Key()
		x, ok := byKey[k]
		if !ok {
			onlyB = append(onlyB, k)
			continue
		}
		seen[k] = true
		rows = append(rows, []string{k, fmt.Sprintf("%.0f", x.Throughput), fmt.Sprintf("%.0f", y.Throughput), ratio(y.Throughput, x.Throughput),
			f2(x.Latency.P50), f2(y.Latency.P50), ratio(y.Latency.P50, x.Latency.P50),
			f2(x.Latency.P99), f2(y.Latency.P99), ratio(y.Latency.P99, x.Latency.P99), fmt.Sprintf("%d / %d", x.Errors, y.Errors)})
	}
	if len(rows) > 0 {
		p("## Runs")
		p("")
		table(p, []string{"run", "A (/s)", "B (/s)", "throughput", "A p50", "B p50", "p50", "A p99", "B p99", "p99", "errors A / B"}, rows)
	}
	rows = nil
	for _, y := range b.Recoveries {
		for _, x := range a.Recoveries {
			if x.Backend == y.Backend {
				rows = append(rows, []string{y.Backend, fmt.Sprintf("%.0f", x.RecoveryMS), fmt.Sprintf("%.0f", y.RecoveryMS), ratio(y.RecoveryMS, x.RecoveryMS),
					fmt.Sprintf("%.0f", x.AfterTPS), fmt.Sprintf("%.0f", y.AfterTPS), ratio(y.AfterTPS, x.AfterTPS)})
				break
			}
		}
	}
	if len(rows) > 0 {
		p("## Recovery after kill -9")
		p("")
		table(p, []string{"backend", "A recovery (ms)", "B recovery (ms)", "recovery", "A after (/s)", "B after (/s)", "after"}, rows)
	}
	var onlyA []string
	for _, x := range a.Runs {
		if !seen[x.Key()] {
			onlyA = append(onlyA, x.Key())
		}
	}
	if len(onlyA) > 0 {
		p("Only in A: %s", strings.Join(onlyA, ", "))
		p("")
	}
	if len(onlyB) > 0 {
		p("Only in B: %s", strings.Join(onlyB, ", "))
		p("")
	}
	return s.String()
}
