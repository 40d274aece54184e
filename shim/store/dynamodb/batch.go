package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

// batchParallel is the most BatchWriteItem calls of one Put or Delete in flight at once.
const batchParallel = 4

// maxStalls is how many rounds in a row a batch may make no progress (all of it
// unprocessed, or throttled past the SDK's retries) before batchWrite gives up.
const maxStalls = 15

// transient are the error codes batchWrite retries itself once the SDK's retries are
// spent: throttling and transaction conflicts pass with time.
var transient = map[string]bool{
	"ProvisionedThroughputExceededException": true,
	"ThrottlingException":                    true,
	"RequestLimitExceeded":                   true,
	"TransactionConflictException":           true,
}

// isTransient reports whether err is a throttling or conflict answer of DynamoDB.
func isTransient(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && transient[ae.ErrorCode()]
}

// batchWrite applies reqs, which name each key once, in BatchWriteItem calls of at most
// maxBatch requests, batchParallel of them at a time. On an error the calls not yet made
// are not made, and the error of the first failing call is returned.
func (s *Store) batchWrite(ctx context.Context, reqs []types.WriteRequest) error {
	if len(reqs) <= maxBatch {
		return s.writeChunk(ctx, reqs)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		sem      = make(chan struct{}, batchParallel)
		mu       sync.Mutex
		firstErr error
	)
	for start := 0; start < len(reqs); start += maxBatch {
		chunk := reqs[start:min(start+maxBatch, len(reqs))]
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := s.writeChunk(ctx, chunk); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
					cancel()
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		// The caller's context ended (ours is only cancelled with firstErr set).
		firstErr = ctx.Err()
	}
	return firstErr
}

// writeChunk applies up to maxBatch requests, retrying with backoff what DynamoDB leaves
// unprocessed or throttles, until all of it is done, the context ends, or maxStalls rounds
// in a row made no progress.
func (s *Store) writeChunk(ctx context.Context, reqs []types.WriteRequest) error {
	stalls := 0
	for {
		out, err := s.c.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
			RequestItems: map[string][]types.WriteRequest{s.table: reqs},
		})
		var left []types.WriteRequest
		switch {
		case err == nil:
			left = out.UnprocessedItems[s.table]
		case isTransient(err) && ctx.Err() == nil:
			left = reqs
		default:
			return fmt.Errorf("batch of %d: %w", len(reqs), callErr(ctx, err))
		}
		if len(left) == 0 {
			return nil
		}
		if len(left) < len(reqs) {
			stalls = 0
		} else if stalls++; stalls >= maxStalls {
			if err == nil {
				err = errors.New("unprocessed")
			}
			return fmt.Errorf("batch of %d: no progress in %d tries: %w", len(reqs), maxStalls, err)
		}
		reqs = left
		if err := sleep(ctx, backoff(min(stalls+1, 8))); err != nil {
			return fmt.Errorf("batch of %d: %d unprocessed: %w", len(reqs), len(left), err)
		}
	}
}
