package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/history"
	"github.com/aft-shim/aft/history/driver"
	"github.com/aft-shim/aft/internal/launch"
	"github.com/aft-shim/aft/shim/serve"
	"github.com/aft-shim/aft/shim/shimtest"
)

// aftBinary returns the path of the aft binary, built once per test run (shimtest.AftBinary)
// and removed by TestMain.
func aftBinary(t testing.TB) string { return shimtest.AftBinary(t) }

func cleanupBinary() { shimtest.RemoveAftBinary() }

// aftProc is a running aft command (serve or proxy), killed at cleanup.
type aftProc struct {
	*launch.Proc
	addr string // host:port it serves on
}

// startAft starts `aft serve` on a free loopback port with the data directory dir and the
// extra flags, and waits until it says where it listens.
func startAft(t testing.TB, bin, dir string, extra ...string) *aftProc {
	t.Helper()
	return startAftCmd(t, serve.ReadyAddr, 30*time.Second, bin, append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dir}, extra...)...)
}

// startAftCmd starts bin with args, configured by its flags alone, and waits until ready
// accepts a line of its output and returns the address it serves on.
func startAftCmd(t testing.TB, ready func(line string) (string, bool), timeout time.Duration, bin string, args ...string) *aftProc {
	t.Helper()
	p := startProc(t, launch.Environ(), bin, args...)
	addr, err := p.WaitLine(t.Context(), ready, timeout)
	if err != nil {
		t.Fatalf("aft %s: %v", args[0], err)
	}
	return &aftProc{Proc: p, addr: addr}
}

// startProc starts name with args and the environment env, and kills it at cleanup.
func startProc(t testing.TB, env []string, name string, args ...string) *launch.Proc {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = env
	p, err := launch.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	return p
}

// logWriter writes each line to t.Log.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// waitRecorded waits until n more transactions are recorded, failing t after within with
// what more says.
func waitRecorded(t *testing.T, rec *history.Recorder, n int, within time.Duration, more func() string) {
	t.Helper()
	want := rec.Len() + n
	deadline := time.Now().Add(within)
	for rec.Len() < want {
		if time.Now().After(deadline) {
			t.Fatalf("%d transactions recorded in %v, want %d; %s", rec.Len(), within, want, more())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// judge checks the history the driver recorded: no anomaly, no bad idempotency answer,
// every key's winner verified. It logs the figures with what (the run's own) and returns
// the history's summary and the number of keys verified.
func judge(ctx context.Context, t *testing.T, c *client.Client, rec *history.Recorder, st driver.Stats, what string) (summary, int) {
	t.Helper()
	h := rec.History()
	rep := history.CheckWith(h, strict)
	sum := summarize(h)
	t.Logf("driver: %v; last error: %s", st, st.LastError)
	t.Logf("history: %v; %s; check: %v", sum, what, rep)
	if !rep.OK() {
		t.Errorf("anomalies: %v", rep)
	}
	if st.BadWinners != 0 {
		t.Errorf("%d bad idempotency answers, last: %s", st.BadWinners, st.LastBadWinner)
	}
	n, err := driver.VerifyIdemKeys(ctx, c, h)
	if err != nil {
		t.Errorf("verify %d idempotency keys: %v", n, err)
	}
	return sum, n
}

// TestCrashRecovery runs the driver against the real `aft serve` over its embedded store,
// kills the process with SIGKILL several times mid-load and restarts it on the same data
// directory, and then requires a history without anomalies: no commit answered 200 is
// lost, and every idempotency key keeps its one winner.
func TestCrashRecovery(t *testing.T) { runCrashRecovery(t) }

// runCrashRecovery is TestCrashRecovery with extra `aft serve` flags, such as --store URL
// for a server-backed store. The load is bounded by counts of transactions (stopped after
// the last of them), not by time, so that a slow machine does as much as a fast one; the
// time bounds only guard against a hang.
func runCrashRecovery(t *testing.T, serveFlags ...string) {
	const (
		midLoadKills = 4
		progress     = 300 // transactions recorded between two kills
	)
	bin := aftBinary(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	var p *aftProc
	starts := 0
	tr := &client.Retarget{Base: http.DefaultTransport.(*http.Transport).Clone()}
	restart := func() {
		t.Helper()
		if p != nil {
			p.Kill()
		}
		starts++
		p = startAft(t, bin, data, serveFlags...)
		tr.Set(p.addr)
	}
	restart()
	c := client.New("http://aft", client.WithHTTPClient(&http.Client{Transport: tr}))

	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	var (
		rec    history.Recorder
		st     driver.Stats
		runErr error
	)
	stop := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		st, runErr = driver.Run(ctx, c, &rec, driver.Options{
			Clients: 16, Stop: stop, Groups: 8, GroupSize: 4,
			Backoff: 10 * time.Millisecond, OpTimeout: 3 * time.Second, ValueSize: 64,
			Progress: logWriter{t}, ProgressEvery: 2 * time.Second,
		})
	}()
	t.Cleanup(func() { cancel(); <-finished })

	// waitProgress waits until n more transactions are recorded.
	waitProgress := func(n int) {
		t.Helper()
		waitRecorded(t, &rec, n, 3*time.Minute, func() string { return fmt.Sprintf("after %d starts; shim output:\n%s", starts, p.Tail()) })
	}
	kills := 0
	for range midLoadKills {
		waitProgress(progress)
		restart()
		kills++
	}
	waitProgress(progress)
	close(stop)
	<-finished
	if runErr != nil {
		t.Fatal(runErr)
	}
	if err := driver.Final(ctx, c, &rec); err != nil {
		t.Fatalf("%v; shim output:\n%s", err, p.Tail())
	}
	skipped, err := metric(ctx, "http://"+p.addr, "aft_versions_skipped_total")
	if err != nil {
		t.Error(err)
	}
	// Once more, with the load stopped: what the restarted shim recovers must be all of it.
	restart()
	kills++
	if err := driver.Final(ctx, c, &rec); err != nil {
		t.Fatalf("%v; shim output:\n%s", err, p.Tail())
	}

	sum, n := judge(ctx, t, c, &rec, st, fmt.Sprintf("kills: %d; versions skipped by the last mid-load shim: %v", kills, skipped))
	atLeast(t, map[string][2]int64{
		"committed writers": {int64(sum.committedWriters), 500},
		"multi-key readers": {int64(sum.multiKeyReaders), 300},
		"keys verified":     {int64(n), 100},
		"fenced attempts":   {st.Fenced, 5},
		"errors (kills)":    {st.Errors, 1},
	})
}
