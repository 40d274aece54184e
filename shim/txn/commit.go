package txn

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aft-shim/aft/shim/ra"
	"github.com/aft-shim/aft/shim/record"
	"github.com/aft-shim/aft/shim/store"
)

// Commit makes every write of transaction id durable and then visible at once, storing
// result with it. Data versions are written first, then one commit record, created only
// if its idempotency key has none: the first attempt of a key to create it wins, and a
// later one is fenced. Committing a committed transaction again returns the same answer.
//
// When the store fails, Commit returns an error wrapping ErrStore and the transaction
// stays running with its commit version fixed: commit may be tried again (and finds the
// record if the failed attempt had in fact written it), or the transaction aborted.
func (m *Manager) Commit(ctx context.Context, id string, result []byte) (Info, error) {
	if n := int64(len(result)); n > MaxResultSize {
		return Info{}, &LimitError{What: "result", Size: n, Limit: MaxResultSize}
	}
	t, err := m.lookup(id)
	if errors.Is(err, ErrFenced) {
		// Fenced before: answer with the winner again, when it is known.
		if info, serr := m.Status(ctx, id); serr == nil && info.Winner != "" {
			return Info{ID: info.Winner, Status: Committed},
				fmt.Errorf("commit txn %s: %w (winner %s)", id, ErrFenced, info.Winner)
		}
	}
	if errors.Is(err, ErrCommitted) || errors.Is(err, ErrTxnNotFound) {
		// Committed before, or forgotten: the status (which may find the record) answers.
		info, serr := m.Status(ctx, id)
		if serr == nil && info.Status == Committed {
			return info, nil
		}
		if serr != nil {
			return Info{}, fmt.Errorf("commit: %w", serr)
		}
	}
	if err != nil {
		return Info{}, fmt.Errorf("commit: %w", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch t.status {
	case Committed:
		return Info{ID: id, Status: Committed, Attempt: t.attempt, Version: t.version}, nil
	case Running:
	default:
		return Info{}, fmt.Errorf("commit txn %s: %w", id, statusErr(t.status))
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, m.cfg.CommitTimeout)
	defer cancel()

	if t.version.IsZero() {
		t.version = ra.Version{TS: m.clock.next(), Txn: id}
	}
	rec := &record.Record{Version: t.version, IdemKey: t.idemKey, Attempt: t.attempt, Result: result}
	items := make([]store.Item, 0, len(t.writes))
	for k, w := range t.writes {
		rec.Writes = append(rec.Writes, record.Write{Key: k, Tombstone: w.tombstone})
		if !w.tombstone {
			items = append(items, store.Item{Key: record.VersionKey(k, t.version), Value: w.value})
		}
	}
	record.SortWrites(rec.Writes)
	// A read-only attempt with an idempotency key stores only its result: nothing to index,
	// and the sweep expires it after ResultRetention like any compacted record.
	rec.Compacted = len(rec.Writes) == 0
	info := Info{ID: id, Status: Committed, Attempt: t.attempt, Version: t.version}
	if len(rec.Writes) == 0 && t.idemKey == "" {
		m.finish(t, Committed) // read-only, no result to keep: nothing to store
		m.metrics.committed.Inc()
		return info, nil
	}

	rkey := record.RecordKey(t.idemKey, id)
	if m.committer != nil {
		// Data versions and record in one atomic step: on ErrExists nothing was written.
		err = m.committer.PutCreate(ctx, items, rkey, rec.Marshal())
	} else {
		if len(items) > 0 {
			if err := m.store.Put(ctx, items); err != nil {
				return Info{}, fmt.Errorf("commit txn %s: write data versions: %w: %w", id, ErrStore, err)
			}
		}
		// The sweep removes data versions without a record once they are OrphanGrace old; a
		// record written after that would point at removed data.
		if age := m.cfg.Now().Sub(time.Unix(0, int64(t.version.TS))); age > m.cfg.OrphanGrace/2 {
			m.deleteVersions(ctx, items)
			m.finish(t, Aborted)
			m.metrics.aborted.WithLabelValues("error").Inc()
			return Info{}, fmt.Errorf("commit txn %s: commit started %v ago, past half the orphan grace: %w", id, age.Round(time.Second), ErrAborted)
		}
		err = m.store.Create(ctx, rkey, rec.Marshal())
	}
	if errors.Is(err, store.ErrExists) {
		var winner *record.Record
		if b, gerr := m.store.Get(ctx, rkey); gerr != nil {
			err = gerr
		} else if winner, err = record.Unmarshal(b); err == nil && winner.Version.Txn != id {
			m.deleteVersions(ctx, items)
			t.winner = winner.Version.Txn
			m.finish(t, Fenced)
			m.metrics.fenced.Inc()
			return Info{ID: winner.Version.Txn, Status: Committed, Attempt: winner.Attempt, Result: winner.Result},
				fmt.Errorf("commit txn %s: %w (winner %s)", id, ErrFenced, winner.Version.Txn)
		}
		// else: our own record, written by an earlier try of this commit.
	}
	if err != nil {
		return Info{}, fmt.Errorf("commit txn %s: write commit record: %w: %w", id, ErrStore, err)
	}
	m.idx.Apply(rec)
	for _, it := range items {
		m.cache.Add(it.Key, it.Value)
	}
	m.finish(t, Committed)
	m.metrics.committed.Inc()
	m.metrics.commitLatency.Observe(time.Since(start).Seconds())
	return info, nil
}

// Abort ends transaction id without committing it. Aborting an aborted transaction again
// returns the same answer; a committed one gets ErrCommitted.
func (m *Manager) Abort(ctx context.Context, id string) (Info, error) {
	t, err := m.lookup(id)
	if errors.Is(err, ErrAborted) {
		return Info{ID: id, Status: Aborted}, nil
	}
	if err != nil {
		return Info{}, fmt.Errorf("abort: %w", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := m.abortLocked(ctx, t, "client"); err != nil {
		return Info{}, fmt.Errorf("abort txn %s: %w", id, err)
	}
	return Info{ID: id, Status: Aborted, Attempt: t.attempt}, nil
}

// abortLocked aborts t, whose mu is held.
func (m *Manager) abortLocked(ctx context.Context, t *txn, reason string) error {
	switch t.status {
	case Aborted:
		return nil
	case Running:
	default:
		return statusErr(t.status)
	}
	if !t.version.IsZero() {
		// A commit was tried and failed in the store: find out whether its record landed.
		rkey := record.RecordKey(t.idemKey, t.id)
		b, err := m.store.Get(ctx, rkey)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return fmt.Errorf("look up commit record of an earlier commit try: %w: %w", ErrStore, err)
		default:
			rec, err := record.Unmarshal(b)
			if err != nil {
				return fmt.Errorf("commit record %s: %w: %w", rkey, ErrStore, err)
			}
			if rec.Version.Txn == t.id {
				m.idx.Apply(rec)
				m.finish(t, Committed)
				m.metrics.committed.Inc()
				return ErrCommitted
			}
		}
		var items []store.Item
		for k, w := range t.writes {
			if !w.tombstone {
				items = append(items, store.Item{Key: record.VersionKey(k, t.version)})
			}
		}
		m.deleteVersions(ctx, items)
	}
	m.finish(t, Aborted)
	m.metrics.aborted.WithLabelValues(reason).Inc()
	return nil
}

// deleteVersions removes the data versions of a commit that did not happen. It is best
// effort: what it misses, the sweep removes once it is OrphanGrace old.
func (m *Manager) deleteVersions(ctx context.Context, items []store.Item) {
	if len(items) == 0 {
		return
	}
	keys := make([]string, len(items))
	for i, it := range items {
		keys[i] = it.Key
	}
	_ = m.store.Delete(ctx, keys)
}
