package workloads

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aft-shim/aft/workloads/anomaly"
)

var record = flag.Bool("record", false, "record the histories of testdata/histories again")

// recorded are the histories kept in testdata/histories, recorded from real runs (go test
// -run TestRecordedHistories -record), and what the scenario's design makes certain of
// them: the anomalies a run cannot avoid, and those it cannot have.
var recorded = []recordedRun{
	{"crash-partial", Plain, func(t *testing.T, c anomaly.Counts) {
		// Requests 0, 2 and 4 of each of the three streams crash after their first write
		// and are retried, which writes it again.
		if c.Duplicate != 9 || c.Lost != 0 || c.RYW != 0 {
			t.Errorf("want 9 duplicates, no lost write and no ryw violation: %v", c)
		}
	}},
	{"composition", Plain, func(t *testing.T, c anomaly.Counts) {
		// The first function of requests 0 and 3 runs twice, of request 5 (never
		// acknowledged) every time: 3 duplicates a stream; request 5 stays half done.
		if c.Duplicate != 9 || c.Partial < 3 || c.Lost != 0 {
			t.Errorf("want 9 duplicates, 3 partial requests or more, no lost write: %v", c)
		}
	}},
	{"zombie", Plain, func(t *testing.T, c anomaly.Counts) {
		// The zombies of requests 1 and 4 write over what was acknowledged after them.
		if c.Lost == 0 || c.Partial != 0 {
			t.Errorf("want lost writes and no partial one: %v", c)
		}
	}},
	{"zombie", Aft, func(t *testing.T, c anomaly.Counts) {
		if c.Total() != 0 {
			t.Errorf("want no anomaly: %v", c)
		}
	}},
	{"composition", Aft, func(t *testing.T, c anomaly.Counts) {
		if c.Total() != 0 {
			t.Errorf("want no anomaly: %v", c)
		}
	}},
}

// recordedRun is a recorded history and what must hold of it.
type recordedRun struct {
	scenario string
	mode     Mode
	check    func(t *testing.T, c anomaly.Counts)
}

func historyPath(scenario string, m Mode) string {
	return filepath.Join("testdata", "histories", scenario+"-"+string(m)+".json")
}

// TestRecordedHistories checks the anomaly counters on histories recorded from real runs.
func TestRecordedHistories(t *testing.T) {
	if *record {
		recordHistories(t)
	}
	for _, rc := range recorded {
		t.Run(rc.scenario+"/"+string(rc.mode), func(t *testing.T) {
			b, err := os.ReadFile(historyPath(rc.scenario, rc.mode))
			if err != nil {
				t.Fatal(err)
			}
			var h anomaly.History
			if err := json.Unmarshal(b, &h); err != nil {
				t.Fatal(err)
			}
			rep := anomaly.Check(h)
			t.Logf("%d requests, %d snapshots: %v", len(h.Requests), len(h.Snapshots), rep.Counts)
			rc.check(t, rep.Counts)
		})
	}
}

// maxRecorded bounds the snapshots kept of a recorded history.
const maxRecorded = 40

// recordHistories runs the recorded scenarios, small, and writes their histories with
// at most maxRecorded snapshots each, evenly spaced.
func recordHistories(t *testing.T) {
	var names []string
	for _, rc := range recorded {
		if !strings.Contains(strings.Join(names, ","), rc.scenario) {
			names = append(names, rc.scenario)
		}
	}
	keep := func(sc Scenario, m Mode, h anomaly.History) {
		if !slices.ContainsFunc(recorded, func(rc recordedRun) bool { return rc.scenario == sc.Name && rc.mode == m }) {
			return
		}
		if n := len(h.Snapshots); n > maxRecorded {
			var thin []anomaly.Snapshot
			for i := range maxRecorded {
				thin = append(thin, h.Snapshots[i*n/maxRecorded])
			}
			h.Snapshots = thin
		}
		b, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(historyPath(sc.Name, m)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(historyPath(sc.Name, m), append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err := Run(context.Background(), Options{Store: "mem://", Scenarios: names, ServeCommand: serveCommand(t),
		size: &sizes{streamsPerApp: 1, requests: 6, readers: 2}, keep: keep})
	if err != nil {
		t.Fatal(err)
	}
}
