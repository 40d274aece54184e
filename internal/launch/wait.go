package launch

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"time"
)

// WaitLine waits until a line of the process's output (stdout or stderr) matches re, and
// returns the match and its submatches (FindStringSubmatch). A line printed before the
// call counts while it is in the tail. It fails, killing the process, when the process
// exits first (ErrExited), after timeout (ErrTimeout) or when ctx ends.
func (p *Proc) WaitLine(ctx context.Context, re *regexp.Regexp, timeout time.Duration) ([]string, error) {
	found := p.out.watch(re)
	defer p.out.unwatch(found)
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case m := <-found:
		return m, nil
	case <-p.exited:
		select {
		case m := <-found: // printed just before the exit
			return m, nil
		default:
		}
		return nil, p.exitError()
	case <-timer.C:
		return nil, p.fail(fmt.Errorf("%w: no line matching %q within %v", ErrTimeout, re, timeout))
	case <-ctx.Done():
		return nil, p.fail(fmt.Errorf("waiting for a line matching %q: %w", re, ctx.Err()))
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
