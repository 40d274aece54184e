// Package local is an OpenFaaS provider (on github.com/openfaas/faas-provider) that runs
// functions as local processes, so that a gateway, the aft plugin and functions run on one
// machine with no containers. A function's "image" is the command line that starts it; the
// process gets PORT (the port to serve HTTP on, as behind of-watchdog's http mode) and the
// deployment's environment. It is for development and tests, not production.
package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aft-shim/aft/internal/launch"
	"github.com/openfaas/faas-provider/types"
)

// Namespace is the only namespace the local provider has.
const Namespace = "openfaas-fn"

// ErrNotFound is returned for a function that is not deployed.
var ErrNotFound = errors.New("function not found")

// Options configure a Provider.
type Options struct {
	Dir          string        // working directory of function processes (default: the current one)
	ReadyTimeout time.Duration // how long a new process may take to accept connections (default 15s)
	Log          *slog.Logger  // nil discards
}

// Provider runs deployed functions as processes. It is safe for concurrent use.
type Provider struct {
	o       Options
	mu      sync.Mutex
	fns     map[string]*function
	secrets map[string]types.Secret
}

type function struct {
	dep     types.FunctionDeployment
	procs   []*process
	next    atomic.Uint64 // round robin
	invoked atomic.Uint64
}

// New returns a provider with no functions.
func New(o Options) *Provider {
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 15 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Provider{o: o, fns: map[string]*function{}, secrets: map[string]types.Secret{}}
}

// name strips the namespace suffix the gateway may add ("fn.openfaas-fn").
func name(n string) string { return strings.TrimSuffix(n, "."+Namespace) }

// Deploy starts a new function with one replica (or the min-scale label's count).
func (p *Provider) Deploy(ctx context.Context, dep types.FunctionDeployment) error {
	if dep.Service == "" || dep.Image == "" {
		return fmt.Errorf("deploy: service and image (the command line) are required")
	}
	dep.Service = name(dep.Service)
	p.mu.Lock()
	if _, ok := p.fns[dep.Service]; ok {
		p.mu.Unlock()
		return fmt.Errorf("deploy %s: already deployed; update it with PUT", dep.Service)
	}
	f := &function{dep: dep}
	p.fns[dep.Service] = f
	p.mu.Unlock()
	if err := p.scale(ctx, f, minScale(dep)); err != nil {
		p.Remove(dep.Service) // a failed deploy leaves nothing behind
		return err
	}
	return nil
}

// Update replaces a function's deployment and restarts its processes.
func (p *Provider) Update(ctx context.Context, dep types.FunctionDeployment) error {
	dep.Service = name(dep.Service)
	p.mu.Lock()
	f, ok := p.fns[dep.Service]
	if !ok {
		p.mu.Unlock()
		return fmt.Errorf("update %s: %w", dep.Service, ErrNotFound)
	}
	n := len(f.procs)
	old := f.procs
	f.procs, f.dep = nil, dep
	p.mu.Unlock()
	for _, pr := range old {
		pr.stop()
	}
	return p.scale(ctx, f, uint64(max(n, 1)))
}

// Remove stops and forgets a function.
func (p *Provider) Remove(fn string) error {
	fn = name(fn)
	p.mu.Lock()
	f, ok := p.fns[fn]
	delete(p.fns, fn)
	p.mu.Unlock()
	if !ok {
		return fmt.Errorf("remove %s: %w", fn, ErrNotFound)
	}
	for _, pr := range f.procs {
		pr.stop()
	}
	return nil
}

// Scale sets the number of processes of a function.
func (p *Provider) Scale(ctx context.Context, fn string, replicas uint64) error {
	p.mu.Lock()
	f, ok := p.fns[name(fn)]
	p.mu.Unlock()
	if !ok {
		return fmt.Errorf("scale %s: %w", fn, ErrNotFound)
	}
	return p.scale(ctx, f, replicas)
}

func (p *Provider) scale(ctx context.Context, f *function, replicas uint64) error {
	const maxReplicas = 16
	if replicas > maxReplicas {
		return fmt.Errorf("scale %s: %d replicas, the local provider runs at most %d", f.dep.Service, replicas, maxReplicas)
	}
	for {
		p.mu.Lock()
		n := uint64(len(f.procs))
		if n == replicas {
			p.mu.Unlock()
			return nil
		}
		if n > replicas {
			last := f.procs[n-1]
			f.procs = f.procs[:n-1]
			p.mu.Unlock()
			last.stop()
			continue
		}
		dep := f.dep
		p.mu.Unlock()
		pr, err := p.start(ctx, dep, int(n))
		if err != nil {
			return err
		}
		p.mu.Lock()
		f.procs = append(f.procs, pr)
		p.mu.Unlock()
	}
}

// Resolve returns the address of one of a function's processes, round robin. It is the
// faas-provider proxy.BaseURLResolver of the provider.
func (p *Provider) Resolve(fn string) (url.URL, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f, ok := p.fns[name(fn)]
	if !ok {
		return url.URL{}, fmt.Errorf("resolve %s: %w", fn, ErrNotFound)
	}
	var live []*process
	for _, pr := range f.procs {
		if pr.alive() {
			live = append(live, pr)
		}
	}
	if len(live) == 0 {
		return url.URL{}, fmt.Errorf("resolve %s: no running replica", fn)
	}
	f.invoked.Add(1)
	pr := live[f.next.Add(1)%uint64(len(live))]
	return url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(pr.port)}, nil
}

// Status returns what the provider knows of one function.
func (p *Provider) Status(fn string) (types.FunctionStatus, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f, ok := p.fns[name(fn)]
	if !ok {
		return types.FunctionStatus{}, fmt.Errorf("status %s: %w", fn, ErrNotFound)
	}
	return f.status(), nil
}

// List returns every function.
func (p *Provider) List() []types.FunctionStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]types.FunctionStatus, 0, len(p.fns))
	for _, f := range p.fns {
		out = append(out, f.status())
	}
	return out
}

func (f *function) status() types.FunctionStatus {
	var avail uint64
	for _, pr := range f.procs {
		if pr.alive() {
			avail++
		}
	}
	d := f.dep
	return types.FunctionStatus{
		Name: d.Service, Image: d.Image, Namespace: Namespace, EnvProcess: d.EnvProcess, EnvVars: d.EnvVars,
		Labels: d.Labels, Annotations: d.Annotations, Secrets: d.Secrets,
		Replicas: uint64(len(f.procs)), AvailableReplicas: avail, InvocationCount: float64(f.invoked.Load()),
	}
}

// Close stops every process.
func (p *Provider) Close() {
	p.mu.Lock()
	fns := p.fns
	p.fns = map[string]*function{}
	p.mu.Unlock()
	for _, f := range fns {
		for _, pr := range f.procs {
			pr.stop()
		}
	}
}

func minScale(dep types.FunctionDeployment) uint64 {
	if dep.Labels != nil {
		if v, err := strconv.ParseUint((*dep.Labels)["com.openfaas.scale.min"], 10, 64); err == nil && v > 0 {
			return v
		}
	}
	return 1
}

// process is one running replica.
type process struct {
	fn   string
	id   int
	port int
	proc *launch.Proc
	logs *ring
}

func (p *Provider) start(ctx context.Context, dep types.FunctionDeployment, id int) (*process, error) {
	port, err := launch.FreePort()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", dep.Service, err)
	}
	cmd := exec.Command("/bin/sh", "-c", dep.Image)
	cmd.Dir = p.o.Dir
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port), "port="+strconv.Itoa(port))
	if dep.EnvProcess != "" {
		cmd.Env = append(cmd.Env, "fprocess="+dep.EnvProcess)
	}
	for k, v := range dep.EnvVars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p.mu.Lock()
	for _, s := range dep.Secrets {
		if sec, ok := p.secrets[s]; ok {
			cmd.Env = append(cmd.Env, "SECRET_"+strings.ToUpper(strings.ReplaceAll(s, "-", "_"))+"="+sec.Value)
		}
	}
	p.mu.Unlock()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // stop kills the whole group
	logs, w := newRing(1000)
	cmd.Stdout, cmd.Stderr = w, w
	proc, err := launch.Start(cmd)
	if err != nil {
		return nil, fmt.Errorf("start %s: %q: %w", dep.Service, dep.Image, err)
	}
	p.o.Log.Info("function process started", "function", dep.Service, "replica", id, "port", port, "pid", proc.Pid())
	if err := proc.WaitDial(ctx, "127.0.0.1:"+strconv.Itoa(port), p.o.ReadyTimeout); err != nil {
		return nil, fmt.Errorf("start %s: HTTP on port %d: %w", dep.Service, port, err)
	}
	return &process{fn: dep.Service, id: id, port: port, proc: proc, logs: logs}, nil
}

func (pr *process) alive() bool {
	select {
	case <-pr.proc.Exited():
		return false
	default:
		return true
	}
}

// stop sends SIGTERM to the process group, then SIGKILL after a grace period.
func (pr *process) stop() { pr.proc.Stop(3 * time.Second) }
