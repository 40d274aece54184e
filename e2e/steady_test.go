package e2e

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aft-shim/aft/client"
)

// steadyStats are the figures of a steady load's transactions.
type steadyStats struct {
	txns, errs int
	p50, p99   time.Duration
	d          time.Duration
}

func (s steadyStats) rate() float64 { return float64(s.txns) / s.d.Seconds() }

func (s steadyStats) String() string {
	return fmt.Sprintf("%.0f txn/s, p50 %v, p99 %v, %d errors", s.rate(), s.p50.Round(10*time.Microsecond), s.p99.Round(10*time.Microsecond), s.errs)
}

// steady runs workers loops of a well-behaved caller's transaction (begin, read, write,
// commit) on c until stop is closed, and returns their figures; the first error is logged.
func steady(ctx context.Context, t *testing.T, c *client.Client, workers int, stop <-chan struct{}) steadyStats {
	var mu sync.Mutex
	var lat []time.Duration
	errs := 0
	start := time.Now()
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("steady/%d", i)
			for {
				select {
				case <-stop:
					return
				default:
				}
				began := time.Now()
				err := steadyTxn(ctx, c, key)
				took := time.Since(began)
				mu.Lock()
				if err != nil {
					errs++
					if errs == 1 {
						t.Logf("a steady transaction's first error: %v", err)
					}
				} else {
					lat = append(lat, took)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	slices.Sort(lat)
	s := steadyStats{txns: len(lat), errs: errs, d: time.Since(start)}
	if len(lat) > 0 {
		s.p50, s.p99 = lat[len(lat)/2], lat[len(lat)*99/100]
	}
	return s
}

// steadyFor is steady for d.
func steadyFor(ctx context.Context, t *testing.T, c *client.Client, workers int, d time.Duration) steadyStats {
	stop := make(chan struct{})
	time.AfterFunc(d, func() { close(stop) })
	return steady(ctx, t, c, workers, stop)
}

// steadyTxn reads key, writes it and commits.
func steadyTxn(ctx context.Context, c *client.Client, key string) error {
	tx, err := c.Begin(ctx, "")
	if err != nil {
		return err
	}
	if _, err := c.Get(ctx, tx.ID, key); err != nil && !errors.Is(err, client.ErrKeyNotFound) {
		return err
	}
	if err := c.Put(ctx, tx.ID, key, []byte("steady")); err != nil {
		return err
	}
	_, err = c.Commit(ctx, tx.ID, nil)
	return err
}
