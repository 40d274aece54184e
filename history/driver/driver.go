// Package driver runs a concurrent, bounded transactional workload against an aft shim
// through the Go client, and records every transaction as its client saw it into a
// history.Recorder, for history.Check to judge afterwards.
//
// The workload is built to make anomalies observable. Keys come in groups; writers write a
// whole group or part of one (sometimes of two), so that a reader of a whole group would
// see a fractured write if the shim let one through. Every value written is unique across
// the run ("<txn id>/<key>/<n>"), so a value read names its writer. Some writers abort on
// purpose, some delete, some overwrite a key twice, some read back what they wrote; some
// use idempotency keys and run two or three attempts of one logical request, concurrently
// or one after another, so that first-commit-wins and fencing are exercised.
//
// The driver survives a shim that dies and comes back: a client whose request fails gives
// up its transaction (recording what was answered), waits a little, and starts a fresh one,
// until the bound is reached. A commit that got no answer is recorded with Outcome Unknown.
// The clients, the bounds and the pauses are package loop's closed loop, which the bench
// uses too.
//
// After the load, Final reads every key ever written in one transaction marked Final, for
// the lost-commit check, and VerifyIdemKeys asks the shim for the winner of every
// idempotency key used.
package driver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aft-shim/aft/bench/loop"
	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/history"
)

// Defaults of the zero Options.
const (
	DefaultClients          = 16
	DefaultGroups           = 20
	DefaultGroupSize        = 4
	DefaultReadFraction     = 0.4
	DefaultAbortFraction    = 0.1
	DefaultDeleteFraction   = 0.1
	DefaultIdemFraction     = 0.3
	DefaultMultiFraction    = 0.5
	DefaultTwoGroupFraction = 0.2
	DefaultReadOwnWrites    = 0.5
	DefaultRepeatFraction   = 0.2
	DefaultBatchFraction    = 0.25
	DefaultOpTimeout        = 5 * time.Second
	DefaultBackoff          = 20 * time.Millisecond
	DefaultProgressEvery    = time.Second
	DefaultMaxRetries       = 3
)

// Options configure Run. A zero field takes its default; a fraction is a probability in
// [0, 1], and since 0 means the default, a negative fraction means none at all.
type Options struct {
	// Clients is the number of concurrent clients (goroutines), each running one logical
	// transaction at a time. Default DefaultClients.
	Clients int
	// Duration bounds the time during which transactions start; 0 means no time bound.
	Duration time.Duration
	// Txns bounds the number of logical transactions (a reader, a writer, or all attempts
	// of one idempotency key); 0 means no count bound. At least one of Duration, Txns and
	// Stop must be given: the load stops at whichever bound comes first.
	Txns int
	// Stop, when closed, stops the load like the end of Duration: clients finish the
	// transaction in flight and return. Nil means none.
	Stop <-chan struct{}

	// Groups and GroupSize shape the key space: Groups groups of GroupSize keys each.
	// Defaults DefaultGroups and DefaultGroupSize. Few groups and many clients make
	// transactions collide.
	Groups, GroupSize int
	// KeyPrefix starts every key (default "k"); keys are "<prefix><group>/<n>".
	KeyPrefix string
	// ValueSize pads every value written to at least this many bytes.
	ValueSize int

	// ReadFraction is the share of logical transactions that are read-only readers of one
	// or two whole groups; the rest are writers. Default DefaultReadFraction.
	ReadFraction float64
	// AbortFraction is the share of writers that abort on purpose instead of committing.
	// Default DefaultAbortFraction.
	AbortFraction float64
	// DeleteFraction is the share of writes that are deletes. Default DefaultDeleteFraction.
	DeleteFraction float64
	// IdemFraction is the share of writers that use an idempotency key. Default
	// DefaultIdemFraction.
	IdemFraction float64
	// MultiFraction is the share of those that run two or three attempts with the same
	// key, concurrently, overlapping or one after another. Default DefaultMultiFraction.
	MultiFraction float64
	// TwoGroupFraction is the share of readers and writers that span two groups instead of
	// one. Default DefaultTwoGroupFraction.
	TwoGroupFraction float64
	// ReadOwnWrites is the share of writers that read back keys they wrote and keys of
	// their groups they did not write. Default DefaultReadOwnWrites.
	ReadOwnWrites float64
	// RepeatFraction is the share of transactions that read some key twice. Default
	// DefaultRepeatFraction.
	RepeatFraction float64
	// BatchFraction is the share of attempts that send their operations in batches (POST
	// /v1/txns/{id}/batch, one per run of operations), half of them in the begin itself.
	// Default DefaultBatchFraction.
	BatchFraction float64
	// ThinkTime, when positive, makes clients pause a random time up to it between the
	// operations of a transaction, widening the windows in which transactions overlap.
	ThinkTime time.Duration

	// OpTimeout bounds every request. Default DefaultOpTimeout.
	OpTimeout time.Duration
	// Backoff is the pause of a client after a failed request, before it starts a fresh
	// transaction (randomised between Backoff and twice Backoff). Default DefaultBackoff.
	Backoff time.Duration
	// MaxRetries bounds the further attempts of a keyed logical transaction whose attempt
	// failed on an error or whose commit got no answer. Default DefaultMaxRetries; a
	// negative value means none.
	MaxRetries int
	// Seed seeds the random choices; 0 picks a random seed.
	Seed uint64
	// IdemPrefix starts every idempotency key; default a random one per Run, so that runs
	// against one shim never share keys.
	IdemPrefix string

	// Progress, when not nil, receives a status line every ProgressEvery, and a last one
	// when Run returns.
	Progress io.Writer
	// OnProgress, when not nil, is called with the statistics every ProgressEvery and when
	// Run returns.
	OnProgress func(Stats)
	// ProgressEvery is the period of progress reports. Default DefaultProgressEvery.
	ProgressEvery time.Duration
}

// ErrUnbounded is returned by Run when Options give neither Duration, Txns nor Stop.
var ErrUnbounded = errors.New("driver: no bound: set Duration, Txns or Stop")

// withDefaults returns o with the defaults filled in, or an error for impossible settings.
func (o Options) withDefaults() (Options, error) {
	if o.Duration <= 0 && o.Txns <= 0 && o.Stop == nil {
		return o, ErrUnbounded
	}
	if o.Clients < 0 || o.Groups < 0 || o.GroupSize < 0 || o.ValueSize < 0 || o.Txns < 0 {
		return o, fmt.Errorf("driver options: negative count")
	}
	intDef := func(p *int, d int) {
		if *p == 0 {
			*p = d
		}
	}
	intDef(&o.Clients, DefaultClients)
	intDef(&o.Groups, DefaultGroups)
	intDef(&o.GroupSize, DefaultGroupSize)
	intDef(&o.MaxRetries, DefaultMaxRetries)
	o.MaxRetries = max(o.MaxRetries, 0)
	durDef := func(p *time.Duration, d time.Duration) {
		if *p <= 0 {
			*p = d
		}
	}
	durDef(&o.OpTimeout, DefaultOpTimeout)
	durDef(&o.Backoff, DefaultBackoff)
	durDef(&o.ProgressEvery, DefaultProgressEvery)
	fractions := []struct {
		name string
		p    *float64
		def  float64
	}{
		{"read", &o.ReadFraction, DefaultReadFraction},
		{"abort", &o.AbortFraction, DefaultAbortFraction},
		{"delete", &o.DeleteFraction, DefaultDeleteFraction},
		{"idem", &o.IdemFraction, DefaultIdemFraction},
		{"multi", &o.MultiFraction, DefaultMultiFraction},
		{"batch", &o.BatchFraction, DefaultBatchFraction},
		{"two-group", &o.TwoGroupFraction, DefaultTwoGroupFraction},
		{"read-own-writes", &o.ReadOwnWrites, DefaultReadOwnWrites},
		{"repeat", &o.RepeatFraction, DefaultRepeatFraction},
	}
	for _, f := range fractions {
		switch {
		case *f.p == 0:
			*f.p = f.def
		case *f.p < 0:
			*f.p = 0
		case *f.p > 1:
			return o, fmt.Errorf("driver options: %s fraction %v is above 1", f.name, *f.p)
		}
	}
	if o.KeyPrefix == "" {
		o.KeyPrefix = "k"
	}
	if o.IdemPrefix == "" {
		o.IdemPrefix = "idem-" + randomHex(6) + "-"
	}
	if o.Seed == 0 {
		o.Seed = mrand.Uint64()
	}
	return o, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}

// Stats count what a Run did.
type Stats struct {
	// Logical is the number of logical transactions run: readers, writers, and keyed
	// requests with all their attempts.
	Logical int64
	// Txns is the number of transactions (attempts) recorded.
	Txns int64
	// Readers and Writers count the recorded transactions of each kind.
	Readers, Writers int64
	// Committed, Failed and Unknown count the recorded transactions by Outcome.
	Committed, Failed, Unknown int64
	// Aborted counts the writers that aborted on purpose.
	Aborted int64
	// Fenced counts the attempts fenced: whose commit got 409 fenced, or whose operation
	// did after a newer attempt fenced them.
	Fenced int64
	// Batches counts the batches answered (POST /v1/txns/{id}/batch, and begins that
	// carried operations): see Options.BatchFraction.
	Batches int64
	// Dedup counts the begins answered "committed" because an earlier attempt of their
	// idempotency key had committed.
	Dedup int64
	// BadWinners counts the answers about idempotency keys that contradict what the
	// clients saw: a winner that this driver saw fail, or that it never began, or a stored
	// result that is not the winner's. It should be 0.
	BadWinners int64
	// Errors counts the requests that failed unexpectedly: no answer (transport error,
	// timeout), a 5xx, or an error code the workload does not expect.
	Errors int64
	// LastError is the last of those errors, "" if none.
	LastError string
	// LastBadWinner describes the last bad winner, "" if none.
	LastBadWinner string
	// Elapsed is the time since Run started.
	Elapsed time.Duration
}

// String returns a one-line summary.
func (s Stats) String() string {
	return fmt.Sprintf("%.1fs logical=%d txns=%d (readers=%d writers=%d) committed=%d failed=%d unknown=%d aborted=%d fenced=%d batches=%d dedup=%d bad-winners=%d errors=%d",
		s.Elapsed.Seconds(), s.Logical, s.Txns, s.Readers, s.Writers, s.Committed, s.Failed, s.Unknown,
		s.Aborted, s.Fenced, s.Batches, s.Dedup, s.BadWinners, s.Errors)
}

// counters are the live form of Stats.
type counters struct {
	logical, txns, readers, writers       atomic.Int64
	committed, failed, unknown, aborted   atomic.Int64
	fenced, dedup, badWinners, errorCount atomic.Int64
	batches                               atomic.Int64

	mu            sync.Mutex
	lastError     string
	lastBadWinner string
}

func (c *counters) snapshot(start time.Time) Stats {
	c.mu.Lock()
	lastErr, lastBad := c.lastError, c.lastBadWinner
	c.mu.Unlock()
	return Stats{
		Logical: c.logical.Load(), Txns: c.txns.Load(), Readers: c.readers.Load(), Writers: c.writers.Load(),
		Committed: c.committed.Load(), Failed: c.failed.Load(), Unknown: c.unknown.Load(), Aborted: c.aborted.Load(),
		Fenced: c.fenced.Load(), Batches: c.batches.Load(), Dedup: c.dedup.Load(), BadWinners: c.badWinners.Load(), Errors: c.errorCount.Load(),
		LastError: lastErr, LastBadWinner: lastBad, Elapsed: time.Since(start),
	}
}

func (c *counters) failure(err error) {
	c.errorCount.Add(1)
	c.mu.Lock()
	c.lastError = err.Error()
	c.mu.Unlock()
}

func (c *counters) badWinner(msg string) {
	c.badWinners.Add(1)
	c.mu.Lock()
	c.lastBadWinner = msg
	c.mu.Unlock()
}

// run is the shared state of one Run.
type run struct {
	c      *client.Client
	rec    *history.Recorder
	o      Options
	groups [][]string
	st     counters
}

// Run runs the workload against the shim of c until a bound of o is reached, recording
// every transaction into rec, and returns what it did. It returns once every client has
// finished its transaction in flight; cancelling ctx cuts those short (their commits may
// then be recorded as Unknown) and makes Run return ctx's error. Errors of the shim never
// end Run: they are counted in Stats.
func Run(ctx context.Context, c *client.Client, rec *history.Recorder, o Options) (Stats, error) {
	start := time.Now()
	o, err := o.withDefaults()
	if err != nil {
		return Stats{}, err
	}
	r := &run{c: c, rec: rec, o: o}
	r.groups = make([][]string, o.Groups)
	for g := range r.groups {
		for k := range o.GroupSize {
			r.groups[g] = append(r.groups[g], fmt.Sprintf("%s%d/%d", o.KeyPrefix, g, k))
		}
	}

	workers := make([]*worker, o.Clients)
	for i := range workers {
		workers[i] = &worker{r: r, id: i, rng: mrand.New(mrand.NewPCG(o.Seed, uint64(i)))}
	}
	// A logical transaction that starts counts toward Txns, failed or not; the bound lets
	// the transactions in flight finish.
	lo := loop.Options{
		Workers: o.Clients, Duration: o.Duration, Count: int64(o.Txns), Stop: o.Stop, Drain: true,
		Pause: func(id int) time.Duration { return workers[id].pause() },
	}
	var st Stats
	lo.Progress = func(loop.Stats) { st = r.report(start) }
	if o.Progress != nil || o.OnProgress != nil {
		lo.ProgressEvery = o.ProgressEvery
	}
	if _, err := loop.Run(ctx, lo, func(ctx context.Context, w loop.Worker) error {
		return workers[w.ID].next(ctx)
	}); err != nil {
		return Stats{}, fmt.Errorf("driver: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return st, fmt.Errorf("driver: %w", err)
	}
	return st, nil
}

// report sends the current statistics to the progress outputs and returns them.
func (r *run) report(start time.Time) Stats {
	st := r.st.snapshot(start)
	if r.o.Progress != nil {
		line := "driver: " + st.String()
		if st.LastError != "" {
			line += " last-error: " + st.LastError
		}
		fmt.Fprintln(r.o.Progress, line)
	}
	if r.o.OnProgress != nil {
		r.o.OnProgress(st)
	}
	return st
}

// sleep pauses for d, or less when ctx ends. It reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// record adds a finished attempt to the history and counts it.
func (r *run) record(t history.Txn, writer bool) {
	if t.ID == "" {
		return
	}
	r.rec.Add(t)
	r.st.txns.Add(1)
	if writer {
		r.st.writers.Add(1)
	} else {
		r.st.readers.Add(1)
	}
	switch t.Outcome {
	case history.Committed:
		r.st.committed.Add(1)
	case history.Failed:
		r.st.failed.Add(1)
	default:
		r.st.unknown.Add(1)
	}
}
