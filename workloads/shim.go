package workloads

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/shim/serve"
	"github.com/aft-shim/aft/shim/store"
	"github.com/prometheus/client_golang/prometheus"
)

// localShim is a shim served in this process over a store.
type localShim struct {
	url  string
	shim *serve.Shim
}

// startLocalShim serves a shim over st (serve.OpenStore with aft serve's defaults) on a
// loopback port; its metrics go to reg. st stays open when the shim closes.
func startLocalShim(ctx context.Context, st store.Store, reg *prometheus.Registry) (*localShim, error) {
	cfg := serve.Defaults()
	cfg.Registry = reg
	shim, err := serve.OpenStore(ctx, st, cfg, nil)
	if err != nil {
		return nil, fmt.Errorf("shim: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		shim.Close()
		return nil, fmt.Errorf("shim: %w", err)
	}
	go shim.Serve(ln)
	return &localShim{url: "http://" + ln.Addr().String(), shim: shim}, nil
}

func (s *localShim) close() { s.shim.Close() }

// readyRE matches the line `aft serve` prints when it serves (spec/cli.md).
var readyRE = regexp.MustCompile(`^aft serve: listening on (\S+)`)

// procShim is `aft serve` run as a process of its own, to be killed with SIGKILL and
// started again on the same data directory or store.
type procShim struct {
	command func(args ...string) *exec.Cmd
	args    []string // --data-dir DIR or --store URL, and more
	swap    *client.Retarget

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	out    *tail
	kills  int
}

// start starts the process on a free loopback port and waits until it serves; the
// address goes to the client.Retarget that every client of the shim uses.
func (s *procShim) start(ctx context.Context) error {
	cmd := s.command(append([]string{"--listen", "127.0.0.1:0"}, s.args...)...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("aft serve: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		pw.Close()
		close(exited)
	}()
	out := &tail{}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			out.add(sc.Text())
			if m := readyRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case ready <- m[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, pr)
	}()
	s.mu.Lock()
	s.cmd, s.exited, s.out = cmd, exited, out
	s.mu.Unlock()
	select {
	case addr := <-ready:
		s.swap.Set(addr)
		return nil
	case <-exited:
		return fmt.Errorf("aft serve exited before it served: %s", out)
	case <-time.After(30 * time.Second):
		s.kill()
		return fmt.Errorf("aft serve printed no address in 30s: %s", out)
	case <-ctx.Done():
		s.kill()
		return ctx.Err()
	}
}

// kill sends SIGKILL and waits until the process is gone.
func (s *procShim) kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-exited:
		return
	default:
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

// stop stops the process as an operator does, with SIGTERM, so that it releases the
// store's lease for the shim of the next run; after 10s it kills it.
func (s *procShim) stop() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		s.kill()
	}
}

// crash kills the process and starts it again after down, unless it was killed max
// times already. It reports whether it killed the process.
func (s *procShim) crash(ctx context.Context, down time.Duration, max int) (bool, error) {
	s.mu.Lock()
	if s.kills >= max {
		s.mu.Unlock()
		return false, nil
	}
	s.kills++
	s.mu.Unlock()
	s.kill()
	time.Sleep(down)
	return true, s.start(ctx)
}

// tail keeps the last lines of a process's output, for error messages.
type tail struct {
	mu    sync.Mutex
	lines []string
}

func (t *tail) add(l string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, l)
	if len(t.lines) > 20 {
		t.lines = t.lines[1:]
	}
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, " | ")
}
