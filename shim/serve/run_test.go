package serve

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/internal/launch"
)

func TestReadyAddr(t *testing.T) {
	tests := []struct {
		line, want string
		ok         bool
	}{
		{ReadyPrefix + "127.0.0.1:7654 (store: mem://)", "127.0.0.1:7654", true},
		{ReadyPrefix + "[::1]:80", "[::1]:80", true},
		{ReadyPrefix, "", false},
		{"level=INFO msg=recovered", "", false},
		{"  " + ReadyPrefix + "127.0.0.1:1", "", false},
		{`time=x level=INFO msg="recovered" at="` + ReadyPrefix + `127.0.0.1:9"`, "", false},
		{"aft proxy: listening on 127.0.0.1:7654 (function f at http://x, shim http://y; ...)", "", false},
	}
	for _, tt := range tests {
		if got, ok := ReadyAddr(tt.line); got != tt.want || ok != tt.ok {
			t.Errorf("ReadyAddr(%q) = %q, %v; want %q, %v", tt.line, got, ok, tt.want, tt.ok)
		}
	}
}

// runShim starts Run with cfg and returns the address of its ready line, the whole line,
// and Run's result once ctx ends.
func runShim(t *testing.T, ctx context.Context, cfg Config) (addr, line string, done <-chan error) {
	t.Helper()
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		err := Run(ctx, cfg, pw, nil)
		pw.Close()
		errc <- err
	}()
	sc := bufio.NewScanner(pr)
	if !sc.Scan() {
		t.Fatalf("Run printed no ready line: %v", <-errc)
	}
	go io.Copy(io.Discard, pr)
	addr, ok := ReadyAddr(sc.Text())
	if !ok {
		t.Fatalf("first line %q is not the ready line", sc.Text())
	}
	return addr, sc.Text(), errc
}

// Run serves until its context ends, then stops with no error; its store is closed then,
// so a second Run on the same data directory opens it and finds the commit.
func TestRunServesUntilCanceled(t *testing.T) {
	cfg := Defaults()
	cfg.Listen, cfg.DataDir = "127.0.0.1:0", t.TempDir()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"", "kept"} {
		ctx, cancel := context.WithCancel(context.Background())
		addr, line, done := runShim(t, ctx, cfg)
		if wantLine := ReadyPrefix + addr + " (store: embedded " + filepath.Join(cfg.DataDir, "aft.db") + ")"; line != wantLine {
			t.Errorf("ready line %q, want %q", line, wantLine)
		}
		c := client.New("http://" + addr)
		tx, err := c.Begin(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if v, err := c.Get(ctx, tx.ID, "k"); want != "" && (err != nil || string(v.Bytes) != want) {
			t.Errorf("run %d: read k = %q, %v; want %q", i, v.Bytes, err, want)
		}
		c.Put(ctx, tx.ID, "k", []byte("kept"))
		if _, err := c.Commit(ctx, tx.ID, nil); err != nil {
			t.Fatal(err)
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run after cancel = %v, want nil", err)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("Run did not return within 15s of its context's end")
		}
	}
}

// A listen address in use fails Run with an error that says what to do, after it released
// the store.
func TestRunListenInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := Defaults()
	cfg.Listen, cfg.DataDir = ln.Addr().String(), t.TempDir()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	err = Run(context.Background(), cfg, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "listen on "+cfg.Listen) || !strings.Contains(err.Error(), "pick another address with --listen") {
		t.Fatalf("Run on an address in use = %v", err)
	}
	s, err := Open(context.Background(), cfg, nil)
	if err != nil {
		t.Fatalf("open after a failed Run: %v (store not released?)", err)
	}
	s.Close()
}

// --pprof-listen serves the profiler on its own address while Run runs, never on the API's,
// and stops it with Run.
func TestRunPprof(t *testing.T) {
	pprofAddr, err := launch.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	cfg := Defaults()
	cfg.Listen, cfg.DataDir, cfg.PprofListen = "127.0.0.1:0", t.TempDir(), pprofAddr
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addr, _, done := runShim(t, ctx, cfg)
	get := func(url string) int {
		resp, err := http.Get(url)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("http://" + pprofAddr + "/debug/pprof/"); code != 200 {
		t.Errorf("profiler answered %d, want 200", code)
	}
	if code := get("http://" + addr + "/debug/pprof/"); code != 404 {
		t.Errorf("the API's address answered %d for /debug/pprof/, want 404", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	if _, err := c.Get("http://" + pprofAddr + "/debug/pprof/"); err == nil {
		t.Error("the profiler still answers after Run returned")
	}
	bad := Defaults()
	bad.DataDir, bad.PprofListen = t.TempDir(), "nohost"
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "--pprof-listen") {
		t.Errorf("Validate of a bad --pprof-listen = %v", err)
	}
}
