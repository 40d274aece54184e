package workloads

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/aft-shim/aft/report"
	"github.com/aft-shim/aft/report/folder"
	"github.com/aft-shim/aft/workloads/anomaly"
)

// Compare returns the differences between two runs, a and b, as a table with a row per
// scenario and mode whose anomalies, requests or outcome differ (or that only one run
// has), and the number of rows that are the same. Rows come in the order of the
// scenarios (as they first appear in a, then b), then of the modes (plain, aft,
// dynamodb-txn).
func Compare(a, b []Result) (report.Table, int) {
	t := report.Table{Header: []string{"scenario", "mode", "A", "B", "change"},
		Align: []report.Align{report.AlignLeft, report.AlignLeft, report.AlignLeft, report.AlignLeft, report.AlignLeft}}
	scenarios := scenariosOf(append(append([]Result(nil), a...), b...))
	modes := []Mode{Plain, Aft, DynamoTxn}
	pairs := folder.Match(a, b, func(r Result) string { return r.Scenario + "\x00" + string(r.Mode) })
	slices.SortStableFunc(pairs, func(x, y folder.Pair[Result]) int {
		rx, ry := pairOf(x), pairOf(y)
		return cmp.Or(cmp.Compare(slices.Index(scenarios, rx.Scenario), slices.Index(scenarios, ry.Scenario)),
			cmp.Compare(slices.Index(modes, rx.Mode), slices.Index(modes, ry.Mode)))
	})
	same := 0
	for _, p := range pairs {
		r := pairOf(p)
		switch {
		case !p.InA:
			t.AddRow(r.Scenario, string(r.Mode), "-", Cell(p.B), "only in B")
		case !p.InB:
			t.AddRow(r.Scenario, string(r.Mode), Cell(p.A), "-", "only in A")
		default:
			if ch := change(p.A, p.B); ch != "" {
				t.AddRow(r.Scenario, string(r.Mode), Cell(p.A), Cell(p.B), ch)
			} else {
				same++
			}
		}
	}
	return t, same
}

// pairOf returns the record of a pair that names its scenario and mode.
func pairOf(p folder.Pair[Result]) Result {
	if p.InB {
		return p.B
	}
	return p.A
}

// change describes how b differs from a, "" when not at all.
func change(a, b Result) string {
	var parts []string
	if d := b.Anomalies.Total() - a.Anomalies.Total(); d != 0 {
		parts = append(parts, "total "+folder.Signed(d))
	}
	for _, k := range anomaly.Kinds() {
		if d := b.Anomalies.Get(k) - a.Anomalies.Get(k); d != 0 {
			parts = append(parts, fmt.Sprintf("%s %s", k, folder.Signed(d)))
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

// outcome says how a run ended: "skipped", "error" (it failed to run) or "ran".
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
