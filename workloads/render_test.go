package workloads

import (
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aft-shim/aft/report/folder"
	"github.com/aft-shim/aft/workloads/anomaly"
)

func sampleResults() []Result {
	return []Result{
		{Scenario: "crash-partial", Mode: Plain, Requests: 20, Acked: 20, Deliveries: 30, Executions: 30, Snapshots: 40,
			Anomalies: anomaly.Counts{Partial: 8, Duplicate: 10}, Injected: map[string]int{"crash": 10},
			Examples: map[anomaly.Kind][]string{anomaly.Partial: {"snapshot 3 showed request s0-r2 in [total] but not in [bucket-0]"}}, Seconds: 0.2},
		{Scenario: "crash-partial", Mode: Aft, Requests: 20, Acked: 20, Deliveries: 20, Executions: 30, Snapshots: 35,
			Metrics: map[string]float64{"middleware_retries": 10, "middleware_attempts": 30}, Seconds: 0.4},
		{Scenario: "shim-kill", Mode: Plain, Requests: 20, Acked: 20, Anomalies: anomaly.Counts{Lost: 2}},
		{Scenario: "shim-kill", Mode: Aft, Skipped: "no `aft serve` command"},
	}
}

func TestWriteAllAndReadBack(t *testing.T) {
	dir := t.TempDir()
	info := RunInfo{Command: "aft workloads --quick --out x", Started: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Quick: true, Machine: folder.Machine{Cores: 2}}
	results := sampleResults()
	if err := WriteAll(dir, results, info); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{FileResults, FileRun, FileCSV, FileReport, "anomalies.png", "anomalies.svg", "anomaly-kinds.png", "anomaly-kinds.svg"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	back, binfo, err := ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, results) || binfo.Command != info.Command {
		t.Errorf("read back\n%+v\nwant\n%+v", back, results)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, FileResults))
	for _, want := range []string{`"scenario": "crash-partial"`, `"mode": "aft"`, `"requests": 20`, `"anomalies": {`, `"fractured": 0`, `"ryw": 0`, `"lost": 2`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("results.json lacks %s", want)
		}
	}
	md, _ := os.ReadFile(filepath.Join(dir, FileReport))
	for _, want := range []string{"aft workloads --quick --out x", "| crash-partial", "18 (partial 8, duplicate 10)", "skipped",
		"![Anomalies by scenario and mode](anomalies.png)", "Schema of `results.json`", "10 crash", "10 retries", "**lost**"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	csv, _ := os.ReadFile(filepath.Join(dir, FileCSV))
	if !strings.HasPrefix(string(csv), "scenario,mode,requests,acked,deliveries,executions,snapshots,fractured,ryw,partial,duplicate,lost,total,") ||
		!strings.Contains(string(csv), "crash-partial,plain,20,20,30,30,40,0,0,8,10,0,18,") {
		t.Errorf("results.csv:\n%s", csv)
	}
	f, err := os.Open(filepath.Join(dir, "anomalies.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Errorf("anomalies.png: %v", err)
	}
}

func TestAnomalyTable(t *testing.T) {
	got := AnomalyTable(sampleResults()).Text()
	want := "" +
		"scenario       plain                         aft\n" +
		"-------------  ----------------------------  -------\n" +
		"crash-partial  18 (partial 8, duplicate 10)  0\n" +
		"shim-kill      2 (lost 2)                    skipped\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestCompare(t *testing.T) {
	a := sampleResults()
	b := sampleResults()
	b[0].Anomalies.Duplicate = 4
	b[3] = Result{Scenario: "shim-kill", Mode: Aft, Requests: 20, Acked: 20}
	b = append(b, Result{Scenario: "zombie", Mode: Plain, Anomalies: anomaly.Counts{Lost: 3}})
	tab, same := Compare(a, b)
	if same != 2 || len(tab.Rows) != 3 {
		t.Fatalf("same %d, rows:\n%s", same, tab.Text())
	}
	text := tab.Text()
	for _, want := range []string{"total -6, duplicate -6", "requests 0→20", "outcome skipped→ran", "only in B"} {
		if !strings.Contains(text, want) {
			t.Errorf("compare lacks %q:\n%s", want, text)
		}
	}
	if _, same := Compare(a, a); same != len(a) {
		t.Errorf("a run differs from itself")
	}
}

func TestSummaryAndVerdict(t *testing.T) {
	res := sampleResults()
	got := strings.Join(Summary(res), "\n")
	want := "plain: 20 anomalies in 2 of 2 scenarios (40 requests)\naft: 0 anomalies in 0 of 1 scenarios (20 requests); skipped: shim-kill"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if len(AftAnomalies(res)) != 0 {
		t.Error("clean aft runs reported")
	}
	res[1].Anomalies.Lost = 1
	if len(AftAnomalies(res)) != 1 {
		t.Error("an aft anomaly not reported")
	}
}
