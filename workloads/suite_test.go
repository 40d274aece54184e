package workloads

import (
	"context"
	"slices"
	"testing"

	"github.com/aft-shim/aft/shim/store/redis/redistest"
)

// TestQuickSuite runs the whole quick catalogue on the memory store, the shim of shim-kill
// as the real `aft serve` process: aft mode must show no anomaly anywhere, and plain mode
// must show them in every failure scenario.
func TestQuickSuite(t *testing.T) {
	results, err := Run(context.Background(), Options{Store: "mem://", Quick: true, ServeCommand: serveCommand(t)})
	if err != nil {
		t.Fatal(err)
	}
	if want := 2 * len(Catalogue()); len(results) != want {
		t.Fatalf("%d results, want %d", len(results), want)
	}
	for _, r := range results {
		t.Logf("%-22s %-6s %5.2fs %d requests, %d acked, %d deliveries, %d executions, %d snapshots, injected %v: %v",
			r.Scenario, r.Mode, r.Seconds, r.Requests, r.Acked, r.Deliveries, r.Executions, r.Snapshots, r.Injected, r.Anomalies)
		if r.Scenario == "shim-kill-nodes" && r.Mode == Aft {
			// Several nodes need a shared store: TestShimKillNodes runs it on Redis.
			if r.Skipped == "" {
				t.Errorf("shim-kill-nodes/aft ran on mem://, which no two processes share")
			}
			continue
		}
		if r.Error != "" || r.Skipped != "" {
			t.Errorf("%s/%s did not run: %s%s", r.Scenario, r.Mode, r.Error, r.Skipped)
		}
		if r.Requests == 0 || r.Snapshots == 0 {
			t.Errorf("%s/%s: %d requests, %d snapshots", r.Scenario, r.Mode, r.Requests, r.Snapshots)
		}
		if r.Mode == Aft && r.Anomalies.Total() > 0 {
			t.Errorf("%s/aft: anomalies %v: %v", r.Scenario, r.Anomalies, r.Examples)
		}
	}
	// Every failure scenario must hurt plain mode, else aft's "none" there proves nothing;
	// and its failure must strike in both modes: a fault counted, or more deliveries than
	// requests.
	for _, sc := range Catalogue() {
		if sc.Failure == (sc.Name == "baseline") {
			t.Errorf("scenario %s: Failure = %v; every scenario but baseline is a failure", sc.Name, sc.Failure)
		}
		if !sc.Failure {
			continue
		}
		if r, ok := find(results, sc.Name, Plain); !ok || r.Anomalies.Total() == 0 {
			t.Errorf("%s/plain shows no anomaly: %+v", sc.Name, r)
		}
		for _, m := range []Mode{Plain, Aft} {
			if r, _ := find(results, sc.Name, m); r.Skipped == "" && len(r.Injected) == 0 && r.Deliveries <= r.Requests {
				t.Errorf("%s/%s: the failure did not strike: nothing injected, %d deliveries of %d requests", sc.Name, m, r.Deliveries, r.Requests)
			}
		}
	}
	// The faults struck in both modes alike.
	for _, c := range []struct {
		scenario string
		mode     Mode
		kind     string
	}{
		{"crash-partial", Aft, "crash"}, {"zombie", Aft, "stall"}, {"shim-kill", Aft, "shim_kill"},
		{"shim-kill", Plain, "pod_kill"}, {"scale-down", Aft, "pod_kill"}, {"store-faults", Aft, "store_fault"},
	} {
		if r, _ := find(results, c.scenario, c.mode); r.Injected[c.kind] == 0 {
			t.Errorf("%s/%s: no %s struck: %v", c.scenario, c.mode, c.kind, r.Injected)
		}
	}
	if bad := AftAnomalies(results); len(bad) > 0 {
		t.Errorf("AftAnomalies = %d runs", len(bad))
	}
}

func TestSelect(t *testing.T) {
	all, err := Select(nil)
	if err != nil || len(all) != len(Catalogue()) {
		t.Fatalf("Select(nil) = %d, %v", len(all), err)
	}
	two, err := Select([]string{"zombie", "baseline"})
	if err != nil || len(two) != 2 || two[0].Name != "zombie" {
		t.Fatalf("Select = %v, %v", two, err)
	}
	if _, err := Select([]string{"nope"}); err == nil {
		t.Error("unknown scenario accepted")
	}
	names := map[string]bool{}
	for _, s := range all {
		if names[s.Name] || s.Title == "" || s.Story == "" {
			t.Errorf("scenario %q: duplicate name or no title/story", s.Name)
		}
		names[s.Name] = true
	}
}

func TestRunRejects(t *testing.T) {
	tests := []struct {
		name string
		o    Options
	}{
		{"bad store", Options{Store: "ftp://x"}},
		{"unknown scenario", Options{Store: "mem://", Scenarios: []string{"nope"}}},
		{"dynamodb-txn without dynamodb", Options{Store: "mem://", Modes: []Mode{DynamoTxn}, Scenarios: []string{"baseline"}}},
		{"unknown mode", Options{Store: "mem://", Modes: []Mode{"fast"}, Scenarios: []string{"baseline"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Run(context.Background(), tc.o); err == nil {
				t.Error("no error")
			}
		})
	}
}

// TestRequestsCoverTheirStream checks that every key a request updates is one its
// stream's readers read, in both shapes.
func TestRequestsCoverTheirStream(t *testing.T) {
	for _, compose := range []bool{false, true} {
		r := &run{id: "t", sc: Scenario{Compose: compose}}
		for _, a := range apps {
			st := stream{n: 0, app: a}
			for _, k := range a.keys {
				st.keys = append(st.keys, r.key(st, k))
			}
			for i := range 12 {
				_, keys := r.invocation(st, i, "r")
				if len(keys) < 2 {
					t.Errorf("%s request %d updates %v: want two keys or more", a.name, i, keys)
				}
				for _, k := range keys {
					if !slices.Contains(st.keys, k) {
						t.Errorf("%s request %d updates %s, not a key of its stream", a.name, i, k)
					}
				}
			}
		}
	}
}

// TestShimKillNodes runs the multi-node scenario on a Redis of its own: three `aft serve`
// nodes, the first killed with SIGKILL twice mid-commit. Aft mode must show no anomaly.
func TestShimKillNodes(t *testing.T) {
	srv := redistest.Start(t)
	results, err := Run(context.Background(), Options{Store: srv.URL(0, ""), Quick: true, ServeCommand: serveCommand(t),
		Scenarios: []string{"shim-kill-nodes"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		t.Logf("%s/%s: %d requests, %d acked, injected %v: %v", r.Scenario, r.Mode, r.Requests, r.Acked, r.Injected, r.Anomalies)
		if r.Error != "" || r.Skipped != "" || r.Requests == 0 {
			t.Fatalf("%s/%s did not run: %s%s", r.Scenario, r.Mode, r.Error, r.Skipped)
		}
		if r.Mode == Aft && (r.Anomalies.Total() > 0 || r.Injected["shim_kill"] == 0) {
			t.Errorf("shim-kill-nodes/aft: anomalies %v (examples %v), kills %d", r.Anomalies, r.Examples, r.Injected["shim_kill"])
		}
		if r.Mode == Plain && r.Anomalies.Total() == 0 {
			t.Errorf("shim-kill-nodes/plain shows no anomaly")
		}
	}
}
