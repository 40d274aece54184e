package txn

import (
	"context"
	"errors"
	"fmt"

	"github.com/aft-shim/aft/shim/store"
)

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
		landed, err := m.settle(ctx, t)
		if err != nil {
			return err
		}
		if landed != nil && landed.Version.Txn == t.id {
			m.applyLocked(t, landed, nil)
			return ErrCommitted
		}
		if landed != nil {
			m.adopt(landed) // another attempt's record: visible here now if it was not
		}
		m.deleteVersions(ctx, t.versions(t.version))
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
