package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/history"
	"github.com/aft-shim/aft/history/driver"
	"github.com/aft-shim/aft/shim/shimtest"
)

// aftBinary returns the path of the aft binary, built once per test run (shimtest.AftBinary)
// and removed by TestMain.
func aftBinary(t testing.TB) string { return shimtest.AftBinary(t) }

func cleanupBinary() { shimtest.RemoveAftBinary() }

// aftProc is a running `aft serve`.
type aftProc struct {
	cmd    *exec.Cmd
	addr   string        // host:port it serves on
	log    string        // file with its stdout and stderr
	exited chan struct{} // closed once it exited and was reaped
}

// readyRE matches the one line `aft serve` prints when ready (spec/cli.md), with the
// address it listens on. Only that line counts: other lines (the store description) may
// name other addresses.
var readyRE = regexp.MustCompile(`^aft serve: listening on (\S+)`)

// listenAddr finds the address in the output of `aft serve`, "" if not there yet.
func listenAddr(out string) string {
	for _, line := range strings.Split(out, "\n") {
		if m := readyRE.FindStringSubmatch(line); m != nil {
			if _, _, err := net.SplitHostPort(m[1]); err == nil {
				return m[1]
			}
		}
	}
	return ""
}

// startAft starts `aft serve` on a free loopback port with the data directory dir and the
// extra flags, waits until it says where it listens, and kills it at cleanup.
func startAft(t testing.TB, bin, dir, logPath string, extra ...string) *aftProc {
	t.Helper()
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dir}, extra...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AFT_") { // the flags alone configure it
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start aft: %v", err)
	}
	p := &aftProc{cmd: cmd, log: logPath, exited: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(p.kill)
	deadline := time.After(30 * time.Second)
	for {
		out, _ := os.ReadFile(logPath)
		if p.addr = listenAddr(string(out)); p.addr != "" {
			return p
		}
		select {
		case <-p.exited:
			t.Fatalf("aft serve exited before it served (%v):\n%s", cmd.ProcessState, out)
		case <-deadline:
			t.Fatalf("aft serve printed no address in 30s:\n%s", out)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// kill sends SIGKILL and waits until the process is gone. It may be called again.
func (p *aftProc) kill() {
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
	}
}

// tail returns the end of the process's output, for failure messages.
func (p *aftProc) tail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// logWriter writes each line to t.Log.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestCrashRecovery runs the driver against the real `aft serve` over its embedded store,
// kills the process with SIGKILL several times mid-load and restarts it on the same data
// directory, and then requires a history without anomalies: no commit answered 200 is
// lost, and every idempotency key keeps its one winner.
func TestCrashRecovery(t *testing.T) { runCrashRecovery(t) }

// runCrashRecovery is TestCrashRecovery with extra `aft serve` flags, such as --store URL
// for a server-backed store.
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
			p.kill()
		}
		starts++
		p = startAft(t, bin, data, filepath.Join(dir, fmt.Sprintf("aft-%d.log", starts)), serveFlags...)
		tr.Set(p.addr)
	}
	restart()
	c := client.New("http://aft", client.WithHTTPClient(&http.Client{Transport: tr}))

	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
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
			Clients: 16, Duration: 60 * time.Second, Stop: stop, Groups: 8, GroupSize: 4,
			Backoff: 10 * time.Millisecond, OpTimeout: 3 * time.Second, ValueSize: 64,
			Progress: logWriter{t}, ProgressEvery: 2 * time.Second,
		})
	}()
	t.Cleanup(func() { cancel(); <-finished })

	// waitProgress waits until n more transactions are recorded.
	waitProgress := func(n int) {
		t.Helper()
		want := rec.Len() + n
		deadline := time.Now().Add(20 * time.Second)
		for rec.Len() < want {
			if time.Now().After(deadline) {
				t.Fatalf("after %d starts: %d transactions recorded in 20s, want %d; shim output:\n%s",
					starts, rec.Len(), want, p.tail())
			}
			time.Sleep(10 * time.Millisecond)
		}
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
		t.Fatalf("%v; shim output:\n%s", err, p.tail())
	}
	skipped, err := metric(ctx, "http://"+p.addr, "aft_versions_skipped_total")
	if err != nil {
		t.Error(err)
	}
	// Once more, with the load stopped: what the restarted shim recovers must be all of it.
	restart()
	kills++
	if err := driver.Final(ctx, c, &rec); err != nil {
		t.Fatalf("%v; shim output:\n%s", err, p.tail())
	}

	h := rec.History()
	rep := history.CheckWith(h, strict)
	sum := summarize(h)
	t.Logf("driver: %v; last error: %s", st, st.LastError)
	t.Logf("history: %v; kills: %d; versions skipped by the last mid-load shim: %v; check: %v", sum, kills, skipped, rep)
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
	atLeast(t, map[string][2]int64{
		"committed writers": {int64(sum.committedWriters), 500},
		"multi-key readers": {int64(sum.multiKeyReaders), 300},
		"keys verified":     {int64(n), 100},
		"fenced attempts":   {st.Fenced, 5},
		"errors (kills)":    {st.Errors, 1},
	})
}
