package txn

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aft-shim/aft/shim/ra"
)

// AfterWait bounds how long a begin with BeginOptions.After waits for this node to learn
// of that commit: the larger of 1 second and 20 sync intervals.
func (c Config) AfterWait() time.Duration { return max(time.Second, 20*c.SyncInterval) }

// readOnlyMark ends the Txn of the version of a read-only commit that stored nothing (no
// idempotency key): no node can learn such a commit from the store, and none needs to, as
// it wrote nothing. A transaction id ends in a hex digit, so no stored commit's version
// ends so.
const readOnlyMark = "~ro"

// readOnly returns v marked as the version of a read-only commit that stored nothing.
func readOnly(v ra.Version) ra.Version {
	v.Txn += readOnlyMark
	return v
}

// isReadOnly reports whether v is marked by readOnly.
func isReadOnly(v ra.Version) bool { return strings.HasSuffix(v.Txn, readOnlyMark) }

// waitFor returns once this node knows of the commit at version v and has read the commit
// log through once since the call began, for at most Config.AfterWait. That read applies
// every commit acknowledged before the call (announce makes sure each has a log key it
// finds), so a session that passes the version of its last commit sees that one and every
// earlier one, on any node: what its caller had seen. The version of a read-only commit
// (readOnly) has nothing of its own to learn: that read alone brings the commits it read.
// A version stamped further in the future than MaxClockSkew is not waited for: no node
// made it.
func (m *Manager) waitFor(ctx context.Context, v ra.Version) error {
	if v.TS > uint64(m.cfg.Now().Add(MaxClockSkew).UnixNano()) {
		return fmt.Errorf("begin after version %v: %w: it is from the future by this node's clock", v, ErrNotCaughtUp)
	}
	m.clock.observe(v.TS) // the new transaction's commit will be newer
	sh := m.shared
	if sh == nil {
		return nil // every commit on the store was made here
	}
	// Known when applied here or ruled out, still in the index, or remembered as committed;
	// or when the log has been settled past the latest stamp its key can have.
	lastStamp := v.TS + uint64(m.cfg.OrphanGrace/2) + sh.late
	marked := isReadOnly(v) // a read-only commit's: nothing of its own to learn
	deadline := time.NewTimer(m.cfg.AfterWait())
	defer deadline.Stop()
	sh.mu.Lock()
	poll := sh.polls + 1 // the next poll to start
	sh.mu.Unlock()
	for {
		sh.mu.Lock()
		known := sh.applied[v.Txn]&doneBit != 0 // taken and applied, not only taken
		learned, settled, polled := sh.learned, sh.settled, sh.polled
		sh.mu.Unlock()
		known = known || marked || settled >= lastStamp || m.idx.Has(v.Txn) || m.knownCommitted(v.Txn)
		if known && polled >= poll {
			return nil
		}
		select {
		case m.kick <- struct{}{}:
		default:
		}
		select {
		case <-learned:
		case <-time.After(m.cfg.SyncInterval):
		case <-deadline.C:
			return fmt.Errorf("begin after version %v: %w: this node did not learn of that commit within %v; retry, or begin on the node that made it",
				v, ErrNotCaughtUp, m.cfg.AfterWait())
		case <-ctx.Done():
			return fmt.Errorf("begin after version %v: %w", v, ctx.Err())
		}
	}
}

// knownCommitted reports whether the finished transactions remembered here hold id as
// committed.
func (m *Manager) knownCommitted(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.finished.get(id)
	return ok && f.status == Committed
}
