// Package retry runs a storage call again after a transient failure, with capped, jittered
// exponential backoff, and says on a log which call failed and when it is tried next.
//
// Start-up uses it: opening the store, taking the node's lease and recovering the committed
// state must outlast a store that is briefly unreachable (a restart, a throttled request,
// a dropped connection), and must fail at once on what waiting cannot fix (a bad URL, a
// missing table or bucket, refused credentials, damaged data). Transient draws that line.
package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/aft-shim/aft/shim/store/faults"
)

// Defaults of Policy.
const (
	DefaultBase = 100 * time.Millisecond
	DefaultMax  = 5 * time.Second
)

// Policy says how a call is retried. The zero value is usable: DefaultBase, DefaultMax,
// no log, Transient.
type Policy struct {
	// Base and Max shape the wait before retry n (1, 2, ...): a uniformly random wait in
	// [d/2, d), where d = min(Max, Base*2^(n-1)).
	Base, Max time.Duration
	// Log gets one warning per failed try, naming the call, the error and the wait; nil
	// logs nothing.
	Log *slog.Logger
	// Transient reports whether an error may go away by itself; nil means Transient.
	Transient func(error) bool
}

// Do calls f until it succeeds, returns an error that is not transient, or ctx ends; what
// names the call in log lines and in the error. The error returned wraps f's last error
// (and, when ctx ended while waiting, ctx's error too).
func (p Policy) Do(ctx context.Context, what string, f func(context.Context) error) error {
	transient := p.Transient
	if transient == nil {
		transient = Transient
	}
	for n := 1; ; n++ {
		err := f(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: gave up after %d tries (%w): %w", what, n, ctx.Err(), err)
		}
		if !transient(err) {
			return err
		}
		d := p.wait(n)
		if p.Log != nil {
			p.Log.Warn("store call failed, will retry", "call", what, "try", n, "err", err, "next try in", d.Round(time.Millisecond))
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s: gave up after %d tries (%w): %w", what, n, ctx.Err(), err)
		}
	}
}

// wait returns the pause before retry n.
func (p Policy) wait(n int) time.Duration {
	base, ceil := p.Base, p.Max
	if base <= 0 {
		base = DefaultBase
	}
	if ceil <= 0 {
		ceil = DefaultMax
	}
	d := ceil
	if n-1 < 30 && base<<(n-1) < ceil {
		d = base << (n - 1)
	}
	return d/2 + rand.N(d/2+1)
}

// permanent marks an error that retrying cannot fix.
type permanent struct{ err error }

func (e *permanent) Error() string { return e.err.Error() }
func (e *permanent) Unwrap() error { return e.err }

// Permanent marks err as one that no retry can fix, whatever it wraps: Transient reports
// false for it and for every error that wraps it.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanent{err}
}

// Transient reports whether err may go away by itself: a network error (a refused or
// reset connection, a timeout; not a host name that does not exist), a call's own
// deadline, a server's 5xx or 429 or throttling answer, a Redis server that is loading,
// failing over or busy, or an injected fault. Every other error, such as a bad URL, a
// missing table or bucket, refused credentials, or damaged data, is permanent; so is the
// cancellation of the caller's context, and any error marked with Permanent.
func Transient(err error) bool {
	var p *permanent
	switch {
	case err == nil, errors.As(err, &p), errors.Is(err, context.Canceled):
		return false
	case errors.Is(err, faults.ErrInjected), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return !dns.IsNotFound // a name that does not exist is a bad URL
	}
	var op *net.OpError // a dial, read or write that failed
	var ne net.Error
	if errors.As(err, &op) || errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var hs interface{ HTTPStatusCode() int } // AWS SDK response errors
	if errors.As(err, &hs) {
		if c := hs.HTTPStatusCode(); c >= 500 || c == 429 {
			return true
		}
	}
	var ec interface{ ErrorCode() string } // AWS API errors
	if errors.As(err, &ec) {
		switch ec.ErrorCode() {
		case "ThrottlingException", "Throttling", "RequestLimitExceeded", "ProvisionedThroughputExceededException",
			"SlowDown", "RequestTimeout", "InternalError", "InternalServerError", "ServiceUnavailable":
			return true
		}
	}
	var re interface { // a Redis server's error reply
		error
		RedisError()
	}
	if errors.As(err, &re) {
		for _, prefix := range []string{"LOADING ", "BUSY ", "TRYAGAIN ", "CLUSTERDOWN ", "MASTERDOWN "} {
			if strings.HasPrefix(re.Error(), prefix) {
				return true
			}
		}
	}
	return false
}
