package workloads

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/aft-shim/aft/report"
	"github.com/aft-shim/aft/workloads/anomaly"
)

// Compare returns the differences between two runs, a and b, as a table with a row per
// scenario and mode whose anomalies, requests or outcome differ (or that only one run
// has), and the number of rows that are the same.
func Compare(a, b []Result) (report.Table, int) {
	t := report.Table{Header: []string{"scenario", "mode", "A", "B", "change"},
		Align: []report.Align{report.AlignLeft, report.AlignLeft, report.AlignLeft, report.AlignLeft, report.AlignLeft}}
	same := 0
	keys := scenariosOf(append(append([]Result(nil), a...), b...))
	modes := modesOf(append(append([]Result(nil), a...), b...))
	for _, s := range keys {
		for _, m := range modes {
			ra, okA := find(a, s, m)
			rb, okB := find(b, s, m)
			switch {
			case !okA && !okB:
				continue
			case !okA:
				t.AddRow(s, string(m), "-", Cell(rb), "only in B")
			case !okB:
				t.AddRow(s, string(m), Cell(ra), "-", "only in A")
			default:
				if ch := change(ra, rb); ch != "" {
					t.AddRow(s, string(m), Cell(ra), Cell(rb), ch)
				} else {
					same++
				}
			}
		}
	}
	return t, same
}

// change describes how b differs from a, "" when not at all.
func change(a, b Result) string {
	var parts []string
	if d := b.Anomalies.Total() - a.Anomalies.Total(); d != 0 {
		parts = append(parts, "total "+signed(d))
	}
	for _, k := range anomaly.Kinds() {
		if d := b.Anomalies.Get(k) - a.Anomalies.Get(k); d != 0 {
			parts = append(parts, fmt.Sprintf("%s %s", k, signed(d)))
		}
	}
	if a.Requests != b.Requests {
		parts = append(parts, fmt.Sprintf("requests %d→%d", a.Requests, b.Requests))
	}
	if a.Acked != b.Acked {
		parts = append(parts, fmt.Sprintf("acked %d→%d", a.Acked, b.Acked))
	}
	if (a.Skipped != "") != (b.Skipped != "") || (a.Error != "") != (b.Error != "") {
		parts = append(parts, fmt.Sprintf("outcome %s→%s", outcome(a), outcome(b)))
	}
	return strings.Join(parts, ", ")
}

func signed(d int) string {
	if d > 0 {
		return "+" + strconv.Itoa(d)
	}
	return strconv.Itoa(d)
}

func outcome(r Result) string {
	switch {
	case r.Skipped != "":
		return "skipped"
	case r.Error != "":
		return "error"
	}
	return "ran"
}

// AftAnomalies returns the aft runs that found anomalies or failed to run: what makes
// `aft workloads` exit non-zero.
func AftAnomalies(results []Result) []Result {
	var bad []Result
	for _, r := range results {
		if r.Mode == Aft && (r.Anomalies.Total() > 0 || r.Error != "") {
			bad = append(bad, r)
		}
	}
	return bad
}
