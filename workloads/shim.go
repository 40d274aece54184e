package workloads

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/internal/launch"
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

// procShim is `aft serve` run as a process of its own, to be killed with SIGKILL and
// started again on the same data directory or store.
type procShim struct {
	command func(args ...string) *exec.Cmd
	args    []string // --data-dir DIR or --store URL, and more
	swap    *client.Retarget

	mu    sync.Mutex
	proc  *launch.Proc // the last one started
	kills int
}

// start starts the process on a free loopback port and waits until it serves; the
// address goes to the client.Retarget that every client of the shim uses.
func (s *procShim) start(ctx context.Context) error {
	cmd := s.command(append([]string{"--listen", "127.0.0.1:0"}, s.args...)...)
	p, err := launch.Start(cmd)
	if err != nil {
		return fmt.Errorf("aft serve: %w", err)
	}
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()
	addr, err := p.WaitLine(ctx, serve.ReadyAddr, 30*time.Second)
	if err != nil {
		// One line, as the reports show it: the output's lines joined with " | ".
		return fmt.Errorf("aft serve: %s", strings.ReplaceAll(err.Error(), "\n", " | "))
	}
	s.swap.Set(addr)
	return nil
}

// kill sends SIGKILL and waits until the process is gone.
func (s *procShim) kill() {
	if p := s.last(); p != nil {
		p.Kill()
	}
}

// stop stops the process as an operator does, with SIGTERM, so that it releases the
// store's lease for the shim of the next run; after 10s it kills it.
func (s *procShim) stop() {
	if p := s.last(); p != nil {
		p.Stop(10 * time.Second)
	}
}

// last returns the process started last, nil before the first start.
func (s *procShim) last() *launch.Proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc
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
