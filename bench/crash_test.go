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
// With envShimDelay set too, it waits that long before it opens the store and listens.
const (
	envShimDir   = "AFT_BENCH_TEST_SHIM_DIR"
	envShimAddr  = "AFT_BENCH_TEST_SHIM_ADDR"
	envShimDelay = "AFT_BENCH_TEST_SHIM_DELAY"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(envShimDir); dir != "" {
		if d, err := time.ParseDuration(os.Getenv(envShimDelay)); err == nil {
			time.Sleep(d)
		}
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
	// The restarted shim waits restartDelay before it listens: no transaction can commit
	// on it sooner, and the restart outlasts the slack given below to the readiness probe.
	const restartDelay = 500 * time.Millisecond
	command, starts := shimCommand(dir), 0
	var lines []string
	const duration, bucket = 10 * time.Second, 250 * time.Millisecond
	rec, err := CrashRestart(context.Background(), CrashOptions{
		Command: func(addr string) *exec.Cmd {
			cmd := command(addr)
			if starts++; starts > 1 {
				cmd.Env = append(cmd.Env, envShimDelay+"="+restartDelay.String())
			}
			return cmd
		},
		Shape: Shape{Writes: 2, Reads: 4, Keys: 100, ValueSize: 256, Zipf: 1.1},
		// After-throughput counts whole buckets from 1s after the first commit that follows
		// the kill. On a busy CI machine under -race the kill can come late and the restart
		// (0.5s of delay, then about 0.1s here) take a few seconds: 10s leaves it up to
		// 7.75s after the kill before that window is empty.
		Clients: 4, Duration: duration, KillAt: time.Second, Bucket: bucket,
		Status: func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", lines)
	// The kill timer can fire late on a starved machine, never early.
	if rec.KillAtS < 0.99 || rec.KillAtS > 3 {
		t.Errorf("killed at %.2fs, want 1s (give or take 2s of a late timer)", rec.KillAtS)
	}
	delay := float64(restartDelay.Milliseconds())
	if rec.RestartMS < delay || rec.RecoveryMS < delay {
		t.Errorf("restart %.0f ms, recovery %.0f ms: want both after the restarted shim's delay of %.0f ms",
			rec.RestartMS, rec.RecoveryMS, delay)
	}
	// Ready is when the readiness probe got its answer; the load's clients, hammering the
	// new process at the same time, may commit before that answer reaches the prober
	// (it happened: restart 29 ms, recovery 28 ms), and by as long as a starved machine
	// stalls the prober. A commit 250 ms or more before the probe's answer would mean the
	// process served while not ready, or the times are measured from the wrong events.
	const slack = 250 // ms
	if rec.RecoveryMS < rec.RestartMS-slack || rec.FirstOKAtS < rec.ReadyAtS-slack/1000.0 {
		t.Errorf("restart %.0f ms, recovery %.0f ms, ready at %.2fs, first commit at %.2fs: want restart <= recovery (give or take %d ms), ready before the first commit",
			rec.RestartMS, rec.RecoveryMS, rec.ReadyAtS, rec.FirstOKAtS, slack)
	}
	if len(rec.Series) != int(duration/bucket) || rec.BucketS != bucket.Seconds() {
		t.Fatalf("%d buckets of %vs, want %d of %vs", len(rec.Series), rec.BucketS, duration/bucket, bucket.Seconds())
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
