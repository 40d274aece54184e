package loop

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var errOdd = errors.New("odd iteration")

func TestCount(t *testing.T) {
	for _, c := range []struct {
		name       string
		retry      bool
		wantDone   int64
		wantErrors int64
	}{
		{"failures count", false, 50, 50},
		{"failures retried", true, 100, 100},
	} {
		t.Run(c.name, func(t *testing.T) {
			var n atomic.Int64
			st, err := Run(context.Background(), Options{Workers: 4, Count: 100, Retry: c.retry}, func(context.Context, Worker) error {
				if n.Add(1)%2 == 1 {
					return errOdd
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if st.Done != c.wantDone || st.Errors != c.wantErrors {
				t.Errorf("done %d, errors %d; want %d, %d", st.Done, st.Errors, c.wantDone, c.wantErrors)
			}
			if !errors.Is(st.LastErr, errOdd) {
				t.Errorf("last error %v, want %v", st.LastErr, errOdd)
			}
		})
	}
}

func TestUnbounded(t *testing.T) {
	if _, err := Run(context.Background(), Options{}, nil); !errors.Is(err, ErrUnbounded) {
		t.Errorf("Run without a bound: %v, want %v", err, ErrUnbounded)
	}
}

// TestDurationCutsOrDrains checks that at the bound an iteration in flight is cancelled
// and not counted, or with Drain finishes and counts. Each worker must have begun its
// iteration before the bound: 1s is room for a slow machine.
func TestDurationCutsOrDrains(t *testing.T) {
	for _, drain := range []bool{false, true} {
		var observed atomic.Int64
		st, err := Run(context.Background(), Options{
			Workers: 2, Duration: time.Second, Drain: drain,
			Observe: func(int, time.Time, time.Duration, error) { observed.Add(1) },
		}, func(ctx context.Context, w Worker) error {
			if drain {
				<-w.Stop
				return nil
			}
			<-ctx.Done()
			return ctx.Err()
		})
		if err != nil {
			t.Fatal(err)
		}
		want := int64(0)
		if drain {
			want = 2
		}
		if st.Done != want || st.Errors != 0 || observed.Load() != want {
			t.Errorf("drain %v: done %d, errors %d, observed %d; want %d, 0, %d", drain, st.Done, st.Errors, observed.Load(), want, want)
		}
	}
}

// TestStopEndsPause checks that Stop ends the run and the pause after an error.
func TestStopEndsPause(t *testing.T) {
	stop := make(chan struct{})
	var progress atomic.Int64
	var stopOnce sync.Once
	var stoppedAt atomic.Pointer[time.Time]
	stopNow := func() {
		stopOnce.Do(func() {
			now := time.Now()
			stoppedAt.Store(&now)
			close(stop)
		})
	}
	// A hang guard: should the workers never all fail, the counts below tell.
	guard := time.AfterFunc(10*time.Second, stopNow)
	defer guard.Stop()
	st, err := Run(context.Background(), Options{
		Workers: 3, Stop: stop, Drain: true, Pause: func(int) time.Duration { return time.Hour },
		Progress: func(st Stats) {
			progress.Add(1)
			// Stop once a tick saw every worker fail, and so pause for an hour, however
			// slow the machine.
			if st.Errors == 3 {
				stopNow()
			}
		},
		ProgressEvery: 10 * time.Millisecond,
	}, func(context.Context, Worker) error { return errOdd })
	if err != nil {
		t.Fatal(err)
	}
	if at := stoppedAt.Load(); at == nil {
		t.Fatal("Run ended before the stop")
	} else if d := time.Since(*at); d > 10*time.Second {
		t.Errorf("Run took %v after the stop", d)
	}
	if st.Errors != 3 || st.Done != 0 {
		t.Errorf("done %d, errors %d; want 0, 3", st.Done, st.Errors)
	}
	if progress.Load() < 2 {
		t.Errorf("%d progress reports, want the ticks and a last one", progress.Load())
	}
}

// TestContextEnds checks that the end of the caller's context ends the run. The context
// ends after a few successes, not at a time a slow machine could reach first.
func TestContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var ok atomic.Int64
	st, err := Run(ctx, Options{Workers: 2, Count: 1 << 40, Drain: true}, func(ctx context.Context, _ Worker) error {
		if ok.Load() >= 3 {
			cancel()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
			ok.Add(1)
			return nil
		}
	})
	if err != nil || st.Done < 3 || st.Done != ok.Load() || ctx.Err() == nil {
		t.Errorf("Run: %v, %d done of %d; want them all, 3 or more, done before the context ended", err, st.Done, ok.Load())
	}
}
