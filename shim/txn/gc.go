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

// collect drops superseded versions, and deletes that are the last version of their key,
// that no running transaction can read, from the index, the cache and the store.
func (m *Manager) collect() {
	if !m.holdsLease() {
		return // another node may run on the store: see lease
	}
	m.gcMu.Lock()
	defer m.gcMu.Unlock()
	// The horizon is taken under m.mu, which Begin holds while noting its beginSeq: so a
	// transaction that begins after this point holds a beginSeq at or above the horizon.
	// Likewise settled: a commit not yet applied belongs to a running transaction, whose
	// version is newer than its beginTS; one that begins later gets a newer timestamp
	// than any version applied now. And no commit lands with a version older than the
	// orphan grace (the sweep would have removed its data): that bound holds for any
	// writer of the store, and keeps a delete, with its version, answering reads for that
	// long.
	settled := uint64(m.cfg.Now().Add(-m.cfg.OrphanGrace).UnixNano())
	if m.shared != nil {
		// Another node's commit is applied here up to Late after it landed.
		settled -= min(settled, m.shared.late)
	}
	m.mu.Lock()
	horizon := m.idx.Seq() + 1
	for _, t := range m.running {
		horizon = min(horizon, t.beginSeq)
		settled = min(settled, t.beginTS)
	}
	m.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.CommitTimeout)
	defer cancel()
	m.discard(ctx, m.idx.Collect(horizon, settled))
}

// discard removes garbage from the store: at once on a store only this node uses; on a
// shared one, batch by batch once every live node's horizon has passed the newest stamp
// applied here when the batch was collected (see shared.go). gcMu is held.
func (m *Manager) discard(ctx context.Context, g index.Garbage) {
	sh := m.shared
	if sh == nil {
		m.dropGarbage(ctx, g)
		return
	}
	_, own := m.progress()
	sh.mu.Lock()
	if len(g.Versions) > 0 || len(g.Txns) > 0 {
		sh.gcQueue = append(sh.gcQueue, gcBatch{until: sh.maxStamp, g: g})
		for _, t := range g.Txns {
			sh.gcTxns[t.Version.Txn]++
		}
	}
	global := min(sh.global, own)
	var due []gcBatch
	for len(sh.gcQueue) > 0 && sh.gcQueue[0].until <= global {
		due = append(due, sh.gcQueue[0])
		sh.gcQueue[0] = gcBatch{}
		sh.gcQueue = sh.gcQueue[1:]
	}
	sh.mu.Unlock()
	for _, b := range due {
		m.dropGarbage(ctx, b.g)
	}
	sh.mu.Lock()
	for _, b := range due {
		for _, t := range b.g.Txns {
			if sh.gcTxns[t.Version.Txn]--; sh.gcTxns[t.Version.Txn] <= 0 {
				delete(sh.gcTxns, t.Version.Txn)
			}
		}
	}
	sh.mu.Unlock()
}

// gcBacklog returns the batches of garbage waiting for the other nodes.
func (m *Manager) gcBacklog() int {
	if m.shared == nil {
		return 0
	}
	m.shared.mu.Lock()
	defer m.shared.mu.Unlock()
	return len(m.shared.gcQueue)
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
// cut short), and the results of idempotency keys committed more than ResultRetention ago:
// a compacted record goes, a full one is released (see release). After that the key is new
// again. It runs every SweepInterval; it is exported for tests and operators.
func (m *Manager) Sweep(ctx context.Context) error {
	if !m.holdsLease() {
		return errors.New("sweep skipped: the node's lease is not renewed or lost, so another node may run on the store")
	}
	if !m.leads() {
		return nil // another node sweeps the shared store
	}
	now := m.cfg.Now()
	orphanCutoff := uint64(now.Add(-m.cfg.OrphanGrace).UnixNano())
	if m.shared != nil {
		// A commit lands at most half the grace after its version (later retries write
		// nothing) plus Late: applied here by the time settled passed that.
		settled, _ := m.progress()
		orphanCutoff = min(orphanCutoff, settled-min(settled, uint64(m.cfg.OrphanGrace)))
	}
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
	var release []*record.Record
	err = m.store.List(ctx, record.RecordPrefix, true, func(k string, b []byte) error {
		rec, err := record.Unmarshal(b)
		switch {
		case err != nil || rec.Version.TS >= resultCutoff:
		case rec.Compacted:
			expired = append(expired, k)
		case rec.IdemKey != "":
			rec.Result = nil
			release = append(release, rec)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sweep results: %w", err)
	}
	m.deleteKeys(ctx, orphans)
	m.deleteKeys(ctx, expired)
	m.metrics.orphans.Add(float64(len(orphans)))
	var errs []error
	for _, rec := range release {
		errs = append(errs, m.release(ctx, rec))
	}
	return errors.Join(errs...)
}

// release ends the retention of a keyed commit record whose writes are still newest (so
// that collection never compacted it): its result goes and its idempotency key is new
// again, while its write set stays, for recovery, under the transaction's keyless name.
// The keyless record is written first and the keyed one deleted after; recovery takes the
// keyless one when a crash left both. Collection does not run meanwhile (gcMu), so the
// index's IdemKey names the record collection must remove.
func (m *Manager) release(ctx context.Context, rec *record.Record) error {
	m.gcMu.Lock()
	defer m.gcMu.Unlock()
	id := rec.Version.Txn
	m.mu.Lock()
	running := m.running[id] != nil
	m.mu.Unlock()
	if running {
		// A commit try of it landed but this node does not know yet: settling the commit
		// applies the record, and a later sweep releases it.
		return nil
	}
	if m.idx.Has(id) {
		keyless := *rec
		keyless.IdemKey, keyless.Result = "", nil
		err := m.store.Put(ctx, []store.Item{{Key: record.RecordKey("", id), Value: keyless.Marshal()}})
		if err != nil {
			return fmt.Errorf("sweep: release expired result of idempotency key %q (txn %s): %w", rec.IdemKey, id, err)
		}
		m.idx.DropIdemKey(id)
	}
	// Else collection dropped the transaction since the listing: the record is compacted, or
	// its data is gone. Either way it has expired.
	if err := m.store.Delete(ctx, []string{record.RecordKey(rec.IdemKey, id)}); err != nil {
		return fmt.Errorf("sweep: delete expired record of idempotency key %q (txn %s): %w", rec.IdemKey, id, err)
	}
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
	return running || m.idx.Has(id) || m.waitsForGC(id)
}

// waitsForGC reports whether transaction id left the index in garbage that waits for the
// other nodes: its data is still theirs to read.
func (m *Manager) waitsForGC(id string) bool {
	if m.shared == nil {
		return false
	}
	m.shared.mu.Lock()
	defer m.shared.mu.Unlock()
	return m.shared.gcTxns[id] > 0
}

// recover rebuilds the index from the commit records in the store: every commit that was
// acknowledged is visible again, and nothing that was not. It keeps of each record only
// what the index needs: not its result.
func (m *Manager) recover(ctx context.Context) error {
	var recs []*record.Record
	var ids []string // of every record, compacted ones too: see shared.recovered
	err := m.retry.Do(ctx, "list commit records (recovery)", func(ctx context.Context) error {
		recs, ids = recs[:0], ids[:0]
		return m.store.List(ctx, record.RecordPrefix, true, func(k string, b []byte) error {
			rec, err := record.Unmarshal(b)
			if err != nil {
				return retry.Permanent(fmt.Errorf("commit record %s: %w (the store holds damaged data; restore it from a backup or remove the record by hand)", k, err))
			}
			m.clock.observe(rec.Version.TS)
			ids = append(ids, rec.Version.Txn)
			if !rec.Compacted && len(rec.Writes) > 0 {
				rec.Result = nil
				recs = append(recs, rec)
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	sort.Slice(recs, func(i, j int) bool {
		if c := recs[i].Version.Compare(recs[j].Version); c != 0 {
			return c < 0
		}
		return recs[i].IdemKey < recs[j].IdemKey // keyless first
	})
	var stale []string
	for i, rec := range recs {
		if i > 0 && recs[i-1].Version == rec.Version {
			// A record under both names: the sweep released it (see release) and stopped
			// before deleting the keyed one, whose result has expired.
			stale = append(stale, record.RecordKey(rec.IdemKey, rec.Version.Txn))
			continue
		}
		m.idx.Apply(rec)
		m.finished.add(rec.Version.Txn, finishedTxn{status: Committed, version: rec.Version})
	}
	if m.shared != nil {
		m.shared.recovered(ids, m.clock.next())
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	m.deleteKeys(ctx, stale)
	settled := uint64(m.cfg.Now().Add(-m.cfg.OrphanGrace).UnixNano())
	if m.shared != nil {
		settled -= min(settled, m.shared.late)
	}
	m.gcMu.Lock()
	m.discard(ctx, m.idx.Collect(m.idx.Seq()+1, settled))
	m.gcMu.Unlock()
	return nil
}
