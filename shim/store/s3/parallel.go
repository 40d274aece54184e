package s3

import (
	"context"
	"fmt"
	"sync"
)

// forEach calls fn for 0..n-1 with at most parallel calls at a time, and returns the first
// error; after an error it starts no more calls and cancels the context of those running.
// op names the operation in the error of a context that ended before every call started.
func forEach(ctx context.Context, op string, n int, fn func(ctx context.Context, i int) error) error {
	if n == 1 {
		return fn(ctx, 0)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		wg      sync.WaitGroup
		once    sync.Once
		first   error
		started int
		sem     = make(chan struct{}, parallel)
	)
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		started++
		wg.Go(func() {
			defer func() { <-sem }()
			if err := fn(ctx, i); err != nil {
				once.Do(func() { first = err; cancel(err) })
			}
		})
	}
	wg.Wait()
	if first != nil {
		return first
	}
	if started < n {
		return fmt.Errorf("s3 %s: stopped after %d of %d: %w", op, started, n, context.Cause(ctx))
	}
	return nil
}
