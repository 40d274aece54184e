package txn

import (
	"context"
	"errors"
	"time"

	"github.com/aft-shim/aft/shim/lease"
)

// The manager's side of the store's lease (package lease): New takes it, a loop renews it,
// Close releases it, and nothing is deleted from the store while it is not held.

// renewLease renews the lease; when another node took it over, the manager stops: see Lost.
func (m *Manager) renewLease() {
	if m.shared != nil && !m.lease.Valid(m.cfg.Now()) && !isClosed(m.lost) {
		// The other nodes took this one for dead and no longer keep what its transactions
		// may read: it must recover from the store before it serves again.
		m.lostOnce.Do(func() {
			m.cfg.Log.Error("lease expired before it was renewed (the node was paused or cut off from the store): this node stops taking transactions and must be restarted",
				"expired", m.lease.Expires())
			close(m.lost)
		})
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.LeaseTime/3)
	defer cancel()
	err := m.lease.Renew(ctx)
	switch {
	case errors.Is(err, lease.ErrLost):
		m.lostOnce.Do(func() {
			m.cfg.Log.Error("lease lost: this node stops taking transactions", "err", err)
			close(m.lost)
		})
	case err != nil:
		m.cfg.Log.Warn("lease not renewed, will try again", "err", err, "valid", m.lease.Valid(m.cfg.Now()), "next try in", m.cfg.LeaseTime/3)
	}
}

// Lost is closed when this node finds that another node took the store's lease over (which
// happens only after this node could not renew it for longer than Config.LeaseTime). From
// then on Begin fails with ErrClosed and nothing is deleted from the store: the node must
// stop. Without a lease it is never closed.
func (m *Manager) Lost() <-chan struct{} { return m.lost }

// holdsLease reports whether the manager may delete from the store: it takes no lease, or
// its lease is valid now.
func (m *Manager) holdsLease() bool {
	return m.lease == nil || m.lease.Valid(m.cfg.Now()) && !isClosed(m.lost)
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// leaseAge returns the time since the lease record was last written; 0 without a lease.
func (m *Manager) leaseAge() time.Duration {
	if m.lease == nil {
		return 0
	}
	return m.cfg.LeaseTime - m.lease.Expires().Sub(m.cfg.Now())
}

// releaseLease deletes the lease record, when the manager holds one.
func (m *Manager) releaseLease() {
	if m.lease == nil || isClosed(m.lost) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.lease.Release(ctx); err != nil {
		m.cfg.Log.Warn("lease not released: another node can start here once it expired", "err", err, "expires", m.lease.Holder().Expires)
	}
}
