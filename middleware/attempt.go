package middleware

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/aft-shim/aft/api"
	"github.com/aft-shim/aft/client"
)

// attempt is one run of the function in its own shim transaction. The goroutine that runs
// the function also finishes the attempt when the caller stopped waiting for it: a zombie
// (timed out, allowed to go on) commits if it succeeds; an abandoned one is aborted.
type attempt struct {
	c      *call
	n      int
	id     string // transaction id
	rec    *recorder
	start  time.Time
	cancel context.CancelFunc
	done   chan struct{} // closed when the function returned and the caller still waits
	broken error         // the function's handler panicked (a broken connection, for a proxy)

	mu       sync.Mutex
	finished bool   // the function returned
	state    int    // waited, zombie or abandoned
	reason   string // why it was abandoned, for the aborts metric
}

// States of an attempt.
const (
	waited    = iota // the caller waits for it
	zombie           // timed out, runs on, commits if it succeeds
	abandoned        // cancelled, aborted when the function returns
)

// launch runs attempt n, transaction id, of c in a new goroutine. The request it gets has
// the body replayed, X-Aft-Txn-Id, X-Aft-Shim and X-Aft-Attempt, and a context that is
// not cancelled with the caller's but ends at c's deadline.
func (c *call) launch(n int, id string) *attempt {
	ctx, cancel := context.WithDeadline(context.WithoutCancel(c.r.Context()), c.deadline)
	req := c.r.Clone(ctx)
	req.Body = io.NopCloser(bytes.NewReader(c.body))
	req.GetBody = nil // the body is not to be sent twice: another attempt is a new request
	req.ContentLength = int64(len(c.body))
	req.TransferEncoding = nil
	req.Header.Del("Content-Length")
	req.Header.Set(api.HeaderTxnID, id)
	req.Header.Set(api.HeaderShim, c.m.shimURL(id))
	req.Header.Set(api.HeaderAttempt, strconv.Itoa(n))
	a := &attempt{c: c, n: n, id: id, rec: &recorder{header: http.Header{}, limit: c.opt.MaxResponseBytes},
		start: time.Now(), cancel: cancel, done: make(chan struct{})}
	c.m.wg.Add(1)
	go a.run(req, c.m.hold(id))
	return a
}

// run runs the function; release ends the relay's hold of the transaction once the
// function returned, before the attempt is committed or aborted.
func (a *attempt) run(req *http.Request, release func()) {
	defer a.c.m.wg.Done()
	defer func() {
		release()
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				a.broken = errors.New("the connection to the function broke")
			} else {
				a.broken = fmt.Errorf("the function's handler panicked: %v", p)
				a.c.m.cfg.Log.Error("function handler panicked", "function", a.c.opt.Function, "panic", p, "stack", string(debug.Stack()))
			}
		}
		a.mu.Lock()
		a.finished = true
		st := a.state
		if st == waited {
			close(a.done)
		}
		a.mu.Unlock()
		a.cancel()
		switch st {
		case zombie:
			a.finishZombie()
		case abandoned:
			a.c.m.abort(a.c.opt.Function, a.id, a.reason)
		}
	}()
	a.c.m.next.ServeHTTP(a.rec, req)
}

// giveUp stops the caller's wait for a: it becomes a zombie when asZombie and a zombie
// slot is free, else it is cancelled and will be aborted. It returns false when the
// function returned already: then the caller must finish a itself.
func (a *attempt) giveUp(asZombie bool, reason string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.finished {
		return false
	}
	if asZombie {
		select {
		case a.c.m.zombies <- struct{}{}:
			a.state = zombie
			a.c.zombies.Add(1)
			a.c.m.metrics.zombieGauge.Inc()
			return true
		default:
		}
	}
	a.state, a.reason = abandoned, reason
	a.cancel()
	return true
}

// attempt runs attempt n in transaction id and waits for it. It returns the answer to
// give (committed, or final), or the failure to retry, or an error to answer.
func (c *call) attempt(n int, id string) (*answer, failure, error) {
	fn := c.opt.Function
	c.m.metrics.attempts.WithLabelValues(fn).Inc()
	a := c.launch(n, id)
	wait := max(0, min(c.opt.AttemptTimeout, time.Until(c.deadline)))
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-a.done:
	case <-t.C:
		if a.giveUp(true, "timeout") {
			c.fnTime += time.Since(a.start)
			return nil, failure{err: fmt.Errorf("%w: attempt %d gave no answer in %v", errAttemptTimeout, n, wait), reason: "timeout"}, nil
		}
		<-a.done // it returned just now
	case ans := <-c.won:
		// A zombie of this call committed: this attempt can only be fenced.
		if !a.giveUp(false, "winner") {
			<-a.done
			c.m.abort(fn, id, "winner")
		}
		return ans, failure{}, nil
	case <-c.r.Context().Done():
		if !a.giveUp(false, "gone") {
			<-a.done
			c.m.abort(fn, id, "gone")
		}
		return nil, failure{}, errCallerGone
	}
	c.fnTime += time.Since(a.start)
	return c.finish(a)
}

// finish handles the outcome of attempt a, which the caller waited for.
func (c *call) finish(a *attempt) (*answer, failure, error) {
	fn, rec := c.opt.Function, a.rec
	status := rec.code()
	switch {
	case rec.overflow:
		c.m.abort(fn, a.id, "response_too_large")
		return nil, failure{}, fmt.Errorf("%w: attempt %d answered over %d bytes", errResponseLarge, a.n, rec.limit)
	case a.broken != nil:
		c.m.abort(fn, a.id, "broken")
		return nil, failure{err: fmt.Errorf("%w: attempt %d: %v", errFunctionFailed, a.n, a.broken), reason: "broken"}, nil
	case status >= 200 && status < 400:
		return c.commit(a)
	}
	ans := &answer{status: status, header: storedHeader(rec.snapshot()), body: rec.body.Bytes(), attempts: a.n}
	c.m.abort(fn, a.id, "status")
	if retryable(status) {
		return nil, failure{ans: ans, reason: "status", retryAfter: retryAfter(ans.header)}, nil
	}
	return ans, failure{}, nil
}

// retryable reports whether a function's status asks for another attempt.
func retryable(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}

// commit commits attempt a with its response as the stored result.
func (c *call) commit(a *attempt) (*answer, failure, error) {
	fn := c.opt.Function
	res := newResult(a.rec.code(), a.rec.snapshot(), a.rec.body.Bytes(), a.n, c.fp)
	version, err := c.m.commit(a.id, res)
	switch {
	case err == nil:
		c.m.metrics.commits.WithLabelValues(fn, "committed").Inc()
		return &answer{status: res.Status, header: res.Header, body: res.Body, attempts: a.n, committed: true, version: version}, failure{}, nil
	case errors.Is(err, client.ErrFenced):
		// Another attempt of the key committed first: answer its result, which the shim's
		// 409 carries (but when this commit was fenced before: then a begin finds it).
		c.m.metrics.commits.WithLabelValues(fn, "fenced").Inc()
		var ce *client.Error
		if errors.As(err, &ce) && ce.Winner != "" && ce.Result != nil && ce.Version != "" {
			ans, err := c.stored(ce.Result, false)
			if ans != nil {
				ans.version = ce.Version
			}
			return ans, failure{}, err
		}
		return c.winner(a.n)
	case errors.Is(err, client.ErrAborted), errors.Is(err, client.ErrTxnNotFound):
		// The shim ended the transaction (idle expiry, restart): a definite no, retry.
		return nil, failure{err: fmt.Errorf("%w: attempt %d: %v", errFunctionFailed, a.n, err), reason: "aborted"}, nil
	case errors.Is(err, errResultEncoding):
		c.m.abort(fn, a.id, "response_too_large")
		return nil, failure{}, fmt.Errorf("%w: %v", errResponseLarge, err)
	}
	return nil, failure{}, fmt.Errorf("%w: commit of attempt %d, whose outcome is unknown: %v", errShimUnavailable, a.n, err)
}

// winner answers the result of the attempt that committed first, after attempt n was
// fenced without the winner's result in the answer.
func (c *call) winner(n int) (*answer, failure, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.r.Context()), c.m.cfg.ShimTimeout)
	defer cancel()
	tx, err := c.m.shim.Begin(ctx, c.key)
	if err != nil {
		return nil, failure{}, shimError("begin to find the winner", err)
	}
	if tx.Committed() {
		ans, err := c.stored(tx.Result, false)
		if ans != nil {
			ans.version = tx.Version
		}
		return ans, failure{}, err
	}
	// Fenced, yet nothing committed: another client fenced it with Aft-Fence-Older.
	c.m.abort(c.opt.Function, tx.ID, "winner")
	return nil, failure{err: fmt.Errorf("%w: attempt %d was fenced, but no attempt committed", errFunctionFailed, n), reason: "aborted"}, nil
}

// finishZombie commits a zombie that succeeded, and aborts one that did not.
func (a *attempt) finishZombie() {
	c, m, fn := a.c, a.c.m, a.c.opt.Function
	defer func() {
		m.metrics.zombieGauge.Dec()
		<-m.zombies
		c.zombies.Add(-1)
		select {
		case c.zombieDone <- struct{}{}:
		default:
		}
	}()
	status := a.rec.code()
	if a.rec.overflow || a.broken != nil || status < 200 || status >= 400 {
		m.abort(fn, a.id, "timeout")
		m.metrics.zombies.WithLabelValues(fn, "aborted").Inc()
		return
	}
	res := newResult(status, a.rec.snapshot(), a.rec.body.Bytes(), a.n, c.fp)
	version, err := m.commit(a.id, res)
	switch {
	case err == nil:
		m.metrics.zombies.WithLabelValues(fn, "committed").Inc()
		select {
		case c.won <- &answer{status: res.Status, header: res.Header, body: res.Body, attempts: a.n, committed: true, version: version}:
		default:
		}
	case errors.Is(err, client.ErrFenced):
		m.metrics.zombies.WithLabelValues(fn, "fenced").Inc()
	default:
		m.metrics.zombies.WithLabelValues(fn, "failed").Inc()
		m.cfg.Log.Warn("commit of a timed-out attempt", "function", fn, "txn", a.id, "err", err)
		m.abort(fn, a.id, "timeout")
	}
}

// errResultEncoding: the result does not fit the shim's limit even without its body.
var errResultEncoding = errors.New("result does not fit")

// commit commits transaction id with res as its stored result, trying again while the
// shim does not answer (commit is idempotent), within ShimTimeout.
func (m *Middleware) commit(id string, res Result) (version string, err error) {
	b, err := encodeResult(res, MaxResultBytes)
	if err != nil {
		return "", fmt.Errorf("%w: %v", errResultEncoding, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.ShimTimeout)
	defer cancel()
	for try := 0; ; try++ {
		tx, err := m.shim.Commit(ctx, id, b)
		var ce *client.Error
		if err == nil || errors.As(err, &ce) && ce.StatusCode < 500 || try == 2 || ctx.Err() != nil {
			return tx.Version, err
		}
		select {
		case <-time.After(time.Duration(50<<try) * time.Millisecond):
		case <-ctx.Done():
			return "", err
		}
	}
}

// abort aborts transaction id, best effort: the shim expires what it misses.
func (m *Middleware) abort(function, id, reason string) {
	m.metrics.aborts.WithLabelValues(function, reason).Inc()
	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.ShimTimeout)
	defer cancel()
	if _, err := m.shim.Abort(ctx, id); err != nil && !errors.Is(err, client.ErrFenced) {
		m.cfg.Log.Debug("abort", "function", function, "txn", id, "err", err)
	}
}

// recorder buffers a function's response, up to limit bytes of body.
type recorder struct {
	header   http.Header
	status   int
	snap     http.Header // the header when the status was written
	body     bytes.Buffer
	limit    int64
	overflow bool
}

var errOverflow = errors.New("response over the middleware's limit")

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.status != 0 || code < 200 && code >= 100 {
		return // written already, or informational
	}
	r.status, r.snap = code, r.header.Clone()
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	if r.overflow || int64(r.body.Len()+len(p)) > r.limit {
		r.overflow = true
		return 0, errOverflow
	}
	return r.body.Write(p)
}

// Flush does nothing: the response is answered whole, after the commit.
func (r *recorder) Flush() {}

// code returns the status written (200 when none was).
func (r *recorder) code() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}

// snapshot returns the header as it was when the status was written.
func (r *recorder) snapshot() http.Header {
	if r.snap == nil {
		return r.header
	}
	return r.snap
}
