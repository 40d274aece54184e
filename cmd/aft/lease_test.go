package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/internal/launch"
	"github.com/aft-shim/aft/shim/serve"
	"github.com/aft-shim/aft/shim/store/redis/redistest"
)

// Two `aft serve` on one Redis, each with its own data directory (so its own node id),
// share it: a commit on one is read on the other, at once with Aft-After. A third process
// started with the first one's node id takes its place; the first stops, saying why.
func TestServeSharedStoreNodes(t *testing.T) {
	srv := redistest.Start(t)
	url := srv.URL(0, "")
	bin := buildAft(t)
	ctx := context.Background()
	dirA, dirB := t.TempDir(), t.TempDir()
	a, addrA := startServe(t, bin, "--store", url, "--data-dir", dirA)
	_, addrB := startServe(t, bin, "--store", url, "--data-dir", dirB)
	ca, cb := client.New("http://"+addrA), client.New("http://"+addrB)

	commit := func(c *client.Client, v string) string {
		t.Helper()
		w, err := c.Begin(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		c.Put(ctx, w.ID, "k", []byte(v))
		done, err := c.Commit(ctx, w.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		return done.Version
	}
	read := func(c *client.Client, after string) string {
		t.Helper()
		r, err := c.BeginWith(ctx, client.BeginOptions{After: after})
		if err != nil {
			t.Fatalf("begin after %q: %v", after, err)
		}
		defer c.Abort(ctx, r.ID)
		v, err := c.Get(ctx, r.ID, "k")
		if err != nil {
			return "<" + err.Error() + ">"
		}
		return string(v.Bytes)
	}
	v := commit(ca, "from a")
	if got := read(cb, v); got != "from a" {
		t.Fatalf("node b, begun after node a's commit %s, reads k = %q", v, got)
	}
	commit(cb, "from b")
	deadline := time.Now().Add(5 * time.Second)
	for read(ca, "") != "from b" {
		if time.Now().After(deadline) {
			t.Fatal("node a did not learn node b's commit within 5s (the sync interval is 100ms)")
		}
		time.Sleep(20 * time.Millisecond)
	}

	idA, err := os.ReadFile(filepath.Join(dirA, "node-id"))
	if err != nil {
		t.Fatal(err)
	}
	startServe(t, bin, "--store", url, "--data-dir", t.TempDir(), "--node-id", strings.TrimSpace(string(idA)))
	select {
	case <-a.Exited():
	case <-time.After(20 * time.Second):
		t.Fatal("the first process of a node id still runs 20s after another took its lease")
	}
	if err := a.Wait(); err == nil || !strings.Contains(a.Tail(), "lease on the store is lost") {
		t.Errorf("first process of the node id: exit %v, output does not say its lease is lost:\n%s", err, a.Tail())
	}
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
