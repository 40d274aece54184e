package retry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aft-shim/aft/shim/store/faults"
	smithy "github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

func TestTransient(t *testing.T) {
	status := func(code int) error {
		return &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: code}}, Err: errors.New("x")}
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"injected", fmt.Errorf("faults list: %w", faults.ErrInjected), true},
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{"reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"call deadline", fmt.Errorf("get: %w", context.DeadlineExceeded), true},
		{"503", status(503), true},
		{"429", status(429), true},
		{"throttled", &smithy.GenericAPIError{Code: "ThrottlingException"}, true},
		{"no such host", &net.DNSError{Err: "no such host", Name: "nosuch", IsNotFound: true}, false},
		{"dns timeout", &net.DNSError{Err: "timeout", Name: "x", IsTimeout: true}, true},
		{"403", status(403), false},
		{"missing table", &smithy.GenericAPIError{Code: "ResourceNotFoundException"}, false},
		{"cancelled", fmt.Errorf("list: %w", context.Canceled), false},
		{"marked permanent", Permanent(fmt.Errorf("damaged: %w", faults.ErrInjected)), false},
		{"wrapped permanent", fmt.Errorf("list: %w", Permanent(errors.New("damaged"))), false},
		{"unknown", errors.New("table does not exist"), false},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		if got := Transient(tt.err); got != tt.want {
			t.Errorf("%s: Transient(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

func TestDo(t *testing.T) {
	var log bytes.Buffer
	p := Policy{Base: time.Millisecond, Max: 4 * time.Millisecond, Log: slog.New(slog.NewTextHandler(&log, nil))}
	n := 0
	err := p.Do(context.Background(), "list things", func(context.Context) error {
		if n++; n < 4 {
			return faults.ErrInjected
		}
		return nil
	})
	if err != nil || n != 4 {
		t.Fatalf("Do = %v after %d calls, want success on the 4th", err, n)
	}
	if got := strings.Count(log.String(), `call="list things"`); got != 3 {
		t.Errorf("%d log lines name the call, want 3:\n%s", got, log.String())
	}
	n = 0
	perm := errors.New("bucket missing")
	if err := p.Do(context.Background(), "open", func(context.Context) error { n++; return perm }); err != perm || n != 1 {
		t.Errorf("permanent error: Do = %v after %d calls, want it at once", err, n)
	}
}

// Waits grow, stay within Max, and are jittered.
func TestWait(t *testing.T) {
	p := Policy{Base: 100 * time.Millisecond, Max: time.Second}
	seen := map[time.Duration]bool{}
	for n := 1; n <= 40; n++ {
		d := p.wait(n)
		ceil := min(time.Second, 100*time.Millisecond<<min(n-1, 20))
		if d < ceil/2 || d > ceil {
			t.Errorf("wait(%d) = %v, want in [%v, %v]", n, d, ceil/2, ceil)
		}
		seen[d] = true
	}
	if len(seen) < 10 {
		t.Errorf("only %d distinct waits in 40: no jitter", len(seen))
	}
}
