// Package bench generates load of the AFT paper's transaction shape (writes then reads over
// Zipf-distributed keys) against a shim, or the same work straight against a store, and
// reports throughput, latency percentiles and memory.
package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/shim/store"
)

// Shape is the work of one transaction.
type Shape struct {
	Writes, Reads int     // per transaction, writes first (paper: 2 and 4)
	Keys          int     // key space (paper: 1,000)
	ValueSize     int     // bytes per value (paper: 4 KiB)
	Zipf          float64 // Zipf exponent s > 1 of key popularity (0: uniform)
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
}

// Result summarises a run.
type Result struct {
	Txns     int64
	Errors   int64
	Elapsed  time.Duration
	TPS      float64
	P50, P99 time.Duration
	LastErr  error
}

func (r Result) String() string {
	return fmt.Sprintf("%d txns in %v: %.0f txn/s, p50 %v, p99 %v, %d errors",
		r.Txns, r.Elapsed.Round(time.Millisecond), r.TPS, r.P50.Round(time.Microsecond), r.P99.Round(time.Microsecond), r.Errors)
}

// TxnFunc runs one transaction of the shape with the given keys and value.
type TxnFunc func(ctx context.Context, writeKeys, readKeys []string, value []byte) error

// Run drives fn from opts.Clients goroutines, closed loop, until the bound.
func Run(ctx context.Context, opts Options, fn TxnFunc) (Result, error) {
	if opts.Duration <= 0 && opts.Txns <= 0 {
		return Result{}, errors.New("bench: set a duration or a transaction count")
	}
	if opts.Clients <= 0 {
		opts.Clients = 16
	}
	if opts.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Duration)
		defer cancel()
	}
	var done, errs atomic.Int64
	var lastErr atomic.Value
	lat := make([]hist, opts.Clients)
	start := time.Now()
	stopProgress, progressDone := make(chan struct{}), make(chan struct{})
	if opts.Progress != nil && opts.ProgressEvery > 0 {
		go func() {
			defer close(progressDone)
			t := time.NewTicker(opts.ProgressEvery)
			defer t.Stop()
			for {
				select {
				case <-stopProgress:
					return
				case <-t.C:
					opts.Progress(done.Load(), time.Since(start))
				}
			}
		}()
	}
	var wg sync.WaitGroup
	for c := 0; c < opts.Clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(c) + 1))
			pick := keyPicker(rng, opts.Shape)
			value := make([]byte, opts.Shape.ValueSize)
			rng.Read(value)
			w, r := make([]string, opts.Shape.Writes), make([]string, opts.Shape.Reads)
			for ctx.Err() == nil {
				if opts.Txns > 0 && done.Load() >= opts.Txns {
					return
				}
				for i := range w {
					w[i] = pick()
				}
				for i := range r {
					r[i] = pick()
				}
				t0 := time.Now()
				err := fn(ctx, w, r, value)
				if ctx.Err() != nil {
					return // cut off by the bound: not counted
				}
				if err != nil {
					errs.Add(1)
					lastErr.Store(err)
					continue
				}
				lat[c].add(time.Since(t0))
				done.Add(1)
			}
		}(c)
	}
	wg.Wait()
	close(stopProgress)
	if opts.Progress != nil && opts.ProgressEvery > 0 {
		<-progressDone
	}
	if opts.Progress != nil {
		opts.Progress(done.Load(), time.Since(start)) // a last line, with the marks reached at the end
	}
	res := Result{Txns: done.Load(), Errors: errs.Load(), Elapsed: time.Since(start)}
	if e, ok := lastErr.Load().(error); ok {
		res.LastErr = e
	}
	var all hist
	for i := range lat {
		all.merge(&lat[i])
	}
	res.P50, res.P99 = all.quantile(0.50), all.quantile(0.99)
	res.TPS = float64(res.Txns) / res.Elapsed.Seconds()
	return res, nil
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
func AftTxn(c *client.Client) TxnFunc {
	return func(ctx context.Context, writeKeys, readKeys []string, value []byte) error {
		t, err := c.Begin(ctx, "")
		if err != nil {
			return err
		}
		for _, k := range writeKeys {
			if err := c.Put(ctx, t.ID, k, value); err != nil {
				c.Abort(ctx, t.ID)
				return err
			}
		}
		for _, k := range readKeys {
			if _, err := c.Get(ctx, t.ID, k); err != nil && !errors.Is(err, client.ErrKeyNotFound) {
				c.Abort(ctx, t.ID)
				return err
			}
		}
		_, err = c.Commit(ctx, t.ID, nil)
		return err
	}
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
