package bench

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRunSuite runs a tiny suite on the embedded store, the kill -9 run on this test
// binary as the shim process, and renders its report.
func TestRunSuite(t *testing.T) {
	var status bytes.Buffer
	cfg := SuiteConfig{
		Stores: []string{""}, Latencies: []time.Duration{0}, DataDir: t.TempDir(), NoSync: true,
		Shape:   Shape{Writes: 2, Reads: 4, Keys: 100, ValueSize: 128, Zipf: 1.1},
		Clients: 4, Closed: 300 * time.Millisecond, Open: 300 * time.Millisecond, Warmup: 100 * time.Millisecond,
		RateFractions: []float64{0.25},
		// The restart (a process start and recovery) takes about 0.5 s, and over 1.5 s when
		// make test runs beside builds: 4 s of load leaves room to see it recover.
		Crash: 4 * time.Second, KillAt: 500 * time.Millisecond,
		ServeCommand: func(addr, dataDir, storeURL string) *exec.Cmd {
			if storeURL != "" {
				t.Errorf("serve command for store %q, want the embedded store", storeURL)
			}
			return shimCommand(dataDir)(addr)
		},
		Status: &status,
	}
	res, err := RunSuite(context.Background(), cfg)
	if err != nil {
		t.Fatalf("%v\n%s", err, status.String())
	}
	var keys []string
	for _, r := range res.Runs {
		keys = append(keys, r.Key())
		if (r.Scenario == ScenarioGateway && r.Mode == ModeAft) != (r.OverheadMS > 0) {
			t.Errorf("run %s: middleware overhead %v ms, want it above 0 on gateway aft runs only", r.Key(), r.OverheadMS)
		}
		if r.Successes == 0 || r.Errors != 0 || r.Throughput <= 0 || r.Latency.P50 <= 0 || len(r.CDF) == 0 {
			t.Errorf("run %s: %d ok, %d errors (%s), %.0f/s, p50 %v ms", r.Key(), r.Successes, r.Errors, r.LastError, r.Throughput, r.Latency.P50)
		}
	}
	want := []string{
		"api/aft/closed/embedded/0ms/c4", "api/plain/closed/embedded/0ms/c4", "api/aft-batch/closed/embedded/0ms/c4",
		"api/aft/open/embedded/0ms/25%", "api/plain/open/embedded/0ms/25%",
		"gateway/aft/closed/embedded/0ms/c4", "gateway/plain/closed/embedded/0ms/c4", "gateway/aft/open/embedded/0ms/25%", "gateway/plain/open/embedded/0ms/25%",
	}
	if strings.Join(keys, " ") != strings.Join(want, " ") {
		t.Errorf("runs\n%v\nwant\n%v", keys, want)
	}
	if len(res.Runs) > 0 && len(res.Runs[0].Steps) != 4 {
		t.Errorf("api aft steps %v, want begin, write, read, commit", res.Runs[0].Steps)
	}
	if len(res.Recoveries) != 1 || res.Recoveries[0].Backend != "embedded" || res.Recoveries[0].RecoveryMS <= 0 {
		t.Errorf("recoveries %+v, want one on embedded that recovered", res.Recoveries)
	}
	if len(res.Metrics) == 0 {
		t.Error("no metrics scraped")
	}
	for _, line := range []string{"[1/9] embedded +0s: api aft closed loop", "[3/9] embedded +0s: api aft-batch closed loop", "[9/9] embedded +0s: gateway plain open loop", "SIGKILL sent", "recovered in"} {
		if !strings.Contains(status.String(), line) {
			t.Errorf("status lacks %q:\n%s", line, status.String())
		}
	}
	dir := t.TempDir()
	res.Command = "aft bench --out " + dir
	if err := res.Save(filepath.Join(dir, "results.json")); err != nil {
		t.Fatal(err)
	}
	if err := Render(dir); err != nil {
		t.Fatal(err)
	}
}
