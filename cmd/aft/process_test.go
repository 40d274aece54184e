package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/internal/launch"
	"github.com/aft-shim/aft/shim/serve"
	"github.com/aft-shim/aft/shim/shimtest"
)

// buildAft returns the aft binary, built once per test binary run (shimtest.AftBinary).
func buildAft(t *testing.T) string { return shimtest.AftBinary(t) }

// startServe starts `aft serve`, configured by its flags alone, and returns it and its
// address once it printed its ready line; it is killed at cleanup.
func startServe(t *testing.T, bin string, args ...string) (*launch.Proc, string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = launch.Environ()
	cmd.Stderr = os.Stderr
	p, err := launch.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	addr, err := p.WaitLine(t.Context(), serve.ReadyAddr, 20*time.Second)
	if err != nil {
		t.Fatalf("aft serve printed no ready line: %v", err)
	}
	return p, addr
}

func TestServeProcess(t *testing.T) {
	bin := buildAft(t)
	dir := t.TempDir()
	ctx := context.Background()
	p, addr := startServe(t, bin, "--data-dir", dir)
	c := client.New("http://" + addr)
	w, err := c.Begin(ctx, "req")
	if err != nil {
		t.Fatal(err)
	}
	c.Put(ctx, w.ID, "k", []byte("survives"))
	if _, err := c.Commit(ctx, w.ID, []byte("res")); err != nil {
		t.Fatal(err)
	}

	// A second process on the same data directory is refused with a clear error.
	out, err := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--data-dir", dir).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "in use by another process") {
		t.Errorf("second serve on one data dir: %v, %s", err, out)
	}

	// SIGTERM: exit 0.
	p.Signal(syscall.SIGTERM)
	select {
	case <-p.Exited():
		if err := p.Wait(); err != nil {
			t.Errorf("exit after SIGTERM: %v, want status 0", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no exit within 15s of SIGTERM")
	}

	// Restart on the same directory: the commit is there.
	_, addr = startServe(t, bin, "--data-dir", dir)
	c = client.New("http://" + addr)
	r, _ := c.Begin(ctx, "")
	if v, err := c.Get(ctx, r.ID, "k"); err != nil || string(v.Bytes) != "survives" {
		t.Errorf("after restart read k = %q, %v", v.Bytes, err)
	}
	if b, err := c.Begin(ctx, "req"); err != nil || b.ID != w.ID || string(b.Result) != "res" {
		t.Errorf("after restart begin(req) = %+v, %v; want the committed %s", b, err, w.ID)
	}
}

func TestServeBadInvocationExits2(t *testing.T) {
	bin := buildAft(t)
	tests := [][]string{
		{"serve", "--store", "nosuch://x"},
		{"serve", "--listen", "not-an-address"},
		{"serve", "--bogus"},
		{"nosuchcommand"},
	}
	for _, args := range tests {
		cmd := exec.Command(bin, args...)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("aft %v: %v, want exit status 2", args, err)
		}
		if lines := strings.Count(strings.TrimSpace(string(out)), "\n"); lines != 0 {
			t.Errorf("aft %v printed %d lines, want one: %s", args, lines+1, out)
		}
	}
}

// aft alone lists every subcommand with one line each; aft CMD -h starts with its usage line.
func TestUsage(t *testing.T) {
	bin := buildAft(t)
	out, _ := exec.Command(bin).CombinedOutput()
	for _, c := range commands {
		if !regexp.MustCompile(`(?m)^  ` + c.name + ` +\S`).Match(out) {
			t.Errorf("aft alone does not list %s with its line:\n%s", c.name, out)
		}
	}
	names := []string{"bench report", "bench compare", "workloads report", "workloads compare",
		"dlq list", "dlq replay", "provider local", "provider openfaas"}
	for _, c := range commands {
		names = append(names, c.name)
	}
	for _, name := range names {
		out, err := exec.Command(bin, append(strings.Fields(name), "-h")...).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("aft %s -h: %v, want exit status 2", name, err)
		}
		if first, _, _ := strings.Cut(string(out), "\n"); !strings.HasPrefix(first, "usage: aft "+name+" ") {
			t.Errorf("aft %s -h starts with %q, want its usage line", name, first)
		}
	}
}
