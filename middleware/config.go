package middleware

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"time"

	"github.com/aft-shim/aft/client"
)

// Defaults of the zero Options and Config fields.
const (
	DefaultAttempts         = 3
	DefaultAttemptTimeout   = 10 * time.Second
	DefaultDeadline         = 30 * time.Second
	DefaultMaxRequestBytes  = 4 << 20
	DefaultMaxResponseBytes = 16 << 20
	DefaultBackoffBase      = 100 * time.Millisecond
	DefaultBackoffMax       = 2 * time.Second
	DefaultMaxZombies       = 64
	DefaultShimTimeout      = 10 * time.Second
)

// OnRunning is what the middleware does with a request whose idempotency key has an
// attempt running in this middleware instance (a duplicate that arrived early).
type OnRunning string

// The duplicate policies. Across several middleware instances in front of one function
// only OnRunningRun semantics hold: an instance cannot see the attempts of another, and the
// shim's first-commit-wins decides.
const (
	// OnRunningRun runs the duplicate as a new attempt of the key; the first commit wins
	// and every caller gets the winner's result.
	OnRunningRun OnRunning = "run"
	// OnRunningWait waits for the running request's outcome and answers it (with
	// X-Aft-Replayed: true when it committed), without running the function again.
	OnRunningWait OnRunning = "wait"
	// OnRunningRefuse answers 409, code request_in_progress.
	OnRunningRefuse OnRunning = "refuse"
)

// Set parses s, for use as a flag.Value.
func (p *OnRunning) Set(s string) error {
	switch v := OnRunning(s); v {
	case OnRunningRun, OnRunningWait, OnRunningRefuse:
		*p = v
		return nil
	}
	return fmt.Errorf("on-running %q: want run, wait or refuse", s)
}

// String returns the policy's name.
func (p *OnRunning) String() string { return string(*p) }

// Options are the settings of one function. Config holds the defaults of a Group;
// Group.Handler takes the Options of each function (the OpenFaaS plugin sets them from
// annotations). A zero field takes its default.
type Options struct {
	// Function names the function, in dead-letter records, logs and metric labels, and
	// in the request fingerprint (a key reused for another function is refused).
	// Required.
	Function string
	// Attempts bounds the attempts of one request (default DefaultAttempts).
	Attempts int
	// AttemptTimeout is how long the middleware waits for one attempt (default
	// DefaultAttemptTimeout). Past it the attempt counts as failed and is retried, but
	// it is not cancelled: it runs on as a zombie until Deadline and is committed if it
	// succeeds, should it come first.
	AttemptTimeout time.Duration
	// Deadline bounds all attempts of one request together, backoff included (default
	// DefaultDeadline). It must not be shorter than AttemptTimeout.
	Deadline time.Duration
	// OnRunning is the duplicate policy (default OnRunningRun).
	OnRunning OnRunning
	// MaxRequestBytes bounds the request body, which is buffered to be replayed on
	// retries (default DefaultMaxRequestBytes); a larger one is answered 413.
	MaxRequestBytes int64
	// MaxResponseBytes bounds the function's response, which is buffered until the
	// commit (default DefaultMaxResponseBytes); a larger one aborts the attempt and is
	// answered 502, code response_too_large, without retry.
	MaxResponseBytes int64
	// BackoffBase and BackoffMax shape the backoff before a retry: a uniformly random
	// wait in [0, min(BackoffMax, BackoffBase*2^(retry-1))) ("full jitter"). Defaults
	// DefaultBackoffBase and DefaultBackoffMax.
	BackoffBase, BackoffMax time.Duration
}

// fill gives every zero field of o the value of the same field of def.
func (o Options) fill(def Options) Options {
	if o.Function == "" {
		o.Function = def.Function
	}
	if o.Attempts == 0 {
		o.Attempts = def.Attempts
	}
	if o.AttemptTimeout == 0 {
		o.AttemptTimeout = def.AttemptTimeout
	}
	if o.Deadline == 0 {
		o.Deadline = def.Deadline
	}
	if o.OnRunning == "" {
		o.OnRunning = def.OnRunning
	}
	if o.MaxRequestBytes == 0 {
		o.MaxRequestBytes = def.MaxRequestBytes
	}
	if o.MaxResponseBytes == 0 {
		o.MaxResponseBytes = def.MaxResponseBytes
	}
	if o.BackoffBase == 0 {
		o.BackoffBase = def.BackoffBase
	}
	if o.BackoffMax == 0 {
		o.BackoffMax = def.BackoffMax
	}
	return o
}

var defaultOptions = Options{
	Attempts:         DefaultAttempts,
	AttemptTimeout:   DefaultAttemptTimeout,
	Deadline:         DefaultDeadline,
	OnRunning:        OnRunningRun,
	MaxRequestBytes:  DefaultMaxRequestBytes,
	MaxResponseBytes: DefaultMaxResponseBytes,
	BackoffBase:      DefaultBackoffBase,
	BackoffMax:       DefaultBackoffMax,
}

// validate fills the defaults in and rejects impossible settings.
func (o *Options) validate() error {
	*o = o.fill(defaultOptions)
	var errs []error
	if o.Function == "" {
		errs = append(errs, errors.New("function name is empty"))
	}
	if o.Attempts < 1 {
		errs = append(errs, fmt.Errorf("attempts %d: want at least 1", o.Attempts))
	}
	if o.AttemptTimeout < 0 || o.Deadline < 0 || o.BackoffBase < 0 || o.BackoffMax < 0 {
		errs = append(errs, errors.New("durations must not be negative"))
	}
	if o.Deadline < o.AttemptTimeout {
		errs = append(errs, fmt.Errorf("deadline %v is shorter than the attempt timeout %v", o.Deadline, o.AttemptTimeout))
	}
	if o.BackoffMax < o.BackoffBase {
		errs = append(errs, fmt.Errorf("backoff max %v is shorter than backoff base %v", o.BackoffMax, o.BackoffBase))
	}
	if err := (new(OnRunning)).Set(string(o.OnRunning)); err != nil {
		errs = append(errs, err)
	}
	if o.MaxRequestBytes < 0 || o.MaxResponseBytes < 0 {
		errs = append(errs, errors.New("size limits must not be negative"))
	}
	return errors.Join(errs...)
}

// Config is the whole configuration of a Group of Middlewares (New: of one). The embedded
// Options are the defaults of the Options of each function.
type Config struct {
	Options

	// ShimURL is the base URL of the shim, such as "http://127.0.0.1:7654". The
	// middleware begins and commits there, and gives it to the function in X-Aft-Shim.
	// Required.
	ShimURL string
	// ShimNodes are the base URLs of more shim nodes on the same store (http-api.md,
	// "Several nodes"): attempts begin round-robin on the nodes that answer, a retry may
	// use another node, and each attempt's X-Aft-Shim names its own node.
	ShimNodes []string
	// Client talks to the shim; nil means client.New(ShimURL, client.WithNodes(ShimNodes...)).
	// Its credentials (client.Credentials) are the middleware's own: with RelayURL, the
	// functions never see them.
	Client *client.Client
	// RelayURL, when not empty, is the base URL at which the functions reach the Group's
	// relay (Group.Relay), which the caller serves there: X-Aft-Shim names it instead of the
	// shim's node, and the relay passes the function's calls of its running transaction on
	// to the node with Client's token and TLS, so that the function never holds them
	// (relay.go). Empty: X-Aft-Shim names the node, and the function calls it directly.
	RelayURL string
	// MaxZombies bounds the attempts that timed out and still run, to be committed should
	// they succeed (default DefaultMaxZombies). Past the bound a timed-out attempt is
	// cancelled and aborted instead. A negative value allows none.
	MaxZombies int
	// ShimTimeout bounds one commit or abort call to the shim, and the dead-letter write
	// (default DefaultShimTimeout).
	ShimTimeout time.Duration
	// Log receives warnings (dead-letter failures, panics of the function); nil discards.
	Log *slog.Logger
}

// validate fills the defaults in and rejects bad settings.
func (c *Config) validate() error {
	var errs []error
	if err := c.Options.validate(); err != nil {
		errs = append(errs, err)
	}
	if u, err := url.Parse(c.ShimURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("shim URL %q: want http(s)://host:port", c.ShimURL))
	}
	for _, n := range c.ShimNodes {
		if u, err := url.Parse(n); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("shim node URL %q: want http(s)://host:port", n))
		}
	}
	if c.RelayURL != "" {
		if u, err := url.Parse(c.RelayURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("relay URL %q: want http(s)://host:port", c.RelayURL))
		}
	}
	if c.Client == nil {
		c.Client = client.New(c.ShimURL, client.WithNodes(c.ShimNodes...))
	}
	switch {
	case c.MaxZombies == 0:
		c.MaxZombies = DefaultMaxZombies
	case c.MaxZombies < 0:
		c.MaxZombies = 0
	}
	if c.ShimTimeout == 0 {
		c.ShimTimeout = DefaultShimTimeout
	}
	if c.ShimTimeout < 0 {
		errs = append(errs, fmt.Errorf("shim timeout %v is negative", c.ShimTimeout))
	}
	if c.Log == nil {
		c.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("middleware config: %w", err)
	}
	return nil
}
