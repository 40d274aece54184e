// Package bench measures aft under load and writes reports that people can read and share.
//
// The load is the AFT paper's transaction: writes then reads over Zipf-distributed keys
// (PaperShape). It runs closed loop (Run: N clients, each sending its next transaction
// when the last one answered) or open loop (Attack: vegeta at a constant rate, whatever
// the answers), in two scenarios:
//
//   - api: the transaction through the shim's HTTP API (AftTxn: begin, a call per write and
//     read, commit). Open loop, one vegeta hit is one whole transaction: ShapeTargeter draws
//     the keys into the body of a request to the virtual endpoint aft-txn://, which
//     TxnTransport runs as the transaction's calls;
//   - gateway: one invocation of ShapeFunction, a function written with the Go SDK doing the
//     transaction, through the aft middleware (Gateway), against the same function called
//     directly.
//
// Each runs in the mode aft, and plain (DirectTxn: the same reads and writes straight on the
// store), and on DynamoDB also with DynamoDB's own transactions (DynamoTxn). CrashRestart
// loads a shim process, kills it with SIGKILL and restarts it, and records the throughput
// over time and the recovery time. RunSuite runs all of it per store and injected store
// latency (aft bench --out); the Results it returns are written as a report folder
// (WriteFolder: results.json, CSV, report.md and charts, with package report/folder); Compare sets two results side by side. Execute is the `aft bench` command
// itself, run from a Config that cmd/aft fills from the flags.
//
// The closed loop is package loop's, which history/driver uses too; the mode names are
// package mode's, which the workload suite uses too.
package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"sync"
	"time"

	"github.com/aft-shim/aft/bench/loop"
	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/shim/store"
)

// Shape is the work of one transaction.
type Shape struct {
	Writes    int     `json:"writes"`     // per transaction, writes first (paper: 2)
	Reads     int     `json:"reads"`      // per transaction (paper: 4)
	Keys      int     `json:"keys"`       // key space (paper: 1,000)
	ValueSize int     `json:"value_size"` // bytes per value (paper: 4 KiB)
	Zipf      float64 `json:"zipf"`       // Zipf exponent s > 1 of key popularity (0: uniform)
}

// PaperShape is the transaction shape of the AFT paper's evaluation.
var PaperShape = Shape{Writes: 2, Reads: 4, Keys: 1000, ValueSize: 4096, Zipf: 1.1}

// Options bound a run. The run stops at Duration or after Txns transactions, whichever
// comes first (at least one must be set).
type Options struct {
	Shape    Shape
	Clients  int
	Duration time.Duration
	Txns     int64
	// Progress, when set, is called every ProgressEvery with the transactions done so far.
	Progress      func(done int64, elapsed time.Duration)
	ProgressEvery time.Duration
	// Observe, when set, is called after every transaction with when it began, how long
	// it took and its error (from the client goroutines, concurrently).
	Observe func(start time.Time, took time.Duration, err error)
	// ErrorPause is how long a client waits after an error before its next transaction
	// (default 0), so that a dead shim is not hammered in a tight loop.
	ErrorPause time.Duration
}

// Result summarises a run.
type Result struct {
	Txns     int64
	Errors   int64
	Elapsed  time.Duration
	TPS      float64
	P50, P99 time.Duration
	LastErr  error
	lat      *hist // of the successes
}

// Latency returns the latency percentiles of the successful transactions.
func (r Result) Latency() Latency {
	if r.lat == nil {
		return Latency{}
	}
	return r.lat.summary()
}

// CDF samples the latency distribution of the successful transactions.
func (r Result) CDF() []CDFPoint {
	if r.lat == nil {
		return nil
	}
	return r.lat.cdf()
}

func (r Result) String() string {
	return fmt.Sprintf("%d txns in %v: %.0f txn/s, p50 %v, p99 %v, %d errors",
		r.Txns, r.Elapsed.Round(time.Millisecond), r.TPS, r.P50.Round(time.Microsecond), r.P99.Round(time.Microsecond), r.Errors)
}

// TxnFunc runs one transaction of the shape with the given keys and value.
type TxnFunc func(ctx context.Context, writeKeys, readKeys []string, value []byte) error

// Run drives fn from opts.Clients goroutines, closed loop (package loop), until the bound.
func Run(ctx context.Context, opts Options, fn TxnFunc) (Result, error) {
	if opts.Duration <= 0 && opts.Txns <= 0 {
		return Result{}, errors.New("bench: set a duration or a transaction count")
	}
	if opts.Clients <= 0 {
		opts.Clients = 16
	}
	clients := make([]shapeClient, opts.Clients)
	for c := range clients {
		clients[c] = newShapeClient(int64(c)+1, opts.Shape)
	}
	lo := loop.Options{
		Workers: opts.Clients, Duration: opts.Duration, Count: opts.Txns, Retry: true,
		Observe: func(c int, start time.Time, took time.Duration, err error) {
			if opts.Observe != nil {
				opts.Observe(start, took, err)
			}
			if err == nil {
				clients[c].lat.add(took)
			}
		},
		ProgressEvery: opts.ProgressEvery,
	}
	if opts.ErrorPause > 0 {
		lo.Pause = func(int) time.Duration { return opts.ErrorPause }
	}
	if opts.Progress != nil {
		lo.Progress = func(st loop.Stats) { opts.Progress(st.Done, st.Elapsed) }
	}
	st, err := loop.Run(ctx, lo, func(ctx context.Context, w loop.Worker) error {
		return clients[w.ID].next(ctx, fn)
	})
	if err != nil {
		return Result{}, fmt.Errorf("bench: %w", err)
	}
	res := Result{Txns: st.Done, Errors: st.Errors, Elapsed: st.Elapsed, LastErr: st.LastErr}
	all := new(hist)
	for i := range clients {
		all.merge(&clients[i].lat)
	}
	res.lat = all
	res.P50, res.P99 = all.quantile(0.50), all.quantile(0.99)
	res.TPS = float64(res.Txns) / res.Elapsed.Seconds()
	return res, nil
}

// shapeClient is the state of one client of Run: its keys drawn, its value, the latency
// of its successes.
type shapeClient struct {
	pick  func() string
	value []byte
	w, r  []string
	lat   hist
}

func newShapeClient(seed int64, s Shape) shapeClient {
	rng := rand.New(rand.NewSource(seed))
	c := shapeClient{pick: keyPicker(rng, s), value: make([]byte, s.ValueSize), w: make([]string, s.Writes), r: make([]string, s.Reads)}
	rng.Read(c.value)
	return c
}

// next runs fn on a fresh draw of keys.
func (c *shapeClient) next(ctx context.Context, fn TxnFunc) error {
	for i := range c.w {
		c.w[i] = c.pick()
	}
	for i := range c.r {
		c.r[i] = c.pick()
	}
	return fn(ctx, c.w, c.r, c.value)
}

func keyPicker(rng *rand.Rand, s Shape) func() string {
	keys := max(s.Keys, 1)
	if s.Zipf > 1 {
		z := rand.NewZipf(rng, s.Zipf, 1, uint64(keys-1))
		return func() string { return fmt.Sprintf("key-%04d", z.Uint64()) }
	}
	return func() string { return fmt.Sprintf("key-%04d", rng.Intn(keys)) }
}

// AftTxn runs the shape as one aft transaction: begin, writes, reads, commit.
func AftTxn(c *client.Client) TxnFunc { return AftTxnSteps(c, nil) }

// AftBatchTxn is AftTxn in two round trips: a begin carrying the writes and the reads (a
// batch), then the commit.
func AftBatchTxn(c *client.Client) TxnFunc {
	return func(ctx context.Context, writeKeys, readKeys []string, value []byte) error {
		ops := make([]client.Op, 0, len(writeKeys)+len(readKeys))
		for _, k := range writeKeys {
			ops = append(ops, client.WriteOp(k, value))
		}
		for _, k := range readKeys {
			ops = append(ops, client.ReadOp(k))
		}
		t, res, err := c.BeginBatch(ctx, client.BeginOptions{}, ops...)
		if err != nil {
			return err
		}
		for _, r := range res {
			if r.Err != nil && !errors.Is(r.Err, client.ErrKeyNotFound) {
				c.Abort(ctx, t.ID)
				return r.Err
			}
		}
		_, err = c.Commit(ctx, t.ID, nil)
		return err
	}
}

// AftTxnSteps is AftTxn that also records the latency of each call in steps (nil: not).
func AftTxnSteps(c *client.Client, steps *Steps) TxnFunc {
	return func(ctx context.Context, writeKeys, readKeys []string, value []byte) error {
		t0 := time.Now()
		t, err := c.Begin(ctx, "")
		if err != nil {
			return err
		}
		t0 = steps.add(StepBegin, t0)
		for _, k := range writeKeys {
			if err := c.Put(ctx, t.ID, k, value); err != nil {
				c.Abort(ctx, t.ID)
				return err
			}
			t0 = steps.add(StepWrite, t0)
		}
		for _, k := range readKeys {
			if _, err := c.Get(ctx, t.ID, k); err != nil && !errors.Is(err, client.ErrKeyNotFound) {
				c.Abort(ctx, t.ID)
				return err
			}
			t0 = steps.add(StepRead, t0)
		}
		if _, err = c.Commit(ctx, t.ID, nil); err != nil {
			return err
		}
		steps.add(StepCommit, t0)
		return nil
	}
}

// The calls of an aft transaction, as Steps names them.
const (
	StepBegin  = "begin"
	StepWrite  = "write"
	StepRead   = "read"
	StepCommit = "commit"
)

// Steps records the latency of each HTTP call inside aft transactions, by call. The zero
// value is ready; a nil *Steps records nothing. It is safe for concurrent use.
type Steps struct {
	mu sync.Mutex
	h  map[string]*hist
}

// add records the call step that began at t0 and returns now, when the next call begins.
func (s *Steps) add(step string, t0 time.Time) time.Time {
	now := time.Now()
	if s == nil {
		return now
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.h == nil {
		s.h = map[string]*hist{}
	}
	h := s.h[step]
	if h == nil {
		h = new(hist)
		s.h[step] = h
	}
	h.add(now.Sub(t0))
	return now
}

// Summary returns the latency percentiles of each call recorded, nil if none.
func (s *Steps) Summary() map[string]Latency {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.h) == 0 {
		return nil
	}
	out := make(map[string]Latency, len(s.h))
	for k, h := range s.h {
		out[k] = h.summary()
	}
	return out
}

// DirectTxn does the same work straight on a store, without transactions: one Put of the
// writes (durable on return), then the reads.
func DirectTxn(s store.Store) TxnFunc {
	return func(ctx context.Context, writeKeys, readKeys []string, value []byte) error {
		items := make([]store.Item, len(writeKeys))
		for i, k := range writeKeys {
			items[i] = store.Item{Key: "d/" + k, Value: value}
		}
		if err := s.Put(ctx, items); err != nil {
			return err
		}
		for _, k := range readKeys {
			if _, err := s.Get(ctx, "d/"+k); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		return nil
	}
}
