package middleware

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aft-shim/aft/api"
	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/middleware/dlq"
	"github.com/aft-shim/aft/shim/ra"
	"github.com/prometheus/client_golang/prometheus"
)

// Middleware runs every request to the function behind it as transactional attempts at
// the shim (see the package documentation). It is an http.Handler, safe for concurrent
// use. Its Group (embedded) holds what it shares with the Middlewares of other functions.
type Middleware struct {
	*Group
	opt  Options
	next http.Handler
}

// Group is what the Middlewares of several functions share: the Config (its Options are
// the defaults of every function), the shim client, the metrics (registered once), the
// bound on zombies, the requests running (for the duplicate policies, by function and
// key) and the attempts running in the background, which Wait waits for. The OpenFaaS
// plugin makes one Middleware per transactional function in one Group.
type Group struct {
	cfg     Config
	shim    *client.Client
	metrics *metrics
	flights flights
	zombies chan struct{} // one token per zombie running
	relay   *relay        // with Config.RelayURL: what X-Aft-Shim names (relay.go)
	wg      sync.WaitGroup
}

// New returns the middleware with cfg in front of next, the function (typically a Hop to
// it), in a Group of its own. Its metrics are registered in reg (nil: not registered);
// several Groups may share one registry. Wait waits for what still runs in the
// background.
func New(cfg Config, reg prometheus.Registerer, next http.Handler) (*Middleware, error) {
	g, err := NewGroup(cfg, reg)
	if err != nil {
		return nil, err
	}
	return g.Handler(Options{}, next)
}

// NewGroup returns a Group with cfg, its metrics registered in reg (nil: not registered).
// cfg is validated once here, its Options included: they must name a function, the one
// of a Handler whose Options name none.
func NewGroup(cfg Config, reg prometheus.Registerer) (*Group, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	g := &Group{cfg: cfg, shim: cfg.Client, metrics: newMetrics(reg), zombies: make(chan struct{}, cfg.MaxZombies)}
	if cfg.RelayURL != "" {
		g.relay = newRelay(cfg.Client, cfg.RelayURL, cfg.Log)
	}
	return g, nil
}

// Handler returns the middleware of one function in front of next, with o: each zero
// field of o takes the value of the Group's Options. Invalid Options are an error (the
// OpenFaaS plugin answers it 500, code bad_function_options).
func (g *Group) Handler(o Options, next http.Handler) (*Middleware, error) {
	if next == nil {
		return nil, errors.New("middleware: next handler is nil")
	}
	o = o.fill(g.cfg.Options)
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("middleware: options of function %q: %w", o.Function, err)
	}
	return &Middleware{Group: g, opt: o, next: next}, nil
}

// Wait waits until the attempts still running in the background (zombies, and cancelled
// attempts being aborted) of every Middleware of the Group are done, or ctx ends. Call it
// after the server in front has shut down.
func (g *Group) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		g.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("middleware wait: %w", ctx.Err())
	}
}

// ServeHTTP serves one request.
func (m *Middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	opt := m.opt
	if probe(r) {
		m.metrics.invocations.WithLabelValues(opt.Function, "probe").Inc()
		m.next.ServeHTTP(w, r)
		return
	}
	if _, ok := r.Header[api.HeaderTxnID]; ok {
		m.nested(w, r, opt)
		return
	}
	c := &call{m: m, opt: opt, r: r, deadline: start.Add(opt.Deadline),
		won: make(chan *answer, 1), zombieDone: make(chan struct{}, opt.Attempts)}
	ans, err := c.serve()
	m.metrics.invocations.WithLabelValues(opt.Function, c.outcome(ans, err)).Inc()
	switch {
	case errors.Is(err, errCallerGone):
		return // nobody to answer
	case err != nil:
		ans = errorAnswer(err, c.attempts)
	}
	ans.write(w, r)
	m.metrics.overhead.WithLabelValues(opt.Function).Observe(max(0, time.Since(start)-c.fnTime-c.slept).Seconds())
}

// probe reports whether r is a health probe of the platform: the kubelet's, and Knative's
// queue-proxy's on its behalf (User-Agent kube-probe/..., or a K-Kubelet-Probe header), or
// Knative's own (K-Network-Probe). A probe goes to the function as it is, in no
// transaction: it must not begin, commit or store a result, and the function answers for
// its own health. (A caller that poses as a probe gets no transaction, so its call can
// change nothing through aft.)
func probe(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("User-Agent"), "kube-probe/") ||
		r.Header.Get("K-Kubelet-Probe") != "" || r.Header.Get("K-Network-Probe") != ""
}

// nested serves a call that joins the transaction of its caller: no begin, no commit, no
// retry; the transaction must be running.
func (m *Middleware) nested(w http.ResponseWriter, r *http.Request, opt Options) {
	err := m.checkRunning(r)
	if err != nil {
		m.metrics.invocations.WithLabelValues(opt.Function, errOutcome(err)).Inc()
		errorAnswer(err, 0).write(w, r)
		return
	}
	m.metrics.invocations.WithLabelValues(opt.Function, "nested").Inc()
	id := r.Header.Get(api.HeaderTxnID)
	defer m.hold(id)()                          // the relay passes the callee's calls on while it runs
	r.Header.Set(api.HeaderShim, m.shimURL(id)) // the relay, or the node where it was found running
	m.next.ServeHTTP(w, r)
}

// checkRunning returns nil when the transaction r names in X-Aft-Txn-Id is running.
func (m *Middleware) checkRunning(r *http.Request) error {
	ids := r.Header.Values(api.HeaderTxnID)
	if len(ids) != 1 || ids[0] == "" {
		return fmt.Errorf("%w: want one non-empty %s header, got %d", errTxnNotFound, api.HeaderTxnID, len(ids))
	}
	ctx, cancel := context.WithTimeout(r.Context(), m.cfg.ShimTimeout)
	defer cancel()
	tx, err := m.shim.Locate(ctx, ids[0], r.Header.Get(api.HeaderShim))
	switch {
	case errors.Is(err, client.ErrTxnNotFound):
		return fmt.Errorf("%w: %s %q is unknown to the shim", errTxnNotFound, api.HeaderTxnID, ids[0])
	case err != nil:
		return shimError("status of the caller's transaction", err)
	case tx.Status != "running":
		return fmt.Errorf("%w: %s %q is %s", errTxnNotRunning, api.HeaderTxnID, ids[0], tx.Status)
	}
	return nil
}

// shimError classifies an error of a shim call: no answer or a 5xx is errShimUnavailable.
func shimError(op string, err error) error {
	var ce *client.Error
	if errors.As(err, &ce) && ce.Code == api.CodeUnauthorized {
		// The middleware's own token is missing or unknown: the shim is unavailable to
		// this caller, which may try again (a token being rotated is read within a second).
		return fmt.Errorf("%w: %s: the shim refused the middleware's token (--shim-token-file, AFT_SHIM_TOKEN): %v", errShimUnavailable, op, err)
	}
	if errors.As(err, &ce) && ce.Code == api.CodeNotCaughtUp {
		return fmt.Errorf("%w: %s: %v", errNotCaughtUp, op, err)
	}
	if errors.As(err, &ce) && ce.StatusCode < 500 {
		if ce.Code == api.CodeBadIdempotencyKey {
			return fmt.Errorf("%w: %s: %v", errBadIdemKey, op, err)
		}
		return fmt.Errorf("%s: %w", op, err)
	}
	return fmt.Errorf("%w: %s: %v", errShimUnavailable, op, err)
}

// after returns the Aft-After header of r, checked: one version, as a commit answered it.
func after(r *http.Request) (string, error) {
	vs := r.Header.Values(api.HeaderAfter)
	switch {
	case len(vs) == 0:
		return "", nil
	case len(vs) > 1:
		return "", fmt.Errorf("%w: %d %s headers, want one", errBadVersion, len(vs), api.HeaderAfter)
	}
	if _, err := ra.ParseVersion(vs[0]); err != nil {
		return "", fmt.Errorf("%w: %s: %v (send back the %s of an answer)", errBadVersion, api.HeaderAfter, err, api.HeaderCommitVersion)
	}
	return vs[0], nil
}

// call is one request served with attempts.
type call struct {
	m          *Middleware
	opt        Options
	r          *http.Request
	key        string
	after      string // Aft-After: the version of a commit every attempt must see
	body       []byte
	fp         Fingerprint
	deadline   time.Time
	won        chan *answer  // the answer of a zombie of this call that committed
	zombies    atomic.Int32  // zombies of this call still running
	zombieDone chan struct{} // a zombie of this call finished

	attempts      int           // attempts begun
	last          failure       // how the last attempt failed
	dead          bool          // recorded as dead
	fnTime, slept time.Duration // spent waiting for the function, and in backoff
}

// failure is a failed attempt that may be retried.
type failure struct {
	ans        *answer // the function's answer (408, 429, 5xx), or nil
	err        error   // else what happened (timeout, broken connection, aborted)
	reason     string  // for metrics: status, timeout, broken, aborted
	retryAfter time.Duration
}

func (f failure) String() string {
	if f.ans != nil {
		b := f.ans.body[:min(len(f.ans.body), 200)]
		excerpt := strings.Join(strings.Fields(strings.ToValidUTF8(string(b), "?")), " ")
		return fmt.Sprintf("function answered %d %s: %s", f.ans.status, http.StatusText(f.ans.status), excerpt)
	}
	if f.err != nil {
		return f.err.Error()
	}
	return "no attempt completed"
}

// outcome names how the call ended, for the invocations metric.
func (c *call) outcome(ans *answer, err error) string {
	switch {
	case err != nil:
		return errOutcome(err)
	case c.dead:
		return "dead"
	case ans.replayed:
		return "replayed"
	case ans.committed:
		return "committed"
	}
	return "passed"
}

// serve finds the identity, buffers the body, applies the duplicate policy and runs the
// attempts.
func (c *call) serve() (*answer, error) {
	var err error
	if c.key, _, err = IdempotencyKey(c.r); err != nil {
		return nil, err
	}
	if c.after, err = after(c.r); err != nil {
		return nil, err
	}
	if c.body, err = readBody(c.r, c.opt.MaxRequestBytes); err != nil {
		return nil, err
	}
	c.fp = fingerprint(c.opt.Function, c.r, c.body)
	fk := flightKey(c.opt.Function, c.key)
	for {
		f, running := c.m.flights.start(fk, c.fp, c.opt.OnRunning == OnRunningRun)
		if running != nil {
			if running.fp != c.fp {
				if f != nil {
					c.m.flights.finish(fk, f, nil, errKeyReused)
				}
				return nil, fmt.Errorf("%w: %v runs with it", errKeyReused, running.fp)
			}
			c.m.metrics.duplicates.WithLabelValues(c.opt.Function, string(c.opt.OnRunning)).Inc()
			switch c.opt.OnRunning {
			case OnRunningRefuse:
				return nil, fmt.Errorf("%w in this middleware", errInProgress)
			case OnRunningWait:
				if ans, err, ok := c.await(running); ok {
					return ans, err
				}
				continue // it ended without an answer (its caller left): run
			}
		}
		ans, err := c.run()
		c.m.flights.finish(fk, f, ans, err)
		return ans, err
	}
}

// await waits for the outcome of the running request f and answers it; ok is false when
// f ended without an answer.
func (c *call) await(f *flight) (ans *answer, err error, ok bool) {
	t := time.NewTimer(time.Until(c.deadline))
	defer t.Stop()
	select {
	case <-f.done:
	case <-t.C:
		return nil, fmt.Errorf("%w: still running after %v", errInProgress, c.opt.Deadline), true
	case <-c.r.Context().Done():
		return nil, errCallerGone, true
	}
	switch {
	case errors.Is(f.err, errCallerGone):
		return nil, nil, false
	case f.ans != nil && f.ans.committed:
		a := *f.ans
		a.replayed = true // nothing ran for this request
		c.m.metrics.replayed.WithLabelValues(c.opt.Function).Inc()
		return &a, nil, true
	}
	return f.ans, f.err, true
}

// readBody reads r's body, at most limit bytes.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", errRequestTooLarge, r.ContentLength, limit)
	}
	if r.Body == nil {
		return []byte{}, nil
	}
	if n := r.ContentLength; n >= 0 {
		// A declared length (net/http ends the body there): one buffer of that size, not
		// io.ReadAll's growing from 512 bytes.
		b := make([]byte, n)
		if _, err := io.ReadFull(r.Body, b); err != nil {
			return nil, fmt.Errorf("%w: %v", errBadBody, err)
		}
		return b, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBadBody, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: over %d bytes", errRequestTooLarge, limit)
	}
	return b, nil
}

// run runs attempts until one commits or answers a final error, or none is left.
func (c *call) run() (*answer, error) {
	fn := c.opt.Function
	ctx, cancel := context.WithDeadline(c.r.Context(), c.deadline)
	defer cancel()
	for n := 1; ; n++ {
		bctx, bcancel := context.WithTimeout(ctx, c.m.cfg.ShimTimeout)
		tx, err := c.m.shim.BeginWith(bctx, client.BeginOptions{IdemKey: c.key, After: c.after})
		bcancel()
		switch {
		case err != nil && c.r.Context().Err() != nil:
			return nil, errCallerGone
		case err != nil && ctx.Err() != nil && n > 1:
			return c.die() // out of time before another attempt
		case err != nil:
			return nil, shimError("begin", err)
		case tx.Committed():
			ans, err := c.stored(tx.Result, n == 1)
			if ans != nil {
				ans.version = tx.Version
			}
			return ans, err
		case !time.Now().Before(c.deadline):
			c.m.abort(fn, tx.ID, "deadline")
			return c.die()
		}
		c.attempts = n
		ans, f, err := c.attempt(n, tx.ID)
		if ans != nil || err != nil {
			return ans, err
		}
		c.last = f
		if n == c.opt.Attempts {
			return c.die()
		}
		wait := c.backoff(n, f.retryAfter)
		if time.Now().Add(wait).After(c.deadline) {
			return c.die()
		}
		c.m.metrics.retries.WithLabelValues(fn, f.reason).Inc()
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case ans := <-c.won:
			t.Stop()
			return ans, nil
		case <-c.r.Context().Done():
			t.Stop()
			return nil, errCallerGone
		}
		c.slept += wait
	}
}

// backoff returns the wait before retry n (1, 2, ...): full jitter, but at least what
// Retry-After asked for.
func (c *call) backoff(n int, retryAfter time.Duration) time.Duration {
	ceil := c.opt.BackoffMax
	if n-1 < 30 && c.opt.BackoffBase<<(n-1) < ceil && c.opt.BackoffBase<<(n-1) > 0 {
		ceil = c.opt.BackoffBase << (n - 1)
	}
	var d time.Duration
	if ceil > 0 {
		d = rand.N(ceil)
	}
	return max(d, retryAfter)
}

// stored answers the stored result of a committed attempt of the key; replayed says that
// nothing ran for this request.
func (c *call) stored(result []byte, replayed bool) (*answer, error) {
	var res Result
	if err := res.UnmarshalBinary(result); err != nil {
		// Committed by another client of the shim, with a result of its own: answer it as
		// it is; there is no fingerprint to compare.
		c.m.cfg.Log.Warn("stored result not written by the middleware", "function", c.opt.Function, "err", err)
		res = Result{Status: http.StatusOK, Header: http.Header{"Content-Type": {"application/octet-stream"}}, Body: result}
	} else if !res.Request.matches(c.fp) {
		return nil, fmt.Errorf("%w: it answered %v; this is %v", errKeyReused, res.Request, c.fp)
	}
	ans := resultAnswer(res)
	ans.replayed = replayed
	if replayed {
		c.m.metrics.replayed.WithLabelValues(c.opt.Function).Inc()
	}
	return ans, nil
}

// die answers the last failure and records the request as dead, unless a zombie of it
// still runs and commits before the deadline: then its answer is the answer.
func (c *call) die() (*answer, error) {
	if ans, err := c.awaitZombies(); ans != nil || err != nil {
		return ans, err
	}
	c.dead = true
	c.m.metrics.dead.WithLabelValues(c.opt.Function).Inc()
	e := dlq.Entry{
		Key: c.key, Function: c.opt.Function, LastError: c.last.String(), Attempts: c.attempts, Time: time.Now().UTC(),
		Request: dlq.Request{Method: c.r.Method, URL: c.r.URL.RequestURI(), Header: dlq.StoredHeader(c.r.Header), Body: c.body},
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.r.Context()), c.m.cfg.ShimTimeout)
	defer cancel()
	if err := dlq.Put(ctx, c.m.shim, e); err != nil {
		c.m.metrics.deadFailed.WithLabelValues(c.opt.Function).Inc()
		c.m.cfg.Log.Error("record dead request", "function", c.opt.Function, "key", c.key, "err", err)
	}
	if c.last.ans != nil {
		return c.last.ans, nil
	}
	if c.last.err != nil {
		return nil, c.last.err
	}
	return nil, fmt.Errorf("%w: no attempt completed within %v", errAttemptTimeout, c.opt.Deadline)
}

// awaitZombies waits, until the deadline, for the zombies of c still running, and returns
// the answer of one that commits (nil when none does).
func (c *call) awaitZombies() (*answer, error) {
	t := time.NewTimer(time.Until(c.deadline))
	defer t.Stop()
	for c.zombies.Load() > 0 {
		select {
		case ans := <-c.won:
			return ans, nil
		case <-c.zombieDone:
		case <-t.C:
			return nil, nil
		case <-c.r.Context().Done():
			return nil, errCallerGone
		}
	}
	select {
	case ans := <-c.won:
		return ans, nil
	default:
		return nil, nil
	}
}

// retryAfter parses a Retry-After header in seconds (an HTTP date is ignored).
func retryAfter(h http.Header) time.Duration {
	s, err := strconv.Atoi(h.Get("Retry-After"))
	if err != nil || s < 0 {
		return 0
	}
	return time.Duration(min(s, 3600)) * time.Second
}
