package txn

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aft-shim/aft/shim/index"
	"github.com/aft-shim/aft/shim/lease"
	"github.com/aft-shim/aft/shim/record"
	"github.com/aft-shim/aft/shim/store"
)

// Several nodes on one store.
//
// A manager with a node identity on a store that implements store.Ordered shares the store
// with any number of other nodes. Each transaction lives on the node that began it; what
// the nodes share is the committed history, and they learn it from the store:
//
//   - The commit log. Every commit try writes, with its data versions (before the record,
//     or atomically with it), a log key naming the transaction, its record and a stamp of
//     this node's clock taken just before the record's write (record.LogKey). A log key
//     lands at most Late after its stamp: the commit's writes end within CommitTimeout of
//     its start, a failed write lands within SettleTime after that, and MaxClockSkew covers
//     the clocks of the writer and the reader.
//   - Following it (follow.go). Every SyncInterval a node lists the log keys it has not
//     read and fetches the records they name; a record that holds the same transaction is
//     a commit, applied with all its keys at once. A log key whose record is missing may
//     still be landing; Late after its stamp, a missing record is final. So the settled
//     stamp, below which every log key has been read and every commit applied, trails the
//     clock by Late, and nothing that landed is ever missed: a lost push or a slow write
//     only delays it. Peers (package peer) push commits as they happen, which makes them
//     visible sooner; the log makes them certain.
//   - Clocks. Commit versions and stamps come from one hybrid logical clock per node,
//     which moves past every version and stamp the node learns of.
//   - Garbage collection. A node collects its own index as a single node does, but removes
//     from the store only what no live node can still read: each node publishes, in its
//     lease record (record.NodeKey), its settled stamp and its horizon, the settled stamp
//     noted at the begin of its oldest running transaction. A batch of garbage is removed
//     once every live node's horizon has passed the newest stamp this node had applied when
//     it collected the batch: by then each live node had applied whatever superseded it
//     before any transaction it runs began. A node whose lease expired (dead, or cut off)
//     no longer holds collection back; should it come back, it finds its lease expired and
//     stops, to be restarted, recovering from the store before it serves again.
//   - The node with the smallest identity among the live ones sweeps orphans and expired
//     results, and trims the commit log below every live node's settled stamp.

// MaxClockSkew is the most the clocks of two nodes on one store may differ by. Nodes read
// each other's clocks in their lease records and log a warning past half of it.
const MaxClockSkew = time.Second

// Overlap is how far behind the newest stamp it has read a node reads the log again each
// poll (three sync intervals, at least 100ms): log keys land a little out of stamp order.
// A commit whose log key landed later than half of it after its stamp writes another one,
// with a fresh stamp, before it is acknowledged (see announce), so that every acknowledged
// commit is found by the next poll of every node. Stamps of different nodes stay that close
// whatever their wall clocks say: each node's clock moves past every stamp it reads in the
// log, every sync interval.
func Overlap(cfg Config) time.Duration { return max(3*cfg.SyncInterval, 100*time.Millisecond) }

// shared is the state of a manager on a store that several nodes share; nil otherwise.
type shared struct {
	log     store.Ordered
	late    uint64 // nanoseconds: how long after its stamp a log key may still land
	overlap uint64 // nanoseconds: how far behind the newest stamp read each poll reads again
	lease   *lease.Lease

	mu       sync.Mutex
	applied  map[string]uint64          // ids of commits taken here (applied, or ruled out) -> stamp after which they are forgotten, | doneBit once applied
	pending  map[string]record.LogEntry // log keys newer than settled whose record was not found yet
	settled  uint64                     // every log key with a stamp <= settled was read and its commit applied
	seen     uint64                     // the newest stamp read from the log
	maxStamp uint64                     // the newest stamp of a commit applied here, or tried here
	learned  chan struct{}              // closed and replaced whenever a commit is applied or a poll ends: see waitFor
	polls    uint64                     // polls of the log started
	polled   uint64                     // the last poll that ended without error
	nodes    []lease.Holder             // the live nodes, as last read
	global   uint64                     // smallest horizon of the live nodes, as last read
	leader   bool                       // this node has the smallest identity among the live ones
	gcQueue  []gcBatch
	gcTxns   map[string]int // ids of transactions in gcQueue that left the index
	forgotAt time.Time      // when forgetNodes last ran
}

// gcBatch is garbage collected here, to remove from the store once every live node's
// horizon is at least until.
type gcBatch struct {
	until uint64
	g     index.Garbage
}

// newShared returns the shared state of a manager over st, or nil when st is not shared.
func newShared(st store.Store, cfg Config) *shared {
	o, ok := st.(store.Ordered)
	if !ok || cfg.Node == "" {
		return nil
	}
	late := cfg.CommitTimeout + cfg.SettleTime + MaxClockSkew
	return &shared{
		log:     o,
		late:    uint64(late),
		overlap: uint64(Overlap(cfg)),
		applied: map[string]uint64{},
		pending: map[string]record.LogEntry{},
		learned: make(chan struct{}),
		gcTxns:  map[string]int{},
	}
}

// join takes this node's lease on a shared store and lists the node in record.NodesDir,
// publishing as its horizon a stamp that everything recovery is about to read is newer
// than: from now on no node removes what this one may read. It returns the stamp recovery
// starts at.
func (m *Manager) join(ctx context.Context) (uint64, error) {
	sh := m.shared
	start := m.clock.next()
	floor := start - min(start, sh.late)
	l, err := lease.Acquire(ctx, m.store, lease.Options{Node: m.cfg.Node, Key: record.NodeKey(m.cfg.Node), Addr: m.cfg.NodeAddr,
		Time: m.cfg.LeaseTime, Now: m.cfg.Now, Retry: m.retry, Progress: [2]uint64{floor, floor}})
	if err != nil {
		return 0, err
	}
	m.lease, sh.lease = l, l
	err = m.retry.Do(ctx, "list the node in "+record.NodesDir, func(ctx context.Context) error {
		return m.store.Put(ctx, []store.Item{{Key: record.NodeListKey(m.cfg.Node)}})
	})
	if err != nil {
		m.releaseLease()
		return 0, fmt.Errorf("join: %w", err)
	}
	sh.settled, sh.seen, sh.global = floor, start, floor
	return start, nil
}

// announce writes another log key for the commit of transaction id, stamped now, when the
// one that made it may have landed later than half the overlap after its stamp: its write
// was slow, or an earlier try's key made it (earlier). A poll of any node that starts
// after it returns then finds the commit (see Overlap). It tries three times; should the
// store fail, the commit reaches the other nodes when their logs settle past its key.
func (m *Manager) announce(ctx context.Context, id, idemKey string, stamp uint64, earlier bool) {
	half := uint64(Overlap(m.cfg) / 2)
	for try := 0; try < 3; try++ {
		now := uint64(m.cfg.Now().UnixNano())
		if !earlier && (now < stamp || now-stamp <= half) {
			return
		}
		earlier = false
		stamp = m.clock.next()
		m.shared.tried(id, stamp)
		if err := m.store.Put(ctx, []store.Item{{Key: record.LogKey(stamp, id, idemKey)}}); err != nil {
			m.cfg.Log.Warn("a slow commit could not be announced again in the commit log; other nodes learn it within the settle time", "txn", id, "err", err)
			return
		}
		m.metrics.announced.Inc()
	}
}

// recovered notes the commits recovery applied, so that reading their log keys again does
// not apply them again after collection dropped them. end is a stamp taken after the
// listing: their log keys are older, and forgotten once settled passes it.
func (sh *shared) recovered(ids []string, end uint64) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for _, id := range ids {
		sh.applied[id] = (end + uint64(MaxClockSkew)) | doneBit
	}
	sh.maxStamp = max(sh.maxStamp, end)
}

// tried notes a commit try of this node's at stamp (its log key's): the commit, should it
// land, is known here, and collection waits for the other nodes to pass its stamp.
func (sh *shared) tried(id string, stamp uint64) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.applied[id] = max(sh.applied[id]&^doneBit, stamp)
	sh.maxStamp = max(sh.maxStamp, stamp)
}

// take reports whether the commit id is new here, noting it as applied (until stamp).
func (sh *shared) take(id string, stamp uint64) bool {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, ok := sh.applied[id]; ok {
		return false
	}
	sh.applied[id] = stamp
	delete(sh.pending, id)
	sh.maxStamp = max(sh.maxStamp, stamp)
	return true
}

// doneBit marks an entry of applied whose commit is visible here (stamps stay below 2^63).
const doneBit = 1 << 63

// done marks the commit id, taken, as visible here: a begin after it may go on (waitFor).
func (sh *shared) done(id string) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if until, ok := sh.applied[id]; ok {
		sh.applied[id] = until | doneBit
	}
}

// signal wakes the waits for a commit (waitFor).
func (sh *shared) signal() {
	sh.mu.Lock()
	close(sh.learned)
	sh.learned = make(chan struct{})
	sh.mu.Unlock()
}

// ErrNotShared is returned by Learn on a manager whose store no other node shares.
var ErrNotShared = errors.New("this node's store is not shared with other nodes")

// Learn applies a commit that another node made, given its encoded record and its log
// stamp, as a peer pushes it. Until peers authenticate each other, a pushed record counts
// only when the store holds exactly those bytes under its key: one read, which the commit
// log would cost too, and no forged push makes anything visible. A commit known here
// already costs nothing. It returns an error for bytes that are not a record (wrapping
// record.ErrCorrupt), and when the store cannot be read.
func (m *Manager) Learn(ctx context.Context, b []byte, stamp uint64) error {
	if m.shared == nil {
		return ErrNotShared
	}
	rec, err := record.Unmarshal(b)
	if err != nil {
		return err
	}
	if m.shared.knows(rec.Version.Txn) {
		return nil
	}
	stored, err := m.store.Get(ctx, record.RecordKey(rec.IdemKey, rec.Version.Txn))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil // not (or no longer) a commit: the log tells, in time
	case err != nil:
		return fmt.Errorf("learn: %w: %w", ErrStore, err)
	case !bytes.Equal(stored, b):
		return nil // compacted, or another attempt's: the log tells
	}
	m.learn(rec, stamp, "peer")
	return nil
}

// learn applies rec, a commit read from the log (or pushed) with its log stamp.
func (m *Manager) learn(rec *record.Record, stamp uint64, from string) {
	m.clock.observe(max(rec.Version.TS, stamp))
	id := rec.Version.Txn
	if !m.shared.take(id, stamp) {
		return
	}
	m.mu.Lock()
	running := m.running[id] != nil
	m.mu.Unlock()
	if running {
		m.adopt(rec) // a commit try of this node's landed, unknown to it until now
	} else {
		if !rec.Compacted && len(rec.Writes) > 0 {
			m.idx.Apply(rec)
		}
		m.mu.Lock()
		m.finished.add(id, finishedTxn{status: Committed, version: rec.Version})
		m.mu.Unlock()
	}
	m.shared.done(id)
	m.metrics.learned.WithLabelValues(from).Inc()
	if wall := m.cfg.Now().UnixNano(); uint64(wall) > stamp {
		m.metrics.propagation.Observe(time.Duration(uint64(wall) - stamp).Seconds())
	}
	m.shared.signal()
}

// progress returns this node's settled stamp and horizon.
func (m *Manager) progress() (settled, horizon uint64) {
	m.shared.mu.Lock()
	settled = m.shared.settled
	m.shared.mu.Unlock()
	horizon = settled
	m.mu.Lock()
	for _, t := range m.running {
		horizon = min(horizon, t.beginSettled)
	}
	m.mu.Unlock()
	return settled, horizon
}

// publish renews this node's lease with its progress and reads the other nodes' leases:
// the live nodes, the smallest horizon, and whether this node leads.
func (m *Manager) publish() {
	sh := m.shared
	settled, horizon := m.progress()
	sh.lease.SetProgress(settled, horizon)
	m.renewLease()
	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.LeaseTime/3)
	defer cancel()
	nodes, err := m.readNodes(ctx)
	if err != nil {
		m.cfg.Log.Warn("could not read the other nodes' leases; garbage collection waits", "err", err)
		return
	}
	global, leader := horizon, true
	now := m.cfg.Now()
	for _, h := range nodes {
		if h.Node == m.cfg.Node {
			continue
		}
		global = min(global, h.Horizon)
		leader = leader && m.cfg.Node < h.Node
		if skew := now.Sub(h.Written); h.Written.After(now.Add(MaxClockSkew/2)) || skew > m.cfg.LeaseTime/3+MaxClockSkew/2 {
			m.cfg.Log.Warn("another node's clock seems off", "node", h.Node, "its clock ahead by", -skew)
		}
	}
	sh.mu.Lock()
	sh.nodes, sh.global, sh.leader = nodes, global, leader
	sh.mu.Unlock()
	if leader && m.holdsLease() {
		if err := m.trim(ctx, nodes); err != nil {
			m.cfg.Log.Warn("could not trim the commit log; the next renewal tries again", "err", err)
		}
		if time.Since(sh.forgotAt) > time.Minute {
			sh.forgotAt = time.Now()
			if err := m.forgetNodes(ctx); err != nil {
				m.cfg.Log.Warn("could not forget nodes gone for long", "err", err)
			}
		}
	}
}

// readNodes returns the leases of the live nodes on the store, this one's included.
func (m *Manager) readNodes(ctx context.Context) ([]lease.Holder, error) {
	var keys []string
	for after := ""; ; {
		n := 0
		err := m.shared.log.ListAfter(ctx, record.NodesDir, after, 1000, func(k string) error {
			keys, after = append(keys, k), k
			n++
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("list nodes: %w", err)
		}
		if n < 1000 {
			break
		}
	}
	now := m.cfg.Now()
	var live []lease.Holder
	for _, k := range keys {
		node, err := record.NodeOfListKey(k)
		if err != nil {
			continue
		}
		b, err := m.store.Get(ctx, record.NodeKey(node))
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read the lease of node %q: %w", node, err)
		}
		var h lease.Holder
		if json.Unmarshal(b, &h) != nil || h.Node != node || !now.Before(h.Expires) {
			continue // gone: its lease ran out
		}
		live = append(live, h)
	}
	return live, nil
}

// Nodes returns the live nodes on the store as last read (nil on a store no other node
// shares).
func (m *Manager) Nodes() []lease.Holder {
	if m.shared == nil {
		return nil
	}
	m.shared.mu.Lock()
	defer m.shared.mu.Unlock()
	return append([]lease.Holder(nil), m.shared.nodes...)
}

// leads reports whether this node does the store-wide chores: on a store only it uses,
// always.
func (m *Manager) leads() bool {
	if m.shared == nil {
		return true
	}
	m.shared.mu.Lock()
	defer m.shared.mu.Unlock()
	return m.shared.leader
}

// cursor returns the settled stamp and the newest stamp read.
func (sh *shared) cursor() (settled, seen uint64) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.settled, sh.seen
}

// trimDirs bounds the log directories (seconds) one trim removes.
const trimDirs = 120

// trim removes, on the leading node, the commit log below every live node's settled stamp
// (no live node reads it again; a node that joins later recovers from the records), and
// the leases of nodes gone for a while. The second below which the log is gone is kept at
// record.TrimKey, so that the next trim, on whichever node leads then, goes on from it.
func (m *Manager) trim(ctx context.Context, nodes []lease.Holder) error {
	settled, _ := m.progress()
	for _, h := range nodes {
		settled = min(settled, h.Settled)
	}
	target := settled / 1e9 // every directory below this second is settled everywhere
	if target == 0 {
		return nil
	}
	from := target - min(target, 600) // no mark yet: ten minutes back
	b, err := m.store.Get(ctx, record.TrimKey)
	switch {
	case err == nil:
		if _, err := fmt.Sscan(string(b), &from); err != nil {
			return fmt.Errorf("trim mark %s: %q: %w", record.TrimKey, b, err)
		}
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	to := min(target, from+trimDirs)
	for sec := from; sec < to; sec++ {
		dir := record.LogDir(sec * 1e9)
		for {
			var keys []string
			err := m.shared.log.ListAfter(ctx, dir, "", logPage, func(k string) error {
				keys = append(keys, k)
				return nil
			})
			if err == nil && len(keys) > 0 {
				err = m.store.Delete(ctx, keys)
			}
			if err != nil {
				return fmt.Errorf("trim the commit log %s: %w", dir, err)
			}
			if len(keys) < logPage {
				break
			}
		}
	}
	if to > from {
		if err := m.store.Put(ctx, []store.Item{{Key: record.TrimKey, Value: fmt.Appendf(nil, "%d", to)}}); err != nil {
			return fmt.Errorf("trim mark: %w", err)
		}
	}
	return nil
}

// forgetNodes removes the lease and the listing of nodes whose lease expired more than
// goneAfter ago.
func (m *Manager) forgetNodes(ctx context.Context) error {
	var keys []string
	err := m.shared.log.ListAfter(ctx, record.NodesDir, "", logPage, func(k string) error {
		keys = append(keys, k)
		return nil
	})
	if err != nil {
		return err
	}
	now := m.cfg.Now()
	var gone []string
	for _, k := range keys {
		node, err := record.NodeOfListKey(k)
		if err != nil || node == m.cfg.Node {
			continue
		}
		b, err := m.store.Get(ctx, record.NodeKey(node))
		var h lease.Holder
		switch {
		case errors.Is(err, store.ErrNotFound):
			gone = append(gone, k)
		case err != nil:
			return err
		case json.Unmarshal(b, &h) == nil && now.Sub(h.Expires) > goneAfter:
			gone = append(gone, record.NodeKey(node), k)
		}
	}
	if len(gone) == 0 {
		return nil
	}
	return m.store.Delete(ctx, gone)
}

// goneAfter is how long after its lease expired a node is forgotten.
const goneAfter = time.Hour
