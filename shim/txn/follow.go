package txn

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aft-shim/aft/shim/record"
	"github.com/aft-shim/aft/shim/store"
)

// Following the commit log of a shared store (see shared.go).

// logPage is the most log keys one ListAfter call returns.
const logPage = 1000

// fetchParallel is the most records one poll reads at once.
const fetchParallel = 16

// follow reads the commit log once: it settles the log keys that can no longer be landing
// (stamps up to now less Late), reads the newest ones, and looks again for the records of
// log keys that were missing. It applies every commit it finds.
func (m *Manager) follow(ctx context.Context) error {
	sh := m.shared
	now := uint64(m.cfg.Now().UnixNano())
	sh.mu.Lock()
	settled, seen := sh.settled, sh.seen
	sh.mu.Unlock()

	// Settle: every log key with a stamp in (settled, target] has landed by now, or never
	// will, so a record missing now is final.
	if target := now - min(now, sh.late); target > settled {
		entries, _, err := m.readLog(ctx, settled+1, target)
		if err != nil {
			return err
		}
		if err := m.resolve(ctx, entries, true); err != nil {
			return err
		}
		sh.mu.Lock()
		sh.settled = target
		for id, until := range sh.applied {
			if until&^doneBit <= target {
				delete(sh.applied, id)
			}
		}
		for id, e := range sh.pending {
			if e.Stamp <= target {
				delete(sh.pending, id)
			}
		}
		sh.mu.Unlock()
		settled = target
	}

	// The newest: from a little before the newest stamp read, since keys land a little out
	// of stamp order, to the end of the log.
	from := max(settled, seen-min(seen, sh.overlap)) + 1
	entries, newest, err := m.readLog(ctx, from, 0)
	if err != nil {
		return err
	}
	sh.mu.Lock()
	seen = max(sh.seen, newest)
	sh.seen = seen
	for _, e := range sh.pending {
		entries = append(entries, e)
	}
	sh.mu.Unlock()
	m.clock.observe(seen) // this node's next stamps are newer than every one read: see Overlap
	return m.resolve(ctx, entries, false)
}

// readLog returns the log keys with stamps in [from, to] (to 0: no end) that name a commit
// not applied here, in stamp order, and the newest stamp it read.
func (m *Manager) readLog(ctx context.Context, from, to uint64) (out []record.LogEntry, newest uint64, err error) {
	sh := m.shared
	last := to
	if last == 0 {
		last = max(uint64(m.cfg.Now().UnixNano()), sh.seenNow()) + uint64(MaxClockSkew)
	}
	for sec := from / 1e9; sec <= last/1e9; sec++ {
		dir := record.LogDir(sec * 1e9)
		after := ""
		if sec == from/1e9 {
			after = record.LogAfter(from)
		}
		for {
			n, done := 0, false
			err := sh.log.ListAfter(ctx, dir, after, logPage, func(k string) error {
				n++
				after = k
				e, err := record.ParseLogKey(k)
				if err != nil {
					return nil // not a log key of this shim's: leave it
				}
				if to != 0 && e.Stamp > to {
					done = true
					return errStopList
				}
				newest = max(newest, e.Stamp)
				if !sh.knows(e.Txn) {
					out = append(out, e)
				}
				return nil
			})
			if err != nil && !errors.Is(err, errStopList) {
				return nil, 0, fmt.Errorf("read the commit log %s: %w", dir, err)
			}
			if done || n < logPage {
				break
			}
		}
	}
	return out, newest, nil
}

var errStopList = errors.New("stop listing")

func (sh *shared) seenNow() uint64 {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.seen
}

// knows reports whether the commit id was applied or ruled out here.
func (sh *shared) knows(id string) bool {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	_, ok := sh.applied[id]
	return ok
}

// resolve reads the records that entries name and applies those that hold the same
// transaction. A record that is missing is final when final is true (its log key is older
// than Late); otherwise the entry waits in pending for the next poll.
func (m *Manager) resolve(ctx context.Context, entries []record.LogEntry, final bool) error {
	sh := m.shared
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, fetchParallel)
	)
	for _, e := range entries {
		if sh.knows(e.Txn) {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			b, err := m.store.Get(ctx, e.RecordKey)
			var rec *record.Record
			if err == nil {
				rec, err = record.Unmarshal(b)
			}
			switch {
			case errors.Is(err, store.ErrNotFound) && final:
				sh.take(e.Txn, e.Stamp) // the try never landed (or was collected long ago)
			case errors.Is(err, store.ErrNotFound):
				sh.mu.Lock()
				sh.pending[e.Txn] = e
				sh.mu.Unlock()
			case err != nil:
				mu.Lock()
				errs = append(errs, fmt.Errorf("read commit record %s: %w", e.RecordKey, err))
				mu.Unlock()
			case rec.Version.Txn != e.Txn:
				sh.take(e.Txn, e.Stamp) // another attempt of its idempotency key won
			default:
				m.learn(rec, e.Stamp, "store")
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// followLoop follows the log every SyncInterval, and at once when kicked.
func (m *Manager) followLoop(kick <-chan struct{}) {
	defer m.wg.Done()
	t := time.NewTicker(m.cfg.SyncInterval)
	defer t.Stop()
	var failing time.Time
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
		case <-kick:
		}
		sh := m.shared
		sh.mu.Lock()
		sh.polls++
		poll := sh.polls
		sh.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), max(m.cfg.SyncInterval*10, 5*time.Second))
		err := m.follow(ctx)
		cancel()
		switch {
		case err == nil:
			failing = time.Time{}
			sh.mu.Lock()
			sh.polled = poll
			sh.mu.Unlock()
			sh.signal()
		case failing.IsZero() || time.Since(failing) > 10*time.Second:
			failing = time.Now()
			m.cfg.Log.Warn("could not read the commit log; other nodes' commits wait until it can", "err", err)
		}
	}
}
