package txn

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aft-shim/aft/shim/record"
	"github.com/aft-shim/aft/shim/store"
)

// settleLate answers a commit retried after half the orphan grace: committed when an earlier
// try's record landed, fenced when another attempt's did, else aborted. t.mu is held.
func (m *Manager) settleLate(ctx context.Context, t *txn, age time.Duration) (Info, error) {
	landed, err := m.settle(ctx, t)
	if err != nil {
		return Info{}, fmt.Errorf("commit txn %s: %w", t.id, err)
	}
	if landed == nil {
		m.deleteVersions(ctx, t.versions(t.version))
		m.finish(t, Aborted)
		m.metrics.aborted.WithLabelValues("error").Inc()
		return Info{}, fmt.Errorf("commit txn %s: commit started %v ago, past half the orphan grace, and no earlier try landed: %w",
			t.id, age.Round(time.Second), ErrAborted)
	}
	return m.conclude(ctx, t, landed, t.versions(t.version))
}

// settle finds out what became of t's earlier commit tries, which failed in the store: it
// returns the record that holds t's record key (t's own when a try landed, another
// attempt's when that one won), or nil when no try landed. t.mu is held and t.version is
// fixed.
//
// A record found is final at once (nothing removes a record while a transaction runs).
// Why nil is final: a store write that returned an error may still land, but only until
// SettleTime after it returned (see Config.SettleTime), and settle reads the store again
// after that before it answers nil. A record that is not there after that never will be, so the
// caller may remove the data versions: no landed record can name them. (An abort that did
// not wait could race a record write still in flight and remove the data it names.)
func (m *Manager) settle(ctx context.Context, t *txn) (*record.Record, error) {
	rkey := record.RecordKey(t.idemKey, t.id)
	rec, err := m.storedRecord(ctx, rkey)
	if errors.Is(err, store.ErrNotFound) && time.Now().Before(t.settleBy) {
		// Not there yet: it may still land.
		timer := time.NewTimer(time.Until(t.settleBy))
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return nil, fmt.Errorf("wait for an earlier commit try to settle: %w: %w", ErrStore, ctx.Err())
		}
		rec, err = m.storedRecord(ctx, rkey)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("look up the record of an earlier commit try: %w", err)
	}
	return rec, nil
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
