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
	// A commit, once begun, runs to its end even when the caller goes away: a caller that
	// drops its connection must not turn a commit the store would take into an ambiguous one.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.cfg.CommitTimeout)
	defer cancel()

	if !t.version.IsZero() {
		if age := m.cfg.Now().Sub(time.Unix(0, int64(t.version.TS))); age > m.cfg.OrphanGrace/2 {
			// The sweep removes data versions without a record once they are OrphanGrace old,
			// so a record written from now on could name removed data: write nothing, and
			// answer what the earlier tries did.
			return m.settleLate(ctx, t, age)
		}
	}
	v := t.version
	if v.IsZero() {
		v = ra.Version{TS: m.clock.next(), Txn: id}
	}
	rec, items := t.record(v, result)
	b := rec.Marshal()
	if m.recordLimit > 0 && len(b) > m.recordLimit {
		// Checked before anything is written. A record is the one conditional write that
		// makes a commit happen, so it is never split: a commit whose record cannot fit in
		// one store item is refused, and the caller may commit a smaller result or split
		// the work into several transactions.
		return Info{}, &LimitError{What: "commit_record", Size: int64(len(b)), Limit: int64(m.recordLimit)}
	}
	info := Info{ID: id, Status: Committed, Attempt: t.attempt, Version: v}
	if len(rec.Writes) == 0 && t.idemKey == "" {
		m.finish(t, Committed) // read-only, no result to keep: nothing to store
		m.metrics.committed.Inc()
		return info, nil
	}
	t.version = v // from here on the write set is frozen

	rkey := record.RecordKey(t.idemKey, id)
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
		var stored *record.Record
		if stored, err = m.storedRecord(ctx, rkey); err == nil {
			if stored.Version.Txn != id {
				return m.fence(ctx, t, stored, items)
			}
			rec = stored // our own record, from an earlier try: exactly what the store holds
		}
	}
	if err != nil {
		t.settleBy = time.Now().Add(m.cfg.SettleTime)
		return Info{}, fmt.Errorf("commit txn %s: %w: %w", id, ErrStore, err)
	}
	m.applyLocked(t, rec, items)
	m.metrics.commitLatency.Observe(time.Since(start).Seconds())
	return info, nil
}

// record returns t's commit record at version v with result, and the data versions it
// names. t.mu is held.
func (t *txn) record(v ra.Version, result []byte) (*record.Record, []store.Item) {
	rec := &record.Record{Version: v, IdemKey: t.idemKey, Attempt: t.attempt, Result: result}
	items := make([]store.Item, 0, len(t.writes))
	for k, w := range t.writes {
		rec.Writes = append(rec.Writes, record.Write{Key: k, Tombstone: w.tombstone})
		if !w.tombstone {
			items = append(items, store.Item{Key: record.VersionKey(k, v), Value: w.value})
		}
	}
	record.SortWrites(rec.Writes)
	// A read-only attempt with an idempotency key stores only its result: nothing to index,
	// and the sweep expires it after ResultRetention like any compacted record.
	rec.Compacted = len(rec.Writes) == 0
	return rec, items
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
	return Info{ID: winner.Version.Txn, Status: Committed, Attempt: winner.Attempt, Result: winner.Result},
		fmt.Errorf("commit txn %s: %w (winner %s)", t.id, ErrFenced, winner.Version.Txn)
}

// settleLate answers a commit retried after half the orphan grace: committed when an earlier
// try's record landed, fenced when another attempt's did, else aborted. t.mu is held.
func (m *Manager) settleLate(ctx context.Context, t *txn, age time.Duration) (Info, error) {
	rec, items, err := m.settle(ctx, t)
	if err != nil {
		return Info{}, fmt.Errorf("commit txn %s: %w", t.id, err)
	}
	switch {
	case rec == nil:
		m.deleteVersions(ctx, items)
		m.finish(t, Aborted)
		m.metrics.aborted.WithLabelValues("error").Inc()
		return Info{}, fmt.Errorf("commit txn %s: commit started %v ago, past half the orphan grace, and no earlier try landed: %w",
			t.id, age.Round(time.Second), ErrAborted)
	case rec.Version.Txn != t.id:
		return m.fence(ctx, t, rec, items)
	}
	m.applyLocked(t, rec, nil)
	return Info{ID: t.id, Status: Committed, Attempt: t.attempt, Version: t.version}, nil
}

// settle finds out what became of t's earlier commit tries, which failed in the store: it
// returns the record that holds t's record key (t's own when a try landed, another
// attempt's when that one won), or nil when no try landed, together with the data versions
// t's tries may have written. t.mu is held and t.version is fixed.
//
// A record found is final at once (nothing removes a record while a transaction runs).
// Why nil is final: a store write that returned an error may still land, but only until
// SettleTime after it returned (see Config.SettleTime), and settle reads the store again
// after that before it answers nil. A record that is not there after that never will be, so the
// caller may remove the data versions: no landed record can name them. (An abort that did
// not wait could race a record write still in flight and remove the data it names.)
func (m *Manager) settle(ctx context.Context, t *txn) (*record.Record, []store.Item, error) {
	_, items := t.record(t.version, nil)
	rkey := record.RecordKey(t.idemKey, t.id)
	rec, err := m.storedRecord(ctx, rkey)
	if err == nil || !errors.Is(err, store.ErrNotFound) || !time.Now().Before(t.settleBy) {
		return m.settled(rec, items, err)
	}
	// Not there yet: it may still land.
	if wait := time.Until(t.settleBy); wait > 0 {
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return nil, nil, fmt.Errorf("wait for an earlier commit try to settle: %w: %w", ErrStore, ctx.Err())
		}
	}
	rec, err = m.storedRecord(ctx, rkey)
	return m.settled(rec, items, err)
}

// settled is settle's answer once the store was read after the settle time.
func (m *Manager) settled(rec *record.Record, items []store.Item, err error) (*record.Record, []store.Item, error) {
	if errors.Is(err, store.ErrNotFound) {
		return nil, items, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("look up the record of an earlier commit try: %w", err)
	}
	return rec, items, nil
}

// storedRecord reads and decodes the record at rkey. A missing record is an error wrapping
// store.ErrNotFound; any other failure wraps ErrStore.
func (m *Manager) storedRecord(ctx context.Context, rkey string) (*record.Record, error) {
	b, err := m.store.Get(ctx, rkey)
	if errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("read commit record %s: %w: %w", rkey, ErrStore, err)
	}
	rec, err := record.Unmarshal(b)
	if err != nil {
		return nil, fmt.Errorf("commit record %s: %w: %w", rkey, ErrStore, err)
	}
	return rec, nil
}

// adopt applies rec, a commit record found in the store, when its transaction is still
// running on this node: a commit try of it failed in the store but in fact landed, and until
// now nothing here knew. Any other record is known already (applied at commit or at
// recovery, perhaps collected since): applying it again could resurrect collected versions.
func (m *Manager) adopt(rec *record.Record) {
	m.mu.Lock()
	t := m.running[rec.Version.Txn]
	m.mu.Unlock()
	if t == nil || !t.mu.TryLock() {
		// Not running here, or busy: a transaction busy in a commit or an abort settles its
		// outcome itself.
		if t != nil {
			m.idx.Apply(rec) // visible now all the same; Apply is idempotent
		}
		return
	}
	defer t.mu.Unlock()
	if t.status == Running && t.version == rec.Version {
		m.applyLocked(t, rec, nil)
	}
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

// abortLocked aborts t, whose mu is held. When a commit of t was tried, it first settles
// that try's outcome: a landed record makes t committed (ErrCommitted), not aborted.
func (m *Manager) abortLocked(ctx context.Context, t *txn, reason string) error {
	switch t.status {
	case Aborted:
		return nil
	case Running:
	default:
		return statusErr(t.status)
	}
	if !t.version.IsZero() {
		rec, items, err := m.settle(ctx, t)
		if err != nil {
			return err
		}
		if rec != nil && rec.Version.Txn == t.id {
			m.applyLocked(t, rec, nil)
			return ErrCommitted
		}
		if rec != nil {
			m.adopt(rec) // another attempt's record: visible here now if it was not
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
