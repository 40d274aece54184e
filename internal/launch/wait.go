package launch

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"time"
)

// WaitLine waits until match accepts a line of the process's output (stdout or stderr),
// and returns what match returned for it, such as the address the line names (serve.ReadyAddr of package shim/serve,
// Submatch). A line printed before the call counts while it is in the tail. It fails,
// killing the process, when the process exits first (ErrExited), after timeout
// (ErrTimeout) or when ctx ends.
func (p *Proc) WaitLine(ctx context.Context, match func(line string) (string, bool), timeout time.Duration) (string, error) {
	found := p.out.watch(match)
	defer p.out.unwatch(found)
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case v := <-found:
		return v, nil
	case <-p.exited:
		select {
		case v := <-found: // printed just before the exit
			return v, nil
		default:
		}
		return "", p.exitError()
	case <-timer.C:
		return "", p.fail(fmt.Errorf("%w: no ready line within %v", ErrTimeout, timeout))
	case <-ctx.Done():
		return "", p.fail(fmt.Errorf("waiting for the ready line: %w", ctx.Err()))
	}
}

// Submatch returns a match for WaitLine: a line that re matches, and its first submatch
// (the whole match when re has no group).
func Submatch(re *regexp.Regexp) func(line string) (string, bool) {
	return func(line string) (string, bool) {
		m := re.FindStringSubmatch(line)
		if m == nil {
			return "", false
		}
		return m[min(1, len(m)-1)], true
	}
}

// WaitDial waits until addr (host:port) accepts TCP connections, trying every 20ms; it
// fails as WaitProbe does.
func (p *Proc) WaitDial(ctx context.Context, addr string, timeout time.Duration) error {
	var d net.Dialer
	return p.WaitProbe(ctx, func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}, 20*time.Millisecond, timeout)
}

// HTTPOK returns a probe for WaitProbe: a GET of url, each try at most a second, that
// succeeds on 200 OK.
func HTTPOK(url string) func(context.Context) error {
	return func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return nil
	}
}

// WaitProbe calls probe until it returns nil, every interval, and then returns nil. The
// context of probe ends at the timeout; a probe should bound each try itself. It fails,
// killing the process, when the process exits first (ErrExited), after timeout
// (ErrTimeout, with the last error of probe) or when ctx ends.
func (p *Proc) WaitProbe(ctx context.Context, probe func(context.Context) error, every, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	for {
		err := probe(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-p.exited:
			return p.exitError()
		case <-ctx.Done():
			if time.Now().Before(deadline) { // the caller's context ended first
				return p.fail(fmt.Errorf("waiting until ready: %w", ctx.Err()))
			}
			return p.fail(fmt.Errorf("%w: within %v, last try: %v", ErrTimeout, timeout, err))
		case <-time.After(every):
		}
	}
}
