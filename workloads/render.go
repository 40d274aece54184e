package workloads

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aft-shim/aft/internal/redact"
	"github.com/aft-shim/aft/report"
	"github.com/aft-shim/aft/report/folder"
	"github.com/aft-shim/aft/workloads/anomaly"
)

// The files of a report folder.
const (
	FileResults = folder.ResultsFile
	FileRun     = "run.json"
	FileCSV     = "results.csv"
	FileReport  = folder.ReportFile
	chartByScen = "anomalies"     // .png and .svg
	chartByKind = "anomaly-kinds" // .png and .svg
)

// RunInfo describes how a suite run was made: run.json.
type RunInfo struct {
	// Command is the command line that made the run.
	Command string
	Started time.Time
	Seconds float64
	// Store is the --store URL, "" for the embedded store, its secrets hidden (redact.URL).
	Store string
	Quick bool
	// Machine is where the run was made. run.json holds three of its fields: go_version
	// (Go), platform (Platform()) and cpus (Cores).
	Machine folder.Machine
}

// runJSON is the form of RunInfo in run.json.
type runJSON struct {
	Command   string    `json:"command"`
	Started   time.Time `json:"started"`
	Seconds   float64   `json:"seconds"`
	Store     string    `json:"store"`
	Quick     bool      `json:"quick"`
	GoVersion string    `json:"go_version"`
	Platform  string    `json:"platform"` // GOOS/GOARCH
	CPUs      int       `json:"cpus"`
}

// MarshalJSON returns the JSON of run.json.
func (i RunInfo) MarshalJSON() ([]byte, error) {
	return json.Marshal(runJSON{Command: i.Command, Started: i.Started, Seconds: i.Seconds, Store: i.Store, Quick: i.Quick,
		GoVersion: i.Machine.Go, Platform: i.Machine.Platform(), CPUs: i.Machine.Cores})
}

// UnmarshalJSON reads the JSON of run.json.
func (i *RunInfo) UnmarshalJSON(b []byte) error {
	var j runJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*i = RunInfo{Command: j.Command, Started: j.Started, Seconds: j.Seconds, Store: j.Store, Quick: j.Quick,
		Machine: folder.Machine{Go: j.GoVersion, OS: j.Platform, Cores: j.CPUs}}
	return nil
}

// NewRunInfo returns the RunInfo of a run of o started at start by command.
func NewRunInfo(command string, o Options, start time.Time) RunInfo {
	return RunInfo{Command: command, Started: start.UTC().Truncate(time.Second), Seconds: time.Since(start).Seconds(),
		Store: redact.URL(o.Store), Quick: o.Quick, Machine: folder.ThisMachine()}
}

// WriteAll writes the whole report folder dir: results.json, run.json, results.csv,
// report.md and the charts.
func WriteAll(dir string, results []Result, info RunInfo) error {
	return folder.Write(dir, raw(results, info), Files(results, info))
}

// raw returns the raw files of a report folder: results.json and run.json.
func raw(results []Result, info RunInfo) []folder.JSON {
	return []folder.JSON{{Name: FileResults, Value: results}, {Name: FileRun, Value: info}}
}

// Files returns the files of a report folder made from results: results.csv, the
// charts (when there are results) and report.md.
func Files(results []Result, info RunInfo) folder.Files {
	f := folder.Files{CSV: []folder.CSV{{Name: FileCSV, Table: CSV(results)}}, Markdown: Markdown(results, info)}
	if len(results) > 0 {
		f.Charts = []folder.Chart{
			{Name: chartByScen, Title: "Anomalies by scenario and mode", Chart: ScenarioChart(results, info)},
			{Name: chartByKind, Title: "Anomalies by kind", Chart: KindChart(results)},
		}
	}
	return f
}

// ReadDir reads results.json and, when there, run.json of a report folder. dir may also
// name a results.json file.
func ReadDir(dir string) ([]Result, RunInfo, error) {
	var f runFolder
	if err := f.read(dir); err != nil {
		return nil, RunInfo{}, err
	}
	return f.results, f.info, nil
}

// Rerender renders the report folder in (or the results.json it names) again: into its
// own folder, or into out, with its raw files, when out is not "". It returns the folder
// written and the results.
func Rerender(in, out string) (string, []Result, error) {
	dir, f, err := folder.Rerender(in, out, func(path string) (runFolder, error) {
		var f runFolder
		err := f.read(path)
		return f, err
	}, func(f runFolder) ([]folder.JSON, folder.Files) {
		return raw(f.results, f.info), Files(f.results, f.info)
	})
	return dir, f.results, err
}

// runFolder is what a report folder holds of a run.
type runFolder struct {
	results []Result
	info    RunInfo
}

// read reads results.json and, when there, run.json of the report folder dir (or the
// folder of the results.json it names).
func (f *runFolder) read(dir string) error {
	if err := folder.ReadJSON(folder.Path(dir), &f.results); err != nil {
		return err
	}
	return folder.Read(dir, FileRun, &f.info, true)
}

// modesOf returns the modes in results, in the order plain, aft, dynamodb-txn.
func modesOf(results []Result) []Mode {
	var ms []Mode
	for _, m := range []Mode{Plain, Aft, DynamoTxn} {
		if slices.ContainsFunc(results, func(r Result) bool { return r.Mode == m }) {
			ms = append(ms, m)
		}
	}
	return ms
}

// scenariosOf returns the scenarios in results, in the order they first appear.
func scenariosOf(results []Result) []string {
	var ss []string
	for _, r := range results {
		if !slices.Contains(ss, r.Scenario) {
			ss = append(ss, r.Scenario)
		}
	}
	return ss
}

func find(results []Result, scenario string, m Mode) (Result, bool) {
	i := slices.IndexFunc(results, func(r Result) bool { return r.Scenario == scenario && r.Mode == m })
	if i < 0 {
		return Result{}, false
	}
	return results[i], true
}

// Cell returns how the anomaly table shows r: the total and the non-zero kinds.
func Cell(r Result) string {
	if o := outcome(r); o != "ran" {
		return o // skipped or error
	}
	c := r.Anomalies
	if c.Total() == 0 {
		return "0"
	}
	var parts []string
	for _, k := range anomaly.Kinds() {
		if n := c.Get(k); n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, n))
		}
	}
	return fmt.Sprintf("%d (%s)", c.Total(), strings.Join(parts, ", "))
}

// AnomalyTable is the table of anomalies, scenario by mode.
func AnomalyTable(results []Result) report.Table {
	ms := modesOf(results)
	t := report.Table{Header: []string{"scenario"}}
	for _, m := range ms {
		t.Header = append(t.Header, string(m))
	}
	for _, s := range scenariosOf(results) {
		row := []string{s}
		for _, m := range ms {
			cell := "-"
			if r, ok := find(results, s, m); ok {
				cell = Cell(r)
			}
			row = append(row, cell)
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// CSV is results.csv: one row per scenario and mode.
func CSV(results []Result) report.Table {
	t := report.Table{Header: []string{"scenario", "mode", "requests", "acked", "deliveries", "executions", "snapshots"}}
	for _, k := range anomaly.Kinds() {
		t.Header = append(t.Header, string(k))
	}
	t.Header = append(t.Header, "total", "seconds", "skipped", "error")
	for _, r := range results {
		row := []string{r.Scenario, string(r.Mode), strconv.Itoa(r.Requests), strconv.Itoa(r.Acked),
			strconv.Itoa(r.Deliveries), strconv.Itoa(r.Executions), strconv.Itoa(r.Snapshots)}
		for _, k := range anomaly.Kinds() {
			row = append(row, strconv.Itoa(r.Anomalies.Get(k)))
		}
		row = append(row, strconv.Itoa(r.Anomalies.Total()), strconv.FormatFloat(r.Seconds, 'f', 2, 64), r.Skipped, r.Error)
		t.Rows = append(t.Rows, row)
	}
	return t
}

// modeColors keeps a mode's colour the same in every chart: plain vermillion, aft blue,
// dynamodb-txn green.
var modeColors = map[Mode]int{Plain: 1, Aft: 0, DynamoTxn: 2}

// ScenarioChart is the chart of the total anomalies by scenario and mode.
func ScenarioChart(results []Result, info RunInfo) report.Bars {
	b := report.Bars{
		Title:         "Anomalies by scenario and mode" + runLabel(info),
		CategoryLabel: "scenario",
		ValueLabel:    "anomalies (requests or reads affected)",
		Categories:    scenariosOf(results),
		Horizontal:    true,
		ValueLabels:   true,
	}
	for _, m := range modesOf(results) {
		s := report.BarSeries{Name: string(m), Color: report.Palette[modeColors[m]]}
		for _, sc := range b.Categories {
			r, _ := find(results, sc, m)
			s.Values = append(s.Values, float64(r.Anomalies.Total()))
		}
		b.Series = append(b.Series, s)
	}
	return b
}

// KindChart is the chart of the anomalies by kind and mode, over all scenarios.
func KindChart(results []Result) report.Bars {
	b := report.Bars{
		Title:         "Anomalies by kind, all scenarios",
		CategoryLabel: "kind of anomaly",
		ValueLabel:    "anomalies (requests or reads affected)",
		ValueLabels:   true,
	}
	for _, k := range anomaly.Kinds() {
		b.Categories = append(b.Categories, string(k))
	}
	for _, m := range modesOf(results) {
		s := report.BarSeries{Name: string(m), Color: report.Palette[modeColors[m]], Values: make([]float64, len(b.Categories))}
		for _, r := range results {
			if r.Mode == m {
				for i, k := range anomaly.Kinds() {
					s.Values[i] += float64(r.Anomalies.Get(k))
				}
			}
		}
		b.Series = append(b.Series, s)
	}
	return b
}

func runLabel(info RunInfo) string {
	var parts []string
	if info.Quick {
		parts = append(parts, "--quick")
	}
	parts = append(parts, storeName(info.Store))
	return " (" + strings.Join(parts, ", ") + ")"
}

// storeName names a --store URL for people, without credentials or parameters.
func storeName(u string) string {
	switch {
	case u == "":
		return "embedded store"
	case strings.HasPrefix(u, "mem:"):
		return "memory store"
	}
	if i := strings.Index(u, "://"); i > 0 {
		return u[:i] + " store"
	}
	return u
}

// Summary is one line per mode: its anomalies over all scenarios.
func Summary(results []Result) []string {
	var lines []string
	for _, m := range modesOf(results) {
		var total, reqs, with, runs int
		var skipped, failed []string
		for _, r := range results {
			if r.Mode != m {
				continue
			}
			switch {
			case r.Skipped != "":
				skipped = append(skipped, r.Scenario)
				continue
			case r.Error != "":
				failed = append(failed, r.Scenario)
				continue
			}
			runs++
			reqs += r.Requests
			total += r.Anomalies.Total()
			if r.Anomalies.Total() > 0 {
				with++
			}
		}
		line := fmt.Sprintf("%s: %d anomalies in %d of %d scenarios (%d requests)", m, total, with, runs, reqs)
		if len(skipped) > 0 {
			line += "; skipped: " + strings.Join(skipped, ", ")
		}
		if len(failed) > 0 {
			line += "; FAILED to run: " + strings.Join(failed, ", ")
		}
		lines = append(lines, line)
	}
	return lines
}

// metricNames are the counters a scenario's notes show for aft mode, with their labels.
var metricNames = []struct{ key, label string }{
	{"middleware_attempts", "attempts"},
	{"middleware_retries", "retries"},
	{"middleware_replayed", "duplicates answered from the stored result"},
	{"middleware_running_duplicates", "duplicates that ran beside the first"},
	{"middleware_commits/fenced", "commits fenced"},
	{"middleware_zombie_commits/fenced", "zombies fenced"},
	{"middleware_zombie_commits/committed", "zombies committed"},
	{"middleware_dead_requests", "dead requests"},
	{"txns_committed", "shim commits"},
	{"store_errors", "store errors in the shim"},
}

// metricLine describes the counters of an aft run.
func metricLine(m map[string]float64) string {
	var parts []string
	for _, n := range metricNames {
		if v := m[n.key]; v > 0 {
			parts = append(parts, fmt.Sprintf("%s %s", report.Cell(v), n.label))
		}
	}
	return strings.Join(parts, ", ")
}

// sortedKinds returns the kinds that have examples, in the order of anomaly.Kinds.
func sortedKinds(ex map[anomaly.Kind][]string) []anomaly.Kind {
	var ks []anomaly.Kind
	for _, k := range anomaly.Kinds() {
		if len(ex[k]) > 0 {
			ks = append(ks, k)
		}
	}
	return ks
}
