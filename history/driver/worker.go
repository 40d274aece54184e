package driver

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aft-shim/aft/api"
	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/history"
)

// Shares of the smaller choices inside a writer's plan.
const (
	readBeforeWrite = 0.25 // a written key is read first
	overwrite       = 0.1  // a written key is written again (its first value must never be seen)
	repeatInReader  = 0.3  // with RepeatFraction, the share of a reader's reads followed by a re-read
)

// step is one planned operation.
type step struct {
	kind history.OpKind
	key  string
}

// plan is what a writer does; every attempt of a keyed writer runs the same plan.
type plan struct {
	steps []step
	abort bool // abort on purpose instead of committing
}

// worker is one client: it runs one logical transaction at a time.
type worker struct {
	r   *run
	id  int
	rng *mrand.Rand
	seq int // keyed writers begun, for unique idempotency keys
}

// next runs one logical transaction: a reader or a writer.
func (w *worker) next(ctx context.Context) error {
	w.r.st.logical.Add(1)
	if w.rng.Float64() < w.r.o.ReadFraction {
		return w.reader(ctx)
	}
	return w.writer(ctx)
}

// pause is how long the worker waits after an error: Backoff to twice Backoff.
func (w *worker) pause() time.Duration {
	return w.r.o.Backoff + time.Duration(w.rng.Int64N(int64(w.r.o.Backoff)+1))
}

// backoff pauses after an error inside a logical transaction, for Backoff to twice
// Backoff, or less when ctx ends.
func (w *worker) backoff(ctx context.Context) {
	sleep(ctx, w.pause())
}

// pickKeys returns the keys of one random group, or of two with TwoGroupFraction.
func (w *worker) pickKeys() []string {
	gs := w.r.groups
	g := w.rng.IntN(len(gs))
	keys := slices.Clone(gs[g])
	if len(gs) > 1 && w.rng.Float64() < w.r.o.TwoGroupFraction {
		g2 := (g + 1 + w.rng.IntN(len(gs)-1)) % len(gs)
		keys = append(keys, gs[g2]...)
	}
	return keys
}

func (w *worker) shuffle(s []string) {
	w.rng.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
}

// readerPlan reads one or two whole groups in a random order, re-reading some keys.
func (w *worker) readerPlan() []step {
	keys := w.pickKeys()
	w.shuffle(keys)
	repeat := w.rng.Float64() < w.r.o.RepeatFraction
	var steps []step
	for i, k := range keys {
		steps = append(steps, step{history.Read, k})
		if repeat && w.rng.Float64() < repeatInReader {
			steps = append(steps, step{history.Read, keys[w.rng.IntN(i+1)]})
		}
	}
	return steps
}

// writerPlan writes a whole group (or two), or a random part of it.
func (w *worker) writerPlan() plan {
	o := &w.r.o
	all := w.pickKeys()
	var write, rest []string
	if w.rng.IntN(2) == 0 {
		write = all
	} else {
		for _, k := range all {
			if w.rng.IntN(2) == 0 {
				write = append(write, k)
			} else {
				rest = append(rest, k)
			}
		}
		if len(write) == 0 {
			write, rest = rest[:1], rest[1:]
		}
	}
	if len(rest) == 0 {
		// Keys not written: those of another group.
		rest = slices.Clone(w.r.groups[w.rng.IntN(len(w.r.groups))])
		rest = slices.DeleteFunc(rest, func(k string) bool { return slices.Contains(write, k) })
	}
	w.shuffle(write)
	var p plan
	for _, k := range write {
		if w.rng.Float64() < readBeforeWrite {
			p.steps = append(p.steps, step{history.Read, k})
		}
		p.steps = append(p.steps, w.writeStep(k))
		if w.rng.Float64() < overwrite {
			p.steps = append(p.steps, w.writeStep(k))
		}
	}
	if w.rng.Float64() < o.ReadOwnWrites {
		p.steps = append(p.steps, step{history.Read, write[w.rng.IntN(len(write))]})
		if len(rest) > 0 {
			p.steps = append(p.steps, step{history.Read, rest[w.rng.IntN(len(rest))]})
		}
	}
	if w.rng.Float64() < o.RepeatFraction {
		k := write[w.rng.IntN(len(write))]
		if len(rest) > 0 {
			k = rest[w.rng.IntN(len(rest))]
		}
		p.steps = append(p.steps, step{history.Read, k}, step{history.Read, k})
	}
	p.abort = w.rng.Float64() < o.AbortFraction
	return p
}

func (w *worker) writeStep(k string) step {
	if w.rng.Float64() < w.r.o.DeleteFraction {
		return step{history.Delete, k}
	}
	return step{history.Write, k}
}

// newAttempt returns an attempt with a random source of its own, so that attempts may run
// in goroutines of their own.
func (w *worker) newAttempt() *attempt {
	a := &attempt{r: w.r, rng: mrand.New(mrand.NewPCG(w.rng.Uint64(), w.rng.Uint64()))}
	a.batched = w.rng.Float64() < w.r.o.BatchFraction
	return a
}

func (w *worker) reader(ctx context.Context) error {
	steps := w.readerPlan()
	a := w.newAttempt()
	if err := a.begin(ctx, "", false, steps); err != nil {
		return err
	}
	err := a.run(ctx, steps[a.carried:], false)
	w.r.record(a.t, false)
	return err
}

func (w *worker) writer(ctx context.Context) error {
	p := w.writerPlan()
	if w.rng.Float64() < w.r.o.IdemFraction {
		return w.keyed(ctx, p)
	}
	a := w.newAttempt()
	if err := a.begin(ctx, "", false, p.steps); err != nil {
		return err
	}
	err := a.run(ctx, p.steps[a.carried:], p.abort)
	w.r.record(a.t, true)
	return err
}

// keyed runs a writer with an idempotency key: one attempt (retried after errors), or two
// or three attempts at once, overlapping, or one after another.
func (w *worker) keyed(ctx context.Context, p plan) error {
	w.seq++
	l := &logical{key: fmt.Sprintf("%s%d-%d", w.r.o.IdemPrefix, w.id, w.seq)}
	defer l.resolve(w.r)
	if w.rng.Float64() >= w.r.o.MultiFraction {
		return w.retrying(ctx, l, p)
	}
	switch w.rng.IntN(3) {
	case 0:
		return w.concurrent(ctx, l, p, 2+w.rng.IntN(2))
	case 1:
		return w.overlap(ctx, l, p)
	default:
		return w.sequential(ctx, l, p)
	}
}

// keyedAttempt begins an attempt of l and, unless begin found the key committed, runs it.
func (w *worker) keyedAttempt(ctx context.Context, l *logical, a *attempt, p plan, fenceOlder bool) error {
	l.add(a)
	if err := a.begin(ctx, l.key, fenceOlder, p.steps); err != nil || a.dedup != nil {
		return err
	}
	return a.run(ctx, p.steps[a.carried:], p.abort)
}

// retrying runs attempts one after another while they end in an error (including a commit
// without an answer), up to MaxRetries more: a retried logical request.
func (w *worker) retrying(ctx context.Context, l *logical, p plan) error {
	for i := 0; ; i++ {
		err := w.keyedAttempt(ctx, l, w.newAttempt(), p, false)
		if err == nil || i >= w.r.o.MaxRetries || ctx.Err() != nil {
			return err
		}
		w.backoff(ctx)
		p.abort = false
	}
}

// sequential runs an attempt, then another: the second begin must find the first one's
// commit, if it had one.
func (w *worker) sequential(ctx context.Context, l *logical, p plan) error {
	err1 := w.keyedAttempt(ctx, l, w.newAttempt(), p, false)
	p.abort = false
	err2 := w.keyedAttempt(ctx, l, w.newAttempt(), p, false)
	return errors.Join(err1, err2)
}

// concurrent runs n attempts at once: at most one may commit, the others are fenced.
func (w *worker) concurrent(ctx context.Context, l *logical, p plan, n int) error {
	p.abort = false
	errs := make([]error, n)
	attempts := make([]*attempt, n)
	for i := range attempts {
		attempts[i] = w.newAttempt()
	}
	var wg sync.WaitGroup
	for i, a := range attempts {
		wg.Go(func() { errs[i] = w.keyedAttempt(ctx, l, a, p, false) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// overlap begins a first attempt and runs half of it, then runs a whole second attempt
// (which fences the first at once, half of the time), then finishes the first: if the
// second committed, the first must be fenced.
func (w *worker) overlap(ctx context.Context, l *logical, p plan) error {
	p.abort = false
	a1 := w.newAttempt()
	l.add(a1)
	if err := a1.begin(ctx, l.key, false, nil); err != nil || a1.dedup != nil {
		return err
	}
	half := len(p.steps) / 2
	if err := a1.do(ctx, p.steps[:half]); err != nil {
		a1.abandon(ctx)
		return a1.unexpected(err)
	}
	a2 := w.newAttempt()
	fenceOlder := w.rng.IntN(2) == 0
	err2 := w.keyedAttempt(ctx, l, a2, p, fenceOlder)
	var err1 error
	if err := a1.do(ctx, p.steps[half:]); err != nil {
		a1.abandon(ctx)
		err1 = a1.unexpected(err)
	} else {
		err1 = a1.end(ctx, false)
	}
	if fenceOlder && a2.t.ID != "" && w.r.c.NodeOf(a1.t.ID) == w.r.c.NodeOf(a2.t.ID) {
		// a2 fenced a1 when it began: no later call of a1 may succeed. (A begin fences the
		// attempts of its node only: across nodes, the first commit still wins.)
		if n := len(a1.t.Ops) - half; n > 0 || a1.t.Outcome == history.Committed {
			w.r.st.badWinner(fmt.Sprintf("key %s: attempt %s went on (%d more ops, %s) after attempt %s began with %s",
				l.key, a1.t.ID, max(n, 0), a1.t.Outcome, a2.t.ID, api.HeaderFenceOlder))
		}
	}
	return errors.Join(err1, err2)
}

// logical is one keyed logical request: its attempts, recorded together once all ended.
type logical struct {
	key      string
	mu       sync.Mutex
	attempts []*attempt
}

func (l *logical) add(a *attempt) {
	l.mu.Lock()
	l.attempts = append(l.attempts, a)
	l.mu.Unlock()
}

// resolve checks what the shim said about the key's winner against what the attempts saw,
// learns the outcome of attempts whose commit got no answer from later begins, and records
// the attempts.
func (l *logical) resolve(r *run) {
	byID := map[string]*attempt{}
	for _, a := range l.attempts {
		if a.t.ID != "" {
			byID[a.t.ID] = a
		}
	}
	bad := func(format string, args ...any) {
		r.st.badWinner("key " + l.key + ": " + fmt.Sprintf(format, args...))
	}
	// Commits answered 200, before any outcome is learnt below.
	var committed []*attempt
	for _, a := range l.attempts {
		if a.t.Outcome == history.Committed && a.t.ID != "" {
			committed = append(committed, a)
		}
	}
	for _, a := range l.attempts {
		if a.dedup == nil {
			continue
		}
		win := a.dedup
		if string(win.Result) != resultOf(win.ID) {
			bad("begin named winner %s with result %q, want %q", win.ID, win.Result, resultOf(win.ID))
		}
		wa := byID[win.ID]
		switch {
		case wa == nil:
			bad("begin named winner %s, which no attempt of the key began", win.ID)
		case wa.t.Outcome == history.Failed:
			bad("begin named winner %s, whose commit failed (fenced=%v)", win.ID, wa.fenced)
		case wa.t.Outcome == history.Unknown:
			wa.t.Outcome, wa.t.Version = history.Committed, win.Version
		case win.Version != "" && wa.t.Version != "" && win.Version != wa.t.Version:
			bad("begin named winner %s at version %s, its commit answered %s", win.ID, win.Version, wa.t.Version)
		}
	}
	for _, a := range l.attempts {
		if a.winner == "" {
			continue
		}
		if wa := byID[a.winner]; wa == nil || wa.t.Outcome == history.Failed {
			bad("commit of %s fenced by winner %s, which did not commit", a.t.ID, a.winner)
		}
	}
	// A begin sent after a commit of the key was answered must find it.
	for _, c := range committed {
		for _, b := range l.attempts {
			if b.t.ID != "" && b.beginStart.After(c.commitEnd) {
				bad("attempt %s began running after attempt %s had committed", b.t.ID, c.t.ID)
			}
		}
	}
	for _, a := range l.attempts {
		r.record(a.t, true)
	}
}

// resultOf is the result a keyed attempt commits with.
func resultOf(id string) string { return "result:" + id }

// attempt is one transaction of the workload being run and recorded.
type attempt struct {
	r   *run
	rng *mrand.Rand
	t   history.Txn
	n   int // values written

	beginStart time.Time   // when begin was sent
	commitEnd  time.Time   // when a commit answered 200
	dedup      *client.Txn // the winner, when begin found the key committed
	batched    bool        // operations go in batches
	carried    int         // steps the begin carried and ran
	token      string      // names the values written before the id is known
	fenced     bool        // a call answered 409 fenced
	winner     string      // the winner a fenced commit named
}

// opCtx bounds one request.
func (a *attempt) opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, a.r.o.OpTimeout)
}

// unexpected counts err unless it is a fencing, and returns it when it is unexpected.
func (a *attempt) unexpected(err error) error {
	if errors.Is(err, client.ErrFenced) {
		if !a.fenced {
			a.fenced = true
			a.r.st.fenced.Add(1)
		}
		return nil
	}
	a.r.st.failure(err)
	return err
}

// begin starts the attempt. When the key is committed already, it sets a.dedup and starts
// nothing. A batched attempt carries steps in the begin half of the time (a.carried tells
// how many ran); an error in one of them ends the attempt, as it would in do.
func (a *attempt) begin(ctx context.Context, idemKey string, fenceOlder bool, steps []step) error {
	a.t.IdemKey = idemKey
	a.beginStart = time.Now()
	o := client.BeginOptions{IdemKey: idemKey, FenceOlder: fenceOlder}
	var ops []client.Op
	if a.batched && len(steps) > 0 && a.rng.IntN(2) == 0 {
		ops = a.ops(steps)
	}
	octx, cancel := a.opCtx(ctx)
	var ct client.Txn
	var res []client.OpResult
	var err error
	if ops != nil {
		ct, res, err = a.r.c.BeginBatch(octx, o, ops...)
	} else {
		ct, err = a.r.c.BeginWith(octx, o)
	}
	cancel()
	switch {
	case err != nil:
		a.r.st.failure(err)
		return err
	case ct.Status == "committed" && idemKey != "":
		a.dedup = &ct
		a.r.st.dedup.Add(1)
		return nil
	case ct.Status != "running" || ct.ID == "":
		err := fmt.Errorf("begin: answer %q with status %q, want a running transaction", ct.ID, ct.Status)
		a.r.st.failure(err)
		return err
	}
	a.t.ID = ct.ID
	if ops == nil {
		return nil
	}
	a.carried = len(steps)
	if err := a.record(steps, ops, res, a.beginStart, time.Now()); err != nil {
		a.abandon(ctx)
		return a.unexpected(err)
	}
	return nil
}

// run runs steps and ends the attempt: it commits, or aborts when abort is set. It returns
// the unexpected error that ended it, if any.
func (a *attempt) run(ctx context.Context, steps []step, abort bool) error {
	if err := a.do(ctx, steps); err != nil {
		a.abandon(ctx)
		return a.unexpected(err)
	}
	return a.end(ctx, abort)
}

// do runs steps, recording every answered one, and stops at the first error. A batched
// attempt sends them in one batch.
func (a *attempt) do(ctx context.Context, steps []step) error {
	if a.batched && len(steps) > 0 {
		return a.batch(ctx, steps)
	}
	for i, s := range steps {
		if i > 0 && a.r.o.ThinkTime > 0 {
			sleep(ctx, time.Duration(a.rng.Int64N(int64(a.r.o.ThinkTime))))
		}
		if err := a.op(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

func (a *attempt) op(ctx context.Context, s step) error {
	octx, cancel := a.opCtx(ctx)
	defer cancel()
	op := history.Op{Kind: s.kind, Key: s.key, Start: time.Now()}
	var err error
	switch s.kind {
	case history.Read:
		var v client.Value
		v, err = a.r.c.Get(octx, a.t.ID, s.key)
		op.End = time.Now()
		var ce *client.Error
		if err == nil {
			op.Found, op.Value, op.Version = true, v.Bytes, v.Version
		} else if errors.As(err, &ce) && errors.Is(err, client.ErrKeyNotFound) {
			op.Version, err = ce.Version, nil
		}
	case history.Write:
		op.Value = a.value(s.key)
		err = a.r.c.Put(octx, a.t.ID, s.key, op.Value)
		op.End = time.Now()
	case history.Delete:
		err = a.r.c.Delete(octx, a.t.ID, s.key)
		op.End = time.Now()
	}
	if err != nil {
		return err
	}
	a.t.Ops = append(a.t.Ops, op)
	return nil
}

// ops returns the batch ops of steps, with new values for the writes.
func (a *attempt) ops(steps []step) []client.Op {
	ops := make([]client.Op, len(steps))
	for i, s := range steps {
		switch s.kind {
		case history.Read:
			ops[i] = client.ReadOp(s.key)
		case history.Write:
			ops[i] = client.WriteOp(s.key, a.value(s.key))
		case history.Delete:
			ops[i] = client.DeleteOp(s.key)
		}
	}
	return ops
}

// batch runs steps in one batch, recording them as do would.
func (a *attempt) batch(ctx context.Context, steps []step) error {
	ops := a.ops(steps)
	octx, cancel := a.opCtx(ctx)
	defer cancel()
	start := time.Now()
	res, err := a.r.c.Batch(octx, a.t.ID, ops...)
	if err != nil {
		return err
	}
	return a.record(steps, ops, res, start, time.Now())
}

// record records the answered ops of a batch, sent at start and answered at end, up to the
// first that failed, whose error it returns: the ops after it ran in the shim, but the
// attempt ends there, as do stops at an error. A shim that answered no results for a
// running transaction (it ran no op) is an error too.
func (a *attempt) record(steps []step, ops []client.Op, res []client.OpResult, start, end time.Time) error {
	a.r.st.batches.Add(1)
	if len(res) != len(steps) {
		return fmt.Errorf("batch of %d ops answered %d results", len(steps), len(res))
	}
	for i, s := range steps {
		op := history.Op{Kind: s.kind, Key: s.key, Start: start, End: end}
		err := res[i].Err
		var ce *client.Error
		switch {
		case s.kind == history.Read && err == nil:
			op.Found, op.Value, op.Version = true, res[i].Value.Bytes, res[i].Value.Version
		case s.kind == history.Read && errors.As(err, &ce) && errors.Is(err, client.ErrKeyNotFound):
			op.Version, err = ce.Version, nil
		case s.kind == history.Write:
			op.Value = ops[i].Value()
		}
		if err != nil {
			return err
		}
		a.t.Ops = append(a.t.Ops, op)
	}
	return nil
}

// value returns a new value of key, unique across the run: "<txn id>/<key>/<n>", padded.
// A write carried in the begin is made before the id is known: it names a random token of
// the attempt instead.
func (a *attempt) value(key string) []byte {
	a.n++
	id := a.t.ID
	if id == "" {
		if a.token == "" {
			a.token = fmt.Sprintf("begin-%016x", a.rng.Uint64())
		}
		id = a.token
	}
	v := fmt.Sprintf("%s/%s/%d", id, key, a.n)
	if pad := a.r.o.ValueSize - len(v); pad > 0 {
		v += "/" + strings.Repeat("x", pad-1)
	}
	return []byte(v)
}

// end commits the attempt, or aborts it when abort is set, and sets its Outcome.
func (a *attempt) end(ctx context.Context, abort bool) error {
	octx, cancel := a.opCtx(ctx)
	defer cancel()
	if abort {
		a.t.Outcome = history.Failed // commit is never sent: it cannot commit
		if _, err := a.r.c.Abort(octx, a.t.ID); err != nil {
			return a.unexpected(err)
		}
		a.r.st.aborted.Add(1)
		return nil
	}
	var result []byte
	if a.t.IdemKey != "" {
		result = []byte(resultOf(a.t.ID))
	}
	a.t.CommitStart = time.Now()
	ct, err := a.r.c.Commit(octx, a.t.ID, result)
	var ce *client.Error
	switch {
	case err == nil:
		a.commitEnd = time.Now()
		a.t.Outcome, a.t.Version = history.Committed, ct.Version
		if ct.ID != a.t.ID || !ct.Committed() {
			a.r.st.failure(fmt.Errorf("commit %s: answered id %q status %q", a.t.ID, ct.ID, ct.Status))
		}
		return nil
	case errors.Is(err, client.ErrFenced):
		a.t.Outcome = history.Failed
		if errors.As(err, &ce) {
			a.winner = ce.Winner
		}
		return a.unexpected(err)
	case errors.Is(err, client.ErrAborted), errors.Is(err, client.ErrTxnNotFound):
		// A definite answer: the shim does not (or no longer) run it, it did not commit.
		a.t.Outcome = history.Failed
		return a.unexpected(err)
	default:
		// No answer, a 5xx or an odd one: it may or may not have committed.
		a.t.Outcome = history.Unknown
		a.abortQuietly(ctx)
		return a.unexpected(err)
	}
}

// abandon gives up an attempt that never sent commit: it is Failed, and aborted if the
// shim still runs it.
func (a *attempt) abandon(ctx context.Context) {
	a.t.Outcome = history.Failed
	a.abortQuietly(ctx)
}

// abortQuietly aborts the attempt, best effort: even after ctx ended, for at most a second.
func (a *attempt) abortQuietly(ctx context.Context) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), min(a.r.o.OpTimeout, time.Second))
	defer cancel()
	_, _ = a.r.c.Abort(actx, a.t.ID)
}
