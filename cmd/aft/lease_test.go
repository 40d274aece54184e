package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/internal/launch"
	"github.com/aft-shim/aft/shim/serve"
	"github.com/aft-shim/aft/shim/store/redis/redistest"
)

// Two `aft serve` on one Redis: the second is refused, naming the first; the first,
// killed with SIGKILL and restarted on its data directory, gets in at once (its lease, an
// hour long here, would otherwise keep it out) and finds its commit.
func TestServeSharedStoreLease(t *testing.T) {
	srv := redistest.Start(t)
	url := srv.URL(0, "")
	bin := buildAft(t)
	dirA, dirB := t.TempDir(), t.TempDir()
	ctx := context.Background()

	a, addr := startServe(t, bin, "--store", url, "--data-dir", dirA, "--lease-time", "1h")
	c := client.New("http://" + addr)
	w, err := c.Begin(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	c.Put(ctx, w.ID, "k", []byte("kept"))
	if _, err := c.Commit(ctx, w.ID, nil); err != nil {
		t.Fatal(err)
	}
	idA, err := os.ReadFile(filepath.Join(dirA, "node-id"))
	if err != nil {
		t.Fatal(err)
	}

	second := func() {
		t.Helper()
		out, err := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--store", url, "--data-dir", dirB).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Fatalf("second node on one store: %v, want exit status 1:\n%s", err, out)
		}
		for _, want := range []string{"store in use by another node", strings.TrimSpace(string(idA)), "pid " + strconv.Itoa(a.Pid())} {
			if !strings.Contains(string(out), want) {
				t.Errorf("refusal does not say %q:\n%s", want, out)
			}
		}
	}
	second()

	a.Kill()
	a, addr = startServe(t, bin, "--store", url, "--data-dir", dirA, "--lease-time", "1h")
	c = client.New("http://" + addr)
	r, err := c.Begin(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(ctx, r.ID, "k"); err != nil || string(v.Bytes) != "kept" {
		t.Errorf("after restart read k = %q, %v", v.Bytes, err)
	}
	second()
}

// `aft serve` started while its store is down waits for it, saying on stderr which call
// failed and when it tries next, and serves once the store is up.
func TestServeWaitsForStore(t *testing.T) {
	srv := redistest.Start(t)
	srv.Stop(t)
	bin := buildAft(t)
	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--store", srv.URL(0, ""), "--data-dir", t.TempDir())
	cmd.Env = launch.Environ()
	p, err := launch.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	ready := make(chan string, 1)
	go func() {
		if addr, err := p.WaitLine(context.Background(), serve.ReadyAddr, time.Minute); err == nil {
			ready <- addr
		}
	}()
	deadline := time.After(20 * time.Second)
	for !strings.Contains(p.Tail(), "next try in") {
		select {
		case addr := <-ready:
			t.Fatalf("served on %s with its store down", addr)
		case <-deadline:
			t.Fatalf("no retry said on stderr in 20s:\n%s", p.Tail())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if out := p.Tail(); !strings.Contains(out, `call="open store"`) || !strings.Contains(out, "connection refused") {
		t.Errorf("stderr does not say which call failed and why:\n%s", out)
	}
	srv.Restart(t)
	select {
	case <-ready:
	case <-time.After(20 * time.Second):
		t.Fatalf("not serving 20s after the store came back:\n%s", p.Tail())
	}
}

// With --start-timeout, a store that stays down ends start-up with exit status 1 and the
// last error.
func TestServeStartTimeout(t *testing.T) {
	srv := redistest.Start(t)
	srv.Stop(t)
	bin := buildAft(t)
	out, err := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--store", srv.URL(0, ""),
		"--data-dir", t.TempDir(), "--start-timeout", "1s").CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("store down past --start-timeout: %v, want exit status 1:\n%s", err, out)
	}
	for _, want := range []string{"open store: gave up after", "context deadline exceeded", "connection refused"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output does not say %q:\n%s", want, out)
		}
	}
}
