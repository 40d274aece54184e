package driver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/history"
)

// finalTries bounds the tries of Final, and finalOpTimeout each of its requests.
const (
	finalTries     = 5
	finalOpTimeout = 10 * time.Second
)

// Final runs one read-only transaction that reads every key written or deleted in rec's
// history, and records it marked Final, for history.Check to find lost commits. Run it
// after the load stopped. A try that fails on an error is given up and tried again, up to
// five times, so that a shim that has just restarted has time to come up; Final records
// only a try that read every key and committed.
func Final(ctx context.Context, c *client.Client, rec *history.Recorder) error {
	keys := WrittenKeys(rec.History())
	if len(keys) == 0 {
		return nil
	}
	var err error
	for try := range finalTries {
		if try > 0 && !sleep(ctx, 100*time.Millisecond<<try) {
			break
		}
		var t history.Txn
		if t, err = finalTxn(ctx, c, keys); err == nil {
			rec.Add(t)
			return nil
		}
	}
	return fmt.Errorf("final read: %w", err)
}

func finalTxn(ctx context.Context, c *client.Client, keys []string) (history.Txn, error) {
	call := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, finalOpTimeout) }
	cctx, cancel := call()
	bt, err := c.Begin(cctx, "")
	cancel()
	if err != nil {
		return history.Txn{}, err
	}
	t := history.Txn{ID: bt.ID, Final: true}
	abort := func() {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_, _ = c.Abort(actx, t.ID)
	}
	for _, k := range keys {
		op := history.Op{Kind: history.Read, Key: k, Start: time.Now()}
		cctx, cancel := call()
		v, err := c.Get(cctx, t.ID, k)
		cancel()
		op.End = time.Now()
		var ce *client.Error
		switch {
		case err == nil:
			op.Found, op.Value, op.Version = true, v.Bytes, v.Version
		case errors.As(err, &ce) && errors.Is(err, client.ErrKeyNotFound):
			op.Version = ce.Version
		default:
			abort()
			return history.Txn{}, err
		}
		t.Ops = append(t.Ops, op)
	}
	t.CommitStart = time.Now()
	cctx, cancel = call()
	ct, err := c.Commit(cctx, t.ID, nil)
	cancel()
	if err != nil {
		abort()
		return history.Txn{}, err
	}
	t.Outcome, t.Version = history.Committed, ct.Version
	return t, nil
}

// WrittenKeys returns, sorted, every key that a Write or Delete of h names.
func WrittenKeys(h []history.Txn) []string {
	seen := map[string]bool{}
	var keys []string
	for _, t := range h {
		for _, op := range t.Ops {
			if (op.Kind == history.Write || op.Kind == history.Delete) && !seen[op.Key] {
				seen[op.Key] = true
				keys = append(keys, op.Key)
			}
		}
	}
	slices.Sort(keys)
	return keys
}

// verifyWorkers is the number of idempotency keys VerifyIdemKeys asks about at once.
const verifyWorkers = 8

// maxMismatches bounds the mismatches VerifyIdemKeys describes in its error.
const maxMismatches = 20

// ErrIdemMismatch is wrapped by the error of VerifyIdemKeys when the shim's answer about an
// idempotency key contradicts the history.
var ErrIdemMismatch = errors.New("idempotency key answer contradicts the history")

// VerifyIdemKeys asks the shim, with a begin, for the winner of every idempotency key used
// in h (a history this package recorded), and checks the answer against what the clients
// saw: a key with a Committed attempt must answer that attempt, with the result it
// committed; a key whose attempts all Failed must start a new attempt (which is aborted at
// once); a key with attempts of Unknown outcome may answer either, but a winner must be one
// of those. It returns the number of keys checked, and an error wrapping ErrIdemMismatch
// that describes the first mismatches, or the error of a begin that got no answer.
func VerifyIdemKeys(ctx context.Context, c *client.Client, h []history.Txn) (int, error) {
	type attempts struct {
		committed, unknown []string
		version            map[string]string
	}
	byKey := map[string]*attempts{}
	var order []string
	for _, t := range h {
		if t.IdemKey == "" {
			continue
		}
		a := byKey[t.IdemKey]
		if a == nil {
			a = &attempts{version: map[string]string{}}
			byKey[t.IdemKey] = a
			order = append(order, t.IdemKey)
		}
		switch t.Outcome {
		case history.Committed:
			if !slices.Contains(a.committed, t.ID) {
				a.committed = append(a.committed, t.ID)
			}
			a.version[t.ID] = t.Version
		case history.Unknown:
			a.unknown = append(a.unknown, t.ID)
		}
	}

	var (
		mu         sync.Mutex
		mismatches []string
		nMismatch  int
		failures   []error
	)
	mismatch := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		nMismatch++
		if len(mismatches) < maxMismatches {
			mismatches = append(mismatches, fmt.Sprintf(format, args...))
		}
	}
	check := func(key string) {
		a := byKey[key]
		bctx, cancel := context.WithTimeout(ctx, finalOpTimeout)
		defer cancel()
		bt, err := c.Begin(bctx, key)
		if err != nil {
			mu.Lock()
			failures = append(failures, fmt.Errorf("key %s: %w", key, err))
			mu.Unlock()
			return
		}
		if bt.Status != "committed" {
			_, _ = c.Abort(bctx, bt.ID)
			if len(a.committed) > 0 {
				mismatch("key %s: begin started attempt %s (%s), but attempt %v committed", key, bt.ID, bt.Status, a.committed)
			}
			return
		}
		switch {
		case len(a.committed) > 0 && !slices.Contains(a.committed, bt.ID):
			mismatch("key %s: begin names winner %s, but attempt %v committed", key, bt.ID, a.committed)
		case len(a.committed) == 0 && !slices.Contains(a.unknown, bt.ID):
			mismatch("key %s: begin names winner %s, which no attempt of unknown outcome %v is", key, bt.ID, a.unknown)
		}
		if v := a.version[bt.ID]; v != "" && bt.Version != "" && v != bt.Version {
			mismatch("key %s: begin names winner %s at version %s, its commit answered %s", key, bt.ID, bt.Version, v)
		}
		if string(bt.Result) != resultOf(bt.ID) {
			mismatch("key %s: begin names winner %s with result %q, want %q", key, bt.ID, bt.Result, resultOf(bt.ID))
		}
	}

	keys := make(chan string)
	var wg sync.WaitGroup
	for range verifyWorkers {
		wg.Go(func() {
			for k := range keys {
				check(k)
			}
		})
	}
	n := 0
send:
	for _, k := range order {
		select {
		case keys <- k:
			n++
		case <-ctx.Done():
			break send
		}
	}
	close(keys)
	wg.Wait()

	var errs []error
	if nMismatch > 0 {
		errs = append(errs, fmt.Errorf("verify idempotency keys: %d of %d: %w:\n  %s", nMismatch, n,
			ErrIdemMismatch, strings.Join(mismatches, "\n  ")))
	}
	if len(failures) > 0 {
		errs = append(errs, fmt.Errorf("verify idempotency keys: %d begins failed, first: %w", len(failures), failures[0]))
	}
	if err := ctx.Err(); err != nil {
		errs = append(errs, fmt.Errorf("verify idempotency keys: %w", err))
	}
	return n, errors.Join(errs...)
}
