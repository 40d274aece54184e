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
// The first try fixes the commit version and freezes the write set: later writes get
// ErrCommitTried. When the store fails, Commit returns an error wrapping ErrStore and the
// transaction stays running: a failed write may still have landed, so a retried commit
// writes the same record again and, when it finds the record of an earlier try in the
// store, applies exactly that record. A retry later than half the orphan grace writes
// nothing: it settles the earlier try's outcome instead (see settle).
func (m *Manager) Commit(ctx context.Context, id string, result []byte) (Info, error) {
	if n := int64(len(result)); n > MaxResultSize {
		return Info{}, &LimitError{What: "result", Size: n, Limit: MaxResultSize}
	}
	t, err := m.lookup(id)
	if err != nil {
		return m.commitEnded(ctx, id, err)
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
	// A commit, once begun, runs to its end even when the caller goes away: a caller that
	// drops its connection must not turn a commit the store would take into an ambiguous one.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.cfg.CommitTimeout)
	defer cancel()
	if age, late := m.lateRetry(t); late {
		return m.settleLate(ctx, t, age)
	}

	v := t.version
	if v.IsZero() {
		v = ra.Version{TS: m.clock.next(), Txn: id}
	}
	rec, items := t.record(v, result), t.versions(v)
	b, err := m.marshalRecord(rec)
	if err != nil {
		return Info{}, err
	}
	if len(rec.Writes) == 0 && t.idemKey == "" {
		// Read-only, no result to keep: nothing to store. Its version says so (readOnly),
		// for a begin after it on another node, which cannot learn it from the store.
		t.version = readOnly(v)
		m.finish(t, Committed)
		m.metrics.committed.Inc()
		return Info{ID: id, Status: Committed, Attempt: t.attempt, Version: t.version}, nil
	}
	t.version = v // from here on the write set is frozen

	var stamp uint64
	if m.shared != nil {
		// The commit log's key, stamped now, just before the record's write: see shared.go.
		stamp = m.clock.next()
		items = append(items, store.Item{Key: record.LogKey(stamp, id, t.idemKey)})
		m.shared.tried(id, stamp)
	}
	landed, err := m.writeCommit(ctx, t, b, items)
	if err != nil {
		t.settleBy = time.Now().Add(m.cfg.SettleTime)
		return Info{}, fmt.Errorf("commit txn %s: %w: %w", id, ErrStore, err)
	}
	earlier := landed != nil && landed.Version.Txn == id
	if landed == nil {
		landed = rec
	} else if earlier {
		b = landed.Marshal() // an earlier try's record: what the store holds
	}
	info, err := m.conclude(ctx, t, landed, items)
	if err == nil && m.shared != nil {
		m.announce(ctx, id, t.idemKey, stamp, earlier)
		m.shared.done(id)
	}
	if err == nil {
		m.metrics.commitLatency.Observe(time.Since(start).Seconds())
		if push := m.push.Load(); push != nil && landed.Version.Txn == id {
			(*push)(b, stamp)
		}
	}
	return info, err
}

// commitEnded answers a commit of id, which lookup could not find running (lerr): the
// winner again for a fenced attempt, the status for one committed or forgotten here (the
// status may find its record in the store), else lerr.
func (m *Manager) commitEnded(ctx context.Context, id string, lerr error) (Info, error) {
	switch {
	case errors.Is(lerr, ErrFenced):
		if info, err := m.Status(ctx, id); err == nil && info.Winner != "" {
			return Info{ID: info.Winner, Status: Committed},
				fmt.Errorf("commit txn %s: %w (winner %s)", id, ErrFenced, info.Winner)
		}
	case errors.Is(lerr, ErrCommitted) || errors.Is(lerr, ErrTxnNotFound):
		info, err := m.Status(ctx, id)
		if err != nil {
			return Info{}, fmt.Errorf("commit: %w", err)
		}
		if info.Status == Committed {
			return info, nil
		}
	}
	return Info{}, fmt.Errorf("commit: %w", lerr)
}

// lateRetry reports whether t's commit was first tried more than half the orphan grace ago.
// The sweep removes data versions without a record once they are OrphanGrace old, so a
// record written from then on could name removed data: such a retry writes nothing and
// settles what the earlier tries did. t.mu is held.
func (m *Manager) lateRetry(t *txn) (time.Duration, bool) {
	if t.version.IsZero() {
		return 0, false
	}
	age := m.cfg.Now().Sub(time.Unix(0, int64(t.version.TS)))
	return age, age > m.cfg.OrphanGrace/2
}

// marshalRecord encodes rec, refusing one larger than the store's item limit. It is checked
// before anything is written. A record is the one conditional write that makes a commit
// happen, so it is never split: a commit whose record cannot fit in one store item is
// refused, and the caller may commit a smaller result or split the work into several
// transactions.
func (m *Manager) marshalRecord(rec *record.Record) ([]byte, error) {
	b := rec.Marshal()
	if m.recordLimit > 0 && len(b) > m.recordLimit {
		return nil, &LimitError{What: "commit_record", Size: int64(len(b)), Limit: int64(m.recordLimit)}
	}
	return b, nil
}

// writeCommit writes t's data versions items and then its encoded record b, created only
// if t's record key is free. It returns nil when the record was created, and the record
// that holds the key when it was taken: t's own from an earlier try, or another attempt's.
// An error means the outcome is unknown: the writes may still land. t.mu is held.
func (m *Manager) writeCommit(ctx context.Context, t *txn, b []byte, items []store.Item) (*record.Record, error) {
	rkey := record.RecordKey(t.idemKey, t.id)
	var err error
	if m.committer != nil {
		// Data versions and record in one atomic step: on ErrExists nothing was written.
		err = m.committer.PutCreate(ctx, items, rkey, b)
	} else {
		if len(items) > 0 {
			err = m.store.Put(ctx, items)
		}
		if err == nil {
			err = m.store.Create(ctx, rkey, b)
		}
	}
	if errors.Is(err, store.ErrExists) {
		return m.storedRecord(ctx, rkey)
	}
	return nil, err
}

// conclude ends t by landed, the record that holds t's record key: t's own is applied
// (exactly as the store holds it), another attempt's fences t. items are the data versions
// t wrote. t.mu is held.
func (m *Manager) conclude(ctx context.Context, t *txn, landed *record.Record, items []store.Item) (Info, error) {
	if landed.Version.Txn != t.id {
		return m.fence(ctx, t, landed, items)
	}
	m.applyLocked(t, landed, items)
	return Info{ID: t.id, Status: Committed, Attempt: t.attempt, Version: landed.Version}, nil
}

// record returns t's commit record at version v with result. t.mu is held.
func (t *txn) record(v ra.Version, result []byte) *record.Record {
	rec := &record.Record{Version: v, IdemKey: t.idemKey, Attempt: t.attempt, Result: result}
	for k, w := range t.writes {
		rec.Writes = append(rec.Writes, record.Write{Key: k, Tombstone: w.tombstone})
	}
	record.SortWrites(rec.Writes)
	// A read-only attempt with an idempotency key stores only its result: nothing to index,
	// and the sweep expires it after ResultRetention like any compacted record.
	rec.Compacted = len(rec.Writes) == 0
	return rec
}

// versions returns the data versions t's commit at version v writes: one per write that is
// not a delete. t.mu is held.
func (t *txn) versions(v ra.Version) []store.Item {
	items := make([]store.Item, 0, len(t.writes))
	for k, w := range t.writes {
		if !w.tombstone {
			items = append(items, store.Item{Key: record.VersionKey(k, v), Value: w.value})
		}
	}
	return items
}

// applyLocked makes t's landed commit record rec visible and finishes t committed; items
// are t's data versions, cached. t.mu is held.
func (m *Manager) applyLocked(t *txn, rec *record.Record, items []store.Item) {
	m.idx.Apply(rec)
	for _, it := range items {
		if it.Value != nil {
			m.cache.Add(it.Key, it.Value)
		}
	}
	m.finish(t, Committed)
	m.metrics.committed.Inc()
}

// fence finishes t, whose commit found winner's record under its idempotency key, as
// fenced, removing the data versions it wrote: no record of t can ever land, since the key's
// record is taken. t.mu is held.
func (m *Manager) fence(ctx context.Context, t *txn, winner *record.Record, items []store.Item) (Info, error) {
	m.adopt(winner)
	m.deleteVersions(ctx, items)
	t.winner = winner.Version.Txn
	m.finish(t, Fenced)
	m.metrics.fenced.Inc()
	return Info{ID: winner.Version.Txn, Status: Committed, Attempt: winner.Attempt, Result: winner.Result, Version: winner.Version},
		fmt.Errorf("commit txn %s: %w (winner %s)", t.id, ErrFenced, winner.Version.Txn)
}
