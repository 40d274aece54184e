// Package launch starts child processes and waits until they are ready: the one home of
// what the tests, the local OpenFaaS provider, the benchmarks and the workload suite do
// with `aft serve`, redis-server, DynamoDB Local, MinIO and function processes.
//
// Start runs an *exec.Cmd and keeps a bounded tail of its stdout and stderr, for error
// messages. A Proc then waits for readiness in one of three ways: a line of its output
// (WaitLine, such as the ready line of `aft serve`: serve.ReadyAddr), a TCP address that accepts connections (WaitDial), or
// any check (WaitProbe, such as an HTTP health endpoint). Each wait has a timeout, reports
// the process's early exit with its last output, and kills the process when it fails, so
// that a failed start leaves nothing running. Kill (SIGKILL) and Stop (SIGTERM, then
// SIGKILL after a grace) reap the process. FreeAddr and FreePort find loopback ports, and
// Environ is the environment of a child that its flags alone configure.
package launch

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrExited is the error of a wait that the process's exit ended before it was ready.
var ErrExited = errors.New("exited before it was ready")

// ErrTimeout is the error of a wait that its timeout ended before the process was ready.
var ErrTimeout = errors.New("not ready in time")

// waitDelay is how long Wait waits for the output of an exited process: a grandchild
// holding its pipes open does not keep the process from being reaped.
const waitDelay = 2 * time.Second

// Proc is a started child process. Its methods are safe for concurrent use.
type Proc struct {
	// Cmd is the started command; Cmd.Process is set. Read Cmd.ProcessState only after
	// Exited is closed.
	Cmd *exec.Cmd

	out     *output
	exited  chan struct{} // closed once the process exited and was reaped
	waitErr error         // of cmd.Wait, set before exited is closed
	once    sync.Once     // of the SIGKILL
}

// Start starts cmd. Its stdout and stderr go, line by line, to the tail of the Proc (see
// Tail) and on to cmd.Stdout and cmd.Stderr when the caller set them. A goroutine reaps
// the process when it exits; Exited tells when.
func Start(cmd *exec.Cmd) (*Proc, error) {
	out := newOutput()
	cmd.Stdout = out.writer(cmd.Stdout)
	cmd.Stderr = out.writer(cmd.Stderr)
	if cmd.WaitDelay == 0 {
		cmd.WaitDelay = waitDelay
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	p := &Proc{Cmd: cmd, out: out, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		out.flush()
		close(p.exited)
	}()
	return p, nil
}

// Pid returns the process id.
func (p *Proc) Pid() int { return p.Cmd.Process.Pid }

// Exited is closed once the process has exited and was reaped.
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// Wait waits until the process has exited and returns what exec.Cmd.Wait returned: nil
// for exit status 0, an *exec.ExitError otherwise.
func (p *Proc) Wait() error {
	<-p.exited
	return p.waitErr
}

// Tail returns the last lines of the process's output (stdout and stderr as they came, at
// most about 4 KB), for error messages.
func (p *Proc) Tail() string { return p.out.tail() }

// Signal sends sig to the process, or to its process group when the command was started
// with SysProcAttr.Setpgid (a shell's children too, even once the shell has exited). Once
// the process has exited, a process that is not a group leader gets no signal: its pid may
// be another's by then.
func (p *Proc) Signal(sig syscall.Signal) {
	if a := p.Cmd.SysProcAttr; a != nil && a.Setpgid {
		syscall.Kill(-p.Cmd.Process.Pid, sig)
		return
	}
	select {
	case <-p.exited:
	default:
		p.Cmd.Process.Signal(sig)
	}
}

// Kill sends SIGKILL (after SIGCONT, should the process be stopped) and waits until the
// process is reaped. It may be called again, and after the process exited.
func (p *Proc) Kill() {
	p.once.Do(func() {
		p.Signal(syscall.SIGCONT)
		p.Signal(syscall.SIGKILL)
	})
	<-p.exited
}

// Stop asks the process to shut down with SIGTERM, kills it when it still runs after
// grace, and waits until it is reaped.
func (p *Proc) Stop(grace time.Duration) {
	p.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(grace):
		p.Kill()
	}
}

// fail ends a wait that failed for err: it kills the process and returns err with the
// process's last output.
func (p *Proc) fail(err error) error {
	p.Kill()
	return fmt.Errorf("%w; its last output:\n%s", err, p.lastOutput())
}

// exitError is the error of a process that exited before it was ready.
func (p *Proc) exitError() error {
	return fmt.Errorf("%w (%v); its last output:\n%s", ErrExited, p.Cmd.ProcessState, p.lastOutput())
}

func (p *Proc) lastOutput() string {
	if t := p.Tail(); t != "" {
		return t
	}
	return "(none)"
}

// Environ returns the environment of this process without its AFT_ variables, for a
// child `aft` that its flags alone should configure (every flag of aft also reads
// AFT_<FLAG>).
func Environ() []string {
	env := []string{} // never nil: a nil Cmd.Env would pass on the whole environment
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AFT_") {
			env = append(env, kv)
		}
	}
	return env
}
