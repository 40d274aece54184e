package workloads

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aft-shim/aft/report"
	"github.com/aft-shim/aft/workloads/anomaly"
)

// kindDocs say what each kind of anomaly is, for the report.
var kindDocs = []struct {
	kind anomaly.Kind
	doc  string
}{
	{anomaly.Fractured, "a reader saw a request in some but not all of its keys, though the request ends up whole: its " +
		"writes were in progress (or, with zombies about, undone for a while by a stale write). Counted per request."},
	{anomaly.RYW, "read-your-writes: a function read back a key its own attempt had written and got another " +
		"attempt's version. Counted per read."},
	{anomaly.Partial, "the writes of an attempt that failed half way were visible: to a reader, or in the final state of a " +
		"request that was never acknowledged. Counted per request."},
	{anomaly.Duplicate, "a request's effect was applied twice to one key (a count, a stock reservation, a payment " +
		"taken twice). Counted per request."},
	{anomaly.Lost, "an acknowledged request is missing from one of its keys in the final state: a committed write was " +
		"overwritten, typically by a stale zombie. Counted per request."},
}

// Markdown returns report.md: the anomaly table, the chart, what the kinds mean, notes
// per scenario, the files and their schema, and the command that made it.
func Markdown(results []Result, info RunInfo) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# aft workloads: anomalies with and without aft\n\n")
	if info.Command != "" {
		p("Made with `%s`", info.Command)
		if !info.Started.IsZero() {
			p(" on %s", info.Started.Format("2006-01-02 15:04 MST"))
		}
		p(" (%s, %s, %d CPUs, %s; %.0f s).\n\n", storeName(info.Store), info.Machine.Platform(), info.Machine.Cores, info.Machine.Go, info.Seconds)
	}
	p("Every scenario sends the same requests through the same platform behaviour and faults in each mode:\n\n")
	p("- **plain**: the functions read and write the store directly, one key at a time, and the platform retries as usual;\n")
	p("- **aft**: the same functions read and write through the aft shim with the SDK, behind the aft middleware;\n")
	if len(modesOf(results)) > 2 {
		p("- **dynamodb-txn**: each function reads in one TransactGetItems and writes in one TransactWriteItems, without idempotency;\n")
	}
	p("\nwhile concurrent readers take snapshots throughout. Three applications run side by side in every scenario:\n\n")
	for _, a := range apps {
		p("- **%s**: %s;\n", a.name, a.invariant)
	}
	p("\n## Result\n\n")
	for _, l := range Summary(results) {
		p("- %s\n", l)
	}
	p("\n## Anomalies by scenario and mode\n\n")
	p("Each cell is the total, then the count of each kind found.\n\n")
	p("%s\n", AnomalyTable(results).Markdown())
	p("![Anomalies by scenario and mode](%s.png)\n\n", chartByScen)
	p("![Anomalies by kind](%s.png)\n\n", chartByKind)
	p("## What is counted\n\n")
	p("Every key holds a number and the trail of the requests applied to it (the functions never read the trail; the checker does). ")
	p("Each request names every key it updates, so a state shows whether a request is in all of its keys, in some, or in one twice.\n\n")
	for _, k := range kindDocs {
		p("- **%s**: %s\n", k.kind, k.doc)
	}
	p("\n## Scenarios\n")
	cat := Catalogue()
	for _, name := range scenariosOf(results) {
		p("\n### %s\n\n", name)
		for _, sc := range cat {
			if sc.Name != name {
				continue
			}
			p("%s", capitalize(sc.Title))
			if sc.Source != "" {
				p(" (replays %s)", sc.Source)
			}
			p(". %s Platform: %s.\n\n", sc.Story, sc.Platform.withDefaults().Name)
		}
		t := report.Table{Header: []string{"mode", "requests", "acked", "deliveries", "executions", "snapshots", "anomalies", "seconds"},
			Align: []report.Align{report.AlignLeft, report.AlignRight, report.AlignRight, report.AlignRight, report.AlignRight, report.AlignRight, report.AlignLeft, report.AlignRight}}
		var notes []string
		for _, m := range modesOf(results) {
			r, ok := find(results, name, m)
			if !ok {
				continue
			}
			t.AddRow(string(m), r.Requests, r.Acked, r.Deliveries, r.Executions, r.Snapshots, Cell(r), fmt.Sprintf("%.2f", r.Seconds))
			notes = append(notes, runNotes(r)...)
		}
		p("%s\n", t.Markdown())
		for _, n := range notes {
			p("- %s\n", n)
		}
	}
	p("\n## Files\n\n")
	p("- `results.json`: one record per scenario and mode (schema below); `run.json`: how the run was made.\n")
	p("- `results.csv`: the same records flat, one row each, a column per kind.\n")
	p("- `%s.png`, `%s.svg`: total anomalies by scenario and mode; `%s.png`, `%s.svg`: by kind.\n\n", chartByScen, chartByScen, chartByKind, chartByKind)
	p("%s\n", SchemaDoc)
	p("## Again\n\n")
	p("`aft workloads report --in DIR` renders this report and the charts again from `results.json`; ")
	p("`aft workloads compare A B` prints what changed between two runs.\n")
	return b.String()
}

// runNotes are the notes of one run: errors, examples of its anomalies, its counters.
func runNotes(r Result) []string {
	var notes []string
	switch {
	case r.Skipped != "":
		return []string{fmt.Sprintf("%s: skipped: %s", r.Mode, r.Skipped)}
	case r.Error != "":
		notes = append(notes, fmt.Sprintf("%s: **failed to run**: %s", r.Mode, r.Error))
	}
	if line := injectedLine(r.Injected); line != "" {
		notes = append(notes, fmt.Sprintf("%s: faults that struck: %s", r.Mode, line))
	}
	for _, k := range sortedKinds(r.Examples) {
		notes = append(notes, fmt.Sprintf("%s, %s: e.g. %s", r.Mode, k, r.Examples[k][0]))
	}
	if line := metricLine(r.Metrics); line != "" {
		notes = append(notes, fmt.Sprintf("%s: %s", r.Mode, line))
	}
	return notes
}

// SchemaDoc documents results.json and run.json.
const SchemaDoc = "### Schema of `results.json`\n\n" +
	"A JSON array with one object per scenario and mode:\n\n" +
	"| field | type | meaning |\n" +
	"| --- | --- | --- |\n" +
	"| `scenario` | string | the scenario's name (`aft workloads -h` lists them) |\n" +
	"| `mode` | string | `plain`, `aft` or `dynamodb-txn` |\n" +
	"| `requests` | int | logical requests sent (each with its own idempotency identity) |\n" +
	"| `acked` | int | requests answered 2xx to their sender |\n" +
	"| `deliveries` | int | deliveries the platform made: retries, redeliveries and duplicates included |\n" +
	"| `executions` | int | function executions started (both functions of a composition) |\n" +
	"| `snapshots` | int | states the concurrent readers saw |\n" +
	"| `anomalies` | object | counts by kind: `fractured`, `ryw`, `partial`, `duplicate`, `lost` (all present, 0 when none) |\n" +
	"| `examples` | object | optional: a few descriptions per kind |\n" +
	"| `metrics` | object | optional, aft mode: counters of the middleware (`middleware_*`) and of the shim, summed over labels but `outcome` (`name/outcome`) |\n" +
	"| `seconds` | number | how long the run took |\n" +
	"| `skipped`, `error` | string | optional: why the run was skipped, or failed (its counts are then not meaningful) |\n\n" +
	"`run.json` holds `command`, `started` (RFC 3339), `seconds`, `store` (the --store URL, empty for the embedded store), " +
	"`quick`, `go_version`, `platform` and `cpus`.\n\n"

// injectedLine describes the faults that struck in a run, such as "2 shim_kill, 30 crash".
func injectedLine(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%d %s", m[k], k))
	}
	return strings.Join(parts, ", ")
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
