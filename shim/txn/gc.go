package txn

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/aft-shim/aft/shim/index"
	"github.com/aft-shim/aft/shim/record"
	"github.com/aft-shim/aft/shim/retry"
	"github.com/aft-shim/aft/shim/store"
)

// deleteChunk bounds the keys of one Delete call.
const deleteChunk = 1000

// collect drops superseded versions that no running transaction can read, from the index,
// the cache and the store.
func (m *Manager) collect() {
	if !m.holdsLease() {
		return // another node may run on the store: see lease
	}
	// The horizon is taken under m.mu, which Begin holds while noting its beginSeq: so a
	// transaction that begins after this point holds a beginSeq at or above the horizon.
	m.mu.Lock()
	horizon := m.idx.Seq() + 1
	for _, t := range m.running {
		horizon = min(horizon, t.beginSeq)
	}
	m.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.CommitTimeout)
	defer cancel()
	m.dropGarbage(ctx, m.idx.Collect(horizon))
}

// dropGarbage deletes what the index dropped. A keyed transaction's record is kept,
// compacted to its result, until ResultRetention; a keyless one's goes.
func (m *Manager) dropGarbage(ctx context.Context, g index.Garbage) {
	var keys []string
	for _, d := range g.Versions {
		if d.Tombstone {
			continue
		}
		k := record.VersionKey(d.Key, d.Version)
		m.cache.Remove(k)
		keys = append(keys, k)
	}
	for _, t := range g.Txns {
		if t.IdemKey == "" {
			keys = append(keys, record.RecordKey("", t.Version.Txn))
			continue
		}
		m.compact(ctx, record.RecordKey(t.IdemKey, t.Version.Txn))
	}
	m.deleteKeys(ctx, keys)
	m.metrics.gcVersions.Add(float64(len(g.Versions)))
	m.metrics.gcTxns.Add(float64(len(g.Txns)))
}

// compact rewrites a commit record without its write set, so that recovery no longer
// indexes it, keeping its result for duplicates of its idempotency key. A failure leaves the
// full record, which is harmless: recovery indexes it and collection drops it again.
func (m *Manager) compact(ctx context.Context, rkey string) {
	b, err := m.store.Get(ctx, rkey)
	if err != nil {
		return
	}
	rec, err := record.Unmarshal(b)
	if err != nil || rec.Compacted {
		return
	}
	rec.Compacted, rec.Writes = true, nil
	_ = m.store.Put(ctx, []store.Item{{Key: rkey, Value: rec.Marshal()}})
}

func (m *Manager) deleteKeys(ctx context.Context, keys []string) {
	for len(keys) > 0 {
		n := min(len(keys), deleteChunk)
		_ = m.store.Delete(ctx, keys[:n]) // missed keys: the sweep finds them
		keys = keys[n:]
	}
}

// expire aborts running transactions idle longer than IdleTimeout or older than
// MaxLifetime, and forgets the attempt counts of idempotency keys with no running attempt
// for twice IdleTimeout. A transaction in the middle of a call (a commit writing to the
// store, say) is left alone until the call ends: the next round aborts it.
func (m *Manager) expire() {
	now := m.cfg.Now()
	idleCut := now.Add(-m.cfg.IdleTimeout).UnixNano()
	lifeCut := now.Add(-m.cfg.MaxLifetime).UnixNano()
	var due []*txn
	m.mu.Lock()
	for _, t := range m.running {
		if t.lastUsed.Load() < idleCut || t.begun < lifeCut {
			due = append(due, t)
		}
	}
	m.forgetKeys(now.Add(-2 * m.cfg.IdleTimeout))
	m.mu.Unlock()
	for _, t := range due {
		if !t.mu.TryLock() {
			continue // in a call: not idle, and a commit in progress must finish
		}
		reason := "expired"
		if t.begun < lifeCut {
			reason = "lifetime"
		}
		if (t.lastUsed.Load() < idleCut || t.begun < lifeCut) && !time.Now().Before(t.settleBy) {
			ctx, cancel := context.WithTimeout(context.Background(), m.cfg.CommitTimeout)
			_ = m.abortLocked(ctx, t, reason)
			cancel()
		}
		t.mu.Unlock()
	}
}

// Sweep removes data versions that no commit record names and that are older than
// OrphanGrace (left by a crash between the data writes and the record, or by a collection
// cut short), and compacted results older than ResultRetention. It runs every
// SweepInterval; it is exported for tests and operators.
func (m *Manager) Sweep(ctx context.Context) error {
	if !m.holdsLease() {
		return errors.New("sweep skipped: the node's lease is not renewed or lost, so another node may run on the store")
	}
	now := m.cfg.Now()
	orphanCutoff := uint64(now.Add(-m.cfg.OrphanGrace).UnixNano())
	var orphans []string
	err := m.store.List(ctx, record.VersionPrefix, false, func(k string, _ []byte) error {
		v, err := record.ParseVersionKey(k)
		if err == nil && v.TS < orphanCutoff && !m.live(v.Txn) {
			orphans = append(orphans, k)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sweep data versions: %w", err)
	}
	resultCutoff := uint64(now.Add(-m.cfg.ResultRetention).UnixNano())
	var expired []string
	err = m.store.List(ctx, record.RecordPrefix, true, func(k string, b []byte) error {
		if rec, err := record.Unmarshal(b); err == nil && rec.Compacted && rec.Version.TS < resultCutoff {
			expired = append(expired, k)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sweep results: %w", err)
	}
	m.deleteKeys(ctx, orphans)
	m.deleteKeys(ctx, expired)
	m.metrics.orphans.Add(float64(len(orphans)))
	return nil
}

// live reports whether the data versions of transaction id may be named by a commit record
// here: it runs on this node (a commit may be landing, however old its version: a commit
// retried long after its first try writes the same version), or the index holds it.
//
// The order matters: a transaction leaves the running set only after a commit applied it to
// the index, so when it is not running here at the first check, a commit of it that happened
// is in the index at the second.
func (m *Manager) live(id string) bool {
	m.mu.Lock()
	running := m.running[id] != nil
	m.mu.Unlock()
	return running || m.idx.Has(id)
}

// recover rebuilds the index from the commit records in the store: every commit that was
// acknowledged is visible again, and nothing that was not.
func (m *Manager) recover(ctx context.Context) error {
	var recs []*record.Record
	err := m.retry.Do(ctx, "list commit records (recovery)", func(ctx context.Context) error {
		recs = recs[:0]
		return m.store.List(ctx, record.RecordPrefix, true, func(k string, b []byte) error {
			rec, err := record.Unmarshal(b)
			if err != nil {
				return retry.Permanent(fmt.Errorf("commit record %s: %w (the store holds damaged data; restore it from a backup or remove the record by hand)", k, err))
			}
			m.clock.observe(rec.Version.TS)
			if !rec.Compacted && len(rec.Writes) > 0 {
				recs = append(recs, rec)
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].Version.Less(recs[j].Version) })
	for _, rec := range recs {
		m.idx.Apply(rec)
		m.finished.add(rec.Version.Txn, finishedTxn{status: Committed, version: rec.Version})
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	m.dropGarbage(ctx, m.idx.Collect(m.idx.Seq()+1))
	return nil
}
