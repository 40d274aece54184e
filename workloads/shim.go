package workloads

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"slices"
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
	args    []string         // --data-dir DIR or --store URL, and more
	swap    *client.Retarget // gets the address of each start; nil with listen
	listen  string           // a fixed host:port; "" for a free port each start

	mu    sync.Mutex
	proc  *launch.Proc // the last one started
	kills int

	crashing sync.Mutex // one crash at a time: a second restart on a fixed port would find it taken
}

// start starts the process on a free loopback port and waits until it serves; the
// address goes to the client.Retarget that every client of the shim uses.
func (s *procShim) start(ctx context.Context) error {
	listen := s.listen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	cmd := s.command(append([]string{"--listen", listen}, s.args...)...)
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
	if s.swap != nil {
		s.swap.Set(addr)
	}
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
	s.crashing.Lock()
	defer s.crashing.Unlock()
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

// sharedStore reports whether the --store URL u names a store several nodes can share.
func sharedStore(u string) bool { return u != "" && !strings.HasPrefix(u, "mem:") }

// startNodes starts the scenario's `aft serve` nodes on the shared store, each on a fixed
// loopback port (a restarted node keeps its URL) and a peer of the others, and makes
// KillShim kill the first one. It returns their base URLs.
func (r *run) startNodes(ctx context.Context) ([]string, error) {
	n := r.sc.ShimNodes
	urls := make([]string, n)
	for i := range urls {
		port, err := launch.StablePort()
		if err != nil {
			return nil, err
		}
		urls[i] = fmt.Sprintf("http://127.0.0.1:%d", port)
	}
	var first *procShim
	for i, u := range urls {
		peers := slices.Delete(slices.Clone(urls), i, i+1)
		args := []string{"--log-level", "warn", "--data-dir", fmt.Sprintf("%s/%s-node%d", r.s.dir, r.id, i),
			"--store", r.s.o.Store, "--create-store", "--peers", strings.Join(peers, ",")}
		ps := &procShim{command: r.s.o.ServeCommand, args: args, listen: strings.TrimPrefix(u, "http://")}
		r.closers = append(r.closers, ps.stop)
		if err := ps.start(ctx); err != nil {
			return nil, fmt.Errorf("node %d: %w", i, err)
		}
		if i == 0 {
			first = ps
		}
	}
	r.rt.killShim = func() { r.crashShim(ctx, first) }
	return urls, nil
}

// crashShim kills ps a moment after the commit left, at most maxShimKills times, and
// starts it again, counting the kill.
func (r *run) crashShim(ctx context.Context, ps *procShim) {
	r.crashes.Add(1)
	go func() {
		defer r.crashes.Done()
		time.Sleep(time.Millisecond) // let the commit leave first
		killed, err := ps.crash(ctx, 100*time.Millisecond, maxShimKills)
		if killed {
			r.rt.count("shim_kill")
		}
		if err != nil {
			r.mu.Lock()
			r.crashErr = err
			r.mu.Unlock()
		}
	}()
}
