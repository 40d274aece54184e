package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/aft-shim/aft/shim/serve"
)

// The test binary doubles as a shim process: with these variables set it serves a shim
// over the embedded store in the directory, on the address, instead of running tests.
const (
	envShimDir  = "AFT_BENCH_TEST_SHIM_DIR"
	envShimAddr = "AFT_BENCH_TEST_SHIM_ADDR"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(envShimDir); dir != "" {
		if err := serveShim(dir, os.Getenv(envShimAddr)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// serveShim is `aft serve --data-dir dir --listen addr --no-sync`, logging nothing.
func serveShim(dir, addr string) error {
	cfg := serve.Defaults()
	cfg.DataDir, cfg.Listen, cfg.NoSync = dir, addr, true
	if err := cfg.Validate(); err != nil {
		return err
	}
	return serve.Run(context.Background(), cfg, os.Stdout, nil)
}

// shimCommand returns the command of this test binary serving a shim over dir on addr.
func shimCommand(dir string) func(addr string) *exec.Cmd {
	return func(addr string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), envShimDir+"="+dir, envShimAddr+"="+addr)
		return cmd
	}
}

func TestCrashRestart(t *testing.T) {
	dir := t.TempDir()
	var lines []string
	rec, err := CrashRestart(context.Background(), CrashOptions{
		Command: shimCommand(dir),
		Shape:   Shape{Writes: 2, Reads: 4, Keys: 100, ValueSize: 256, Zipf: 1.1},
		// After-throughput counts whole buckets from 1s after the first commit that follows
		// the kill: 5s leaves the restart (about 0.3s, more under -race on a busy machine)
		// up to 2.75s before that window is empty.
		Clients: 4, Duration: 5 * time.Second, KillAt: time.Second, Bucket: 250 * time.Millisecond,
		Status: func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", lines)
	if rec.KillAtS < 0.99 || rec.KillAtS > 1.2 {
		t.Errorf("killed at %.2fs, want 1s", rec.KillAtS)
	}
	// Ready is when the readiness probe got its answer; the load's clients, hammering the
	// new process at the same time, may commit a few milliseconds before that answer
	// reaches the prober (it happened: restart 29 ms, recovery 28 ms). A commit 10 ms or
	// more before the probe's answer would mean the process served before it was ready.
	const slack = 10 // ms
	if rec.RecoveryMS <= 0 || rec.RestartMS <= 0 || rec.RecoveryMS < rec.RestartMS-slack || rec.FirstOKAtS < rec.ReadyAtS-slack/1000.0 {
		t.Errorf("restart %.0f ms, recovery %.0f ms, ready at %.2fs, first commit at %.2fs: want 0 < restart <= recovery (give or take %d ms), ready before the first commit",
			rec.RestartMS, rec.RecoveryMS, rec.ReadyAtS, rec.FirstOKAtS, slack)
	}
	if len(rec.Series) != 20 || rec.BucketS != 0.25 {
		t.Fatalf("%d buckets of %vs, want 20 of 0.25s", len(rec.Series), rec.BucketS)
	}
	var ok, failed int64
	for _, b := range rec.Series {
		ok, failed = ok+b.OK, failed+b.Errors
	}
	if ok == 0 || ok > rec.Successes || failed > rec.Errors {
		t.Errorf("buckets count %d ok and %d failed, of %d and %d", ok, failed, rec.Successes, rec.Errors)
	}
	if rec.BeforeTPS <= 0 || rec.AfterTPS <= 0 {
		t.Errorf("throughput %.0f/s before, %.0f/s after: want both above 0", rec.BeforeTPS, rec.AfterTPS)
	}
	if len(lines) < 4 {
		t.Errorf("status lines %q: want started, killed, ready, first commit", lines)
	}
}

func TestCrashRestartRefuses(t *testing.T) {
	for name, o := range map[string]CrashOptions{
		"no command":           {Duration: time.Second, KillAt: time.Millisecond},
		"kill after the end":   {Command: shimCommand(""), Duration: time.Second, KillAt: time.Second},
		"shim that never runs": {Command: func(string) *exec.Cmd { return exec.Command("false") }, Duration: time.Second, KillAt: time.Millisecond},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := CrashRestart(context.Background(), o); err == nil {
				t.Error("no error")
			}
		})
	}
}

func TestTimelineRate(t *testing.T) {
	tl := newTimeline(time.Second, 4*time.Second)
	tl.start = time.Unix(0, 0)
	for i, n := range []int{10, 20, 30, 40} {
		for range n {
			tl.add(tl.start.Add(time.Duration(i)*time.Second+time.Millisecond), true)
		}
	}
	tl.add(tl.start.Add(10*time.Second), false) // a straggler after the end: not in a bucket shown
	for _, tt := range []struct {
		from, to time.Duration
		want     float64
	}{
		{0, 4 * time.Second, 25},
		{500 * time.Millisecond, 3 * time.Second, 25}, // whole buckets 1 and 2
		{3 * time.Second, 2 * time.Second, 0},
	} {
		if got := tl.rate(tt.from, tt.to); got != tt.want {
			t.Errorf("rate(%v, %v) = %v, want %v", tt.from, tt.to, got, tt.want)
		}
	}
	if b := tl.buckets(4 * time.Second); len(b) != 4 || b[3].OK != 40 || b[3].Errors != 0 {
		t.Errorf("buckets %+v", b)
	}
}
