// Package loop is the one closed-loop load driver: Workers goroutines, each running its
// next iteration when the last one returned, until a bound (a duration, a count of
// iterations, a stop channel, or the caller's context), counting successes and errors,
// timing every iteration and reporting progress. What an iteration does (a transaction of
// the bench's shape, a recorded transaction of history/driver) is the caller's Func.
//
// Every run is bounded: Run refuses Options without Duration, Count or Stop.
package loop

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Func runs one iteration of worker w (0 <= w.ID < Workers). Each worker calls it from one
// goroutine of its own, so that per-worker state indexed by w.ID needs no lock.
type Func func(ctx context.Context, w Worker) error

// Worker is the worker running an iteration.
type Worker struct {
	ID int
	// Stop is closed when the load reached its bound. With Drain, ctx does not end then:
	// an iteration may watch Stop to cut a pause short.
	Stop <-chan struct{}
}

// Options bound and observe a run. The run stops at the first of Duration, Count and
// Stop (at least one must be set), or when the caller's context ends.
type Options struct {
	// Workers is the number of concurrent workers (default 16).
	Workers int
	// Duration bounds the time during which iterations start; 0 means no time bound.
	Duration time.Duration
	// Count bounds the iterations that start; 0 means no count bound. With Retry, only
	// successes count: a failed iteration gives its place back, so that exactly Count
	// succeed.
	Count int64
	Retry bool
	// Stop, when closed, stops the run like the end of Duration. Nil means none.
	Stop <-chan struct{}
	// Drain lets the iterations in flight at the bound finish, and counts them. Without
	// it, the bound cancels their context, and an iteration that returns after the bound
	// is not counted (nor observed).
	Drain bool
	// Pause, when set, returns how long worker id waits after a failed iteration before
	// its next one; the pause ends early at the bound.
	Pause func(id int) time.Duration
	// Observe, when set, is called after every counted iteration with when it began, how
	// long it took and its error (from the workers' goroutines, concurrently).
	Observe func(id int, start time.Time, took time.Duration, err error)
	// Progress, when set, is called every ProgressEvery (if above 0) with the counts so
	// far, and once more when the run ends.
	Progress      func(Stats)
	ProgressEvery time.Duration
}

// Stats count what a run did.
type Stats struct {
	Done    int64         // iterations that succeeded
	Errors  int64         // iterations that failed
	Elapsed time.Duration // since the run started
	LastErr error         // the last error of a failed iteration, nil if none
}

// ErrUnbounded is returned by Run for Options without Duration, Count or Stop.
var ErrUnbounded = errors.New("loop: no bound: set a duration, a count or a stop channel")

// Run drives fn from o.Workers goroutines until the bound, and returns the counts once
// every worker returned. Errors of fn never end the run: they are counted. Run does not
// report the end of ctx: the caller checks ctx.Err().
func Run(ctx context.Context, o Options, fn Func) (Stats, error) {
	if o.Duration <= 0 && o.Count <= 0 && o.Stop == nil {
		return Stats{}, ErrUnbounded
	}
	if o.Workers <= 0 {
		o.Workers = 16
	}
	r := &run{o: o, start: time.Now(), stop: make(chan struct{})}
	runCtx := ctx
	if !o.Drain {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithCancel(ctx)
		defer cancel()
		go func() { // the stopper always closes r.stop, at the latest once the workers returned
			<-r.stop
			cancel()
		}()
	}
	allDone := make(chan struct{})
	stopperDone := make(chan struct{})
	go r.stopper(ctx, allDone, stopperDone)
	progressDone := make(chan struct{})
	go r.progress(allDone, progressDone)

	var wg sync.WaitGroup
	for id := range o.Workers {
		wg.Go(func() { r.work(runCtx, Worker{ID: id, Stop: r.stop}, fn) })
	}
	wg.Wait()
	close(allDone)
	<-stopperDone
	<-progressDone
	st := r.stats()
	if o.Progress != nil {
		o.Progress(st) // a last report, with what the end reached
	}
	return st, nil
}

// run is the shared state of one Run.
type run struct {
	o     Options
	start time.Time
	stop  chan struct{} // closed at the first bound

	started, done, errs atomic.Int64
	mu                  sync.Mutex
	lastErr             error
}

// stopper closes r.stop at the first bound, or once every worker returned.
func (r *run) stopper(ctx context.Context, allDone <-chan struct{}, finished chan<- struct{}) {
	defer close(finished)
	defer close(r.stop)
	var timeout <-chan time.Time
	if r.o.Duration > 0 {
		t := time.NewTimer(r.o.Duration)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-ctx.Done():
	case <-timeout:
	case <-r.o.Stop:
	case <-allDone:
	}
}

// progress reports the counts every ProgressEvery until every worker returned.
func (r *run) progress(allDone <-chan struct{}, finished chan<- struct{}) {
	defer close(finished)
	if r.o.Progress == nil || r.o.ProgressEvery <= 0 {
		return
	}
	t := time.NewTicker(r.o.ProgressEvery)
	defer t.Stop()
	for {
		select {
		case <-allDone:
			return
		case <-t.C:
			r.o.Progress(r.stats())
		}
	}
}

func (r *run) stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Stats{Done: r.done.Load(), Errors: r.errs.Load(), Elapsed: time.Since(r.start), LastErr: r.lastErr}
}

func (r *run) stopped() bool {
	select {
	case <-r.stop:
		return true
	default:
		return false
	}
}

// take claims the right to start one more iteration.
func (r *run) take() bool {
	if r.stopped() {
		return false
	}
	if r.o.Count <= 0 {
		return true
	}
	if r.started.Add(1) > r.o.Count {
		r.started.Add(-1)
		return false
	}
	return true
}

// work is the loop of one worker.
func (r *run) work(ctx context.Context, w Worker, fn Func) {
	for ctx.Err() == nil && r.take() {
		t0 := time.Now()
		err := fn(ctx, w)
		took := time.Since(t0)
		if !r.o.Drain && ctx.Err() != nil {
			return // cut off by the bound: not counted
		}
		if r.o.Observe != nil {
			r.o.Observe(w.ID, t0, took, err)
		}
		if err == nil {
			r.done.Add(1)
			continue
		}
		if r.o.Retry && r.o.Count > 0 {
			r.started.Add(-1)
		}
		r.errs.Add(1)
		r.mu.Lock()
		r.lastErr = err
		r.mu.Unlock()
		if r.o.Pause != nil {
			r.pause(ctx, r.o.Pause(w.ID))
		}
	}
}

// pause waits for d, or less when ctx ends or the bound is reached.
func (r *run) pause(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-r.stop:
	case <-t.C:
	}
}
