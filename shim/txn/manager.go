// Package txn runs transactions: per-attempt write buffers, read-your-writes and repeatable
// reads, the read atomic read through package index, commit as data versions first and one
// conditional commit record last, idempotency keys (first commit wins, older attempts
// fenced), abort, idle expiry, garbage collection and crash recovery.
package txn

import (
	"context"
	"encoding/hex"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aft-shim/aft/shim/index"
	"github.com/aft-shim/aft/shim/lease"
	"github.com/aft-shim/aft/shim/ra"
	"github.com/aft-shim/aft/shim/record"
	"github.com/aft-shim/aft/shim/retry"
	"github.com/aft-shim/aft/shim/store"
)

// Status is the state of a transaction.
type Status string

// The states of a transaction.
const (
	Running   Status = "running"
	Committed Status = "committed"
	Aborted   Status = "aborted"
	Fenced    Status = "fenced"
)

// Manager runs transactions over a store. It is safe for concurrent use.
type Manager struct {
	cfg         Config
	store       store.Store
	committer   store.Committer // nil when the store cannot write a commit in one step
	recordLimit int             // largest commit record the store holds; 0: no limit
	idx         *index.Index
	cache       *index.Cache
	clock       hlc
	metrics     *metrics
	retry       retry.Policy // of the store calls of start-up
	lease       *lease.Lease // nil without Config.Node
	shared      *shared      // nil unless other nodes may share the store: see shared.go
	kick        chan struct{}
	push        atomic.Pointer[func(rec []byte, stamp uint64)]
	lost        chan struct{}
	lostOnce    sync.Once

	mu       sync.Mutex
	running  map[string]*txn
	tenants  sync.Map             // tenant name -> *tenantUse: every tenant that began or sent a body (tenant.go)
	keys     map[string]*keyState // attempts per idempotency key
	finished finishedSet

	gcMu     sync.Mutex   // serialises collect and the sweep's release of expired keyed records
	buffered atomic.Int64 // bytes in all write buffers
	closed   atomic.Bool
	stop     chan struct{}
	wg       sync.WaitGroup
}

// txn is one running or finished attempt.
type txn struct {
	id       string
	idemKey  string // as stored: in the tenant's namespace
	tenant   string
	use      *tenantUse // the tenant's share of the limits
	attempt  int
	beginSeq uint64 // index.Seq()+1 at begin: the garbage collection horizon it holds
	// On a shared store: the settled stamp at begin, the horizon it holds for every node.
	beginSettled uint64
	beginTS      uint64       // a clock timestamp taken at begin: its commit version will be newer
	begun        int64        // unix nanoseconds of the begin
	lastUsed     atomic.Int64 // unix nanoseconds of the last call

	mu       sync.Mutex // serialises every call on the transaction, commit included
	status   Status
	writes   map[string]write
	reads    ra.Reads        // versions read from the committed history (zero: none)
	deleted  map[string]bool // reads that found a tombstone
	bytes    int64           // buffered bytes
	version  ra.Version      // commit version, fixed once a commit was tried: writes are frozen then
	settleBy time.Time       // after a commit try failed in the store: when its writes have surely landed or never will
	winner   string          // when fenced by a commit: the attempt that committed
}

type write struct {
	value     []byte
	tombstone bool
}

// keyState tracks the attempts of one idempotency key on this node.
type keyState struct {
	attempts int
	running  map[string]*txn
	last     time.Time
}

// New takes the store's lease when cfg.Node is set (see package lease: it fails with a
// *lease.HeldError naming another live node), recovers the committed state from st (see
// recover) and starts the background loops. Store calls that fail on a transient error are
// retried with backoff until ctx ends, each retry logged on cfg.Log; a permanent error
// (damaged data, a store that refuses the call) fails at once. Close stops the loops and
// releases the lease; the manager does not close st.
func New(ctx context.Context, st store.Store, cfg Config) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("txn config: %w", err)
	}
	recordLimit := 0
	if l, ok := st.(store.Limiter); ok {
		recordLimit = l.MaxValueSize()
		cfg.MaxValueSize = min(cfg.MaxValueSize, int64(recordLimit))
	}
	m := &Manager{
		cfg:         cfg,
		recordLimit: recordLimit,
		idx:         index.New(),
		cache:       index.NewCache(max(cfg.CacheBytes, 0)),
		metrics:     newMetrics(),
		running:     map[string]*txn{},
		keys:        map[string]*keyState{},
		finished:    newFinishedSet(cfg.FinishedStatuses),
		stop:        make(chan struct{}),
		retry:       retry.Policy{Log: cfg.Log},
		lost:        make(chan struct{}),
		kick:        make(chan struct{}, 1),
	}
	m.clock.now = cfg.Now
	m.store = timedStore{s: st, m: m.metrics}
	if c, ok := st.(store.Committer); ok {
		m.committer = timedCommitter{c: c, m: m.metrics}
	}
	if m.shared = newShared(st, cfg); m.shared != nil {
		m.shared.log = timedOrdered{o: m.shared.log, m: m.metrics}
	}
	switch {
	case m.shared != nil:
		if _, err := m.join(ctx); err != nil {
			return nil, err
		}
		// Renewed from now on: recovery may take longer than the lease.
		m.wg.Add(1)
		go m.loop(min(cfg.LeaseTime/3, time.Second), m.publish)
	case cfg.Node != "":
		l, err := lease.Acquire(ctx, st, lease.Options{Node: cfg.Node, Addr: cfg.NodeAddr, Time: cfg.LeaseTime, Now: cfg.Now, Retry: m.retry})
		if err != nil {
			return nil, err
		}
		m.lease = l
	}
	if err := m.recover(ctx); err != nil {
		close(m.stop)
		m.wg.Wait()
		m.releaseLease()
		return nil, err
	}
	if m.shared != nil {
		m.wg.Add(1)
		go m.followLoop(m.kick)
	} else if m.lease != nil {
		m.wg.Add(1)
		go m.loop(cfg.LeaseTime/3, m.renewLease)
	}
	m.wg.Add(3)
	go m.loop(cfg.GCInterval, m.collect)
	go m.loop(max(cfg.IdleTimeout/10, 10*time.Millisecond), m.expire) // MaxLifetime >= IdleTimeout
	go m.loop(cfg.SweepInterval, func() { _ = m.Sweep(context.Background()) })
	return m, nil
}

// admit returns the error of a begin, with idempotency key idemKey, over a bound: the
// running transactions or the tracked idempotency keys at their cap, or the lease lost.
// m.mu is held.
func (m *Manager) admit(idemKey string) error {
	if isClosed(m.lost) {
		return fmt.Errorf("%w: %s", ErrClosed, lease.ErrLost)
	}
	if n := len(m.running); n >= m.cfg.MaxRunning {
		return fmt.Errorf("%w: %d transactions running, the limit (--max-running %d); retry later", ErrBusy, n, m.cfg.MaxRunning)
	}
	if idemKey == "" || m.keys[idemKey] != nil || len(m.keys) < m.cfg.MaxIdemKeys {
		return nil
	}
	m.forgetKeys(time.Time{}) // every key with no running attempt
	if n := len(m.keys); n >= m.cfg.MaxIdemKeys {
		return fmt.Errorf("%w: %d idempotency keys with running attempts, the limit (--max-idem-keys %d); retry later", ErrBusy, n, m.cfg.MaxIdemKeys)
	}
	return nil
}

// forgetKeys forgets the attempt counts of the idempotency keys with no running attempt
// since before cutoff (the zero time: all of them). m.mu is held.
func (m *Manager) forgetKeys(cutoff time.Time) {
	for k, ks := range m.keys {
		if len(ks.running) == 0 && (cutoff.IsZero() || ks.last.Before(cutoff)) {
			delete(m.keys, k)
		}
	}
}

// SetPush makes every commit of this node's call push(rec, stamp) once its record is
// durable, with the encoded record and its log stamp; push must not block. Only a
// manager on a shared store calls it.
func (m *Manager) SetPush(push func(rec []byte, stamp uint64)) { m.push.Store(&push) }

// Shared reports whether other nodes may share the store.
func (m *Manager) Shared() bool { return m.shared != nil }

// Config returns the validated configuration in force.
func (m *Manager) Config() Config { return m.cfg }

// Close stops the background loops. Calls after Close fail with ErrClosed.
func (m *Manager) Close() error {
	if m.closed.Swap(true) {
		return nil
	}
	close(m.stop)
	m.wg.Wait()
	m.releaseLease()
	return nil
}

func (m *Manager) loop(every time.Duration, f func()) {
	defer m.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			f()
		}
	}
}

// Running returns the number of running transactions.
func (m *Manager) Running() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.running)
}

// Ready reports whether the store answers.
func (m *Manager) Ready(ctx context.Context) error {
	_, err := m.store.Get(ctx, "r/ready-probe")
	if err != nil && !isAnswer(err) {
		return fmt.Errorf("store unreachable: %w", err)
	}
	return nil
}

// lookup returns the running transaction id, or the error for a finished or unknown one.
func (m *Manager) lookup(id string) (*txn, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t := m.running[id]; t != nil {
		t.lastUsed.Store(m.cfg.Now().UnixNano())
		return t, nil
	}
	if f, ok := m.finished.get(id); ok {
		return nil, statusErr(f.status)
	}
	return nil, fmt.Errorf("txn %q: %w", id, ErrTxnNotFound)
}

// finish moves t out of the running set with status s; t.mu is held.
func (m *Manager) finish(t *txn, s Status) {
	t.status = s
	m.charge(t.use, -t.bytes)
	t.writes, t.reads, t.deleted, t.bytes = nil, ra.Reads{}, nil, 0
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.running, t.id)
	t.use.running--
	f := finishedTxn{status: s, winner: t.winner}
	if s == Committed {
		f.version = t.version // a version only for what committed
	}
	m.finished.add(t.id, f)
	if ks := m.keys[t.idemKey]; ks != nil {
		delete(ks.running, t.id)
		ks.last = m.cfg.Now()
	}
}

// finishedTxn is what is remembered of a finished transaction.
type finishedTxn struct {
	status  Status
	version ra.Version // when committed
	winner  string     // when fenced by a commit: the attempt that committed
}

// finishedSet remembers the statuses of the last n finished transactions in fixed memory:
// keyed by the 16 bytes of the id, holding a status byte and the commit timestamp, with the
// map sized for n from the start so that it never grows.
type finishedSet struct {
	m    map[[16]byte]finishedEntry
	ring [][16]byte
	next int
	full bool
}

type finishedEntry struct {
	ts       uint64
	tenant   string   // of the id, and of its winner (one idempotency key, one tenant)
	winner   [16]byte // zero: none
	status   uint8
	readOnly bool // the version is a read-only commit's (readOnly)
}

var statusCodes = []Status{Running, Committed, Aborted, Fenced}

func newFinishedSet(n int) finishedSet {
	return finishedSet{m: make(map[[16]byte]finishedEntry, n), ring: make([][16]byte, n)}
}

func (f *finishedSet) add(id string, t finishedTxn) {
	k, ok := idBytes(id)
	if !ok || len(f.ring) == 0 {
		return
	}
	if _, seen := f.m[k]; !seen {
		if f.full {
			delete(f.m, f.ring[f.next])
		}
		f.ring[f.next] = k
		f.next++
		if f.next == len(f.ring) {
			f.next, f.full = 0, true
		}
	}
	e := finishedEntry{ts: t.version.TS, readOnly: isReadOnly(t.version)}
	e.tenant, _ = record.SplitTenantID(id)
	if w, ok := idBytes(t.winner); ok {
		e.winner = w
	}
	for i, s := range statusCodes {
		if s == t.status {
			e.status = uint8(i)
		}
	}
	f.m[k] = e
}

func (f *finishedSet) get(id string) (finishedTxn, bool) {
	k, ok := idBytes(id)
	if !ok {
		return finishedTxn{}, false
	}
	e, ok := f.m[k]
	if tenant, _ := record.SplitTenantID(id); !ok || e.tenant != tenant {
		return finishedTxn{}, false
	}
	t := finishedTxn{status: statusCodes[e.status]}
	if e.ts != 0 {
		t.version = ra.Version{TS: e.ts, Txn: id}
		if e.readOnly {
			t.version = readOnly(t.version)
		}
	}
	if e.winner != ([16]byte{}) {
		t.winner = record.TenantID(e.tenant, hex.EncodeToString(e.winner[:]))
	}
	return t, true
}

// idBytes decodes the random part of an id Begin made (newID, after the tenant).
func idBytes(id string) (k [16]byte, ok bool) {
	if !validID(id) {
		return k, false
	}
	_, rest := record.SplitTenantID(id)
	_, err := hex.Decode(k[:], []byte(rest))
	return k, err == nil
}
