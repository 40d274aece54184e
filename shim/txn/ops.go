package txn

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aft-shim/aft/shim/ra"
	"github.com/aft-shim/aft/shim/record"
	"github.com/aft-shim/aft/shim/store"
)

// ValidKey reports whether key is a valid user key: 1..1024 bytes, no NUL.
func ValidKey(key string) error {
	if len(key) == 0 || len(key) > MaxKeySize || strings.IndexByte(key, 0) >= 0 {
		return fmt.Errorf("%w: keys are 1..%d bytes without NUL, got %d bytes", ErrBadKey, MaxKeySize, len(key))
	}
	return nil
}

// ValidIdemKey reports whether k is a valid idempotency key: 1..256 bytes.
func ValidIdemKey(k string) error {
	if len(k) == 0 || len(k) > MaxIdemKeySize {
		return fmt.Errorf("%w: idempotency keys are 1..%d bytes, got %d", ErrBadIdemKey, MaxIdemKeySize, len(k))
	}
	return nil
}

// BeginOptions are the options of Begin.
type BeginOptions struct {
	IdemKey string // idempotency key of the logical request; "" for none
	// Tenant is the tenant the transaction belongs to (record.DefaultTenant: none): its
	// id, keys and idempotency key live in the tenant's namespace (record/tenant.go).
	Tenant     string
	FenceOlder bool // fence the running attempts of IdemKey on this node at once
	// After is a version an earlier commit answered, on any node: the transaction sees
	// that commit or newer versions of its keys. Begin waits for this node to learn of it
	// (see waitFor) and fails with ErrNotCaughtUp when it does not in time.
	After ra.Version
}

// Info describes a transaction.
type Info struct {
	ID      string
	Status  Status
	Attempt int
	Version ra.Version // when committed and known
	Result  []byte     // the stored result, when Begin found the key committed
	Winner  string     // when fenced by a commit: the attempt that committed, if known
}

// Begin starts an attempt. When opts.IdemKey already committed, it starts nothing and
// returns the winner, committed, with its stored result.
func (m *Manager) Begin(ctx context.Context, opts BeginOptions) (Info, error) {
	if m.closed.Load() {
		return Info{}, ErrClosed
	}
	if !opts.After.IsZero() {
		if err := m.waitFor(ctx, opts.After); err != nil {
			return Info{}, err
		}
	}
	if err := record.ValidTenant(opts.Tenant); err != nil {
		return Info{}, fmt.Errorf("%w: %w", ErrBadTenant, err)
	}
	if opts.IdemKey != "" {
		if err := ValidIdemKey(opts.IdemKey); err != nil {
			return Info{}, err
		}
		opts.IdemKey = record.TenantName(opts.Tenant, opts.IdemKey)
		rec, err := m.committedRecord(ctx, opts.IdemKey)
		if err != nil {
			return Info{}, err
		}
		if rec != nil {
			m.adopt(rec) // the winner's commit try may have failed here, yet landed
			return Info{ID: rec.Version.Txn, Status: Committed, Attempt: rec.Attempt, Version: rec.Version, Result: rec.Result}, nil
		}
	}
	t := &txn{id: record.TenantID(opts.Tenant, newID()), idemKey: opts.IdemKey, tenant: opts.Tenant, attempt: 1, status: Running, begun: m.cfg.Now().UnixNano()}
	t.lastUsed.Store(t.begun)
	var older []*txn
	m.mu.Lock()
	if err := m.admit(opts.IdemKey); err != nil {
		m.mu.Unlock()
		return Info{}, err
	}
	use, err := m.admitTenant(opts.Tenant)
	if err != nil {
		m.mu.Unlock()
		return Info{}, err
	}
	t.use = use
	t.beginSeq = m.idx.Seq() + 1 // under m.mu: see collect
	if m.shared != nil {
		t.beginSettled, _ = m.shared.cursor()
	}
	t.beginTS = m.clock.next()
	if opts.IdemKey != "" {
		ks := m.keys[opts.IdemKey]
		if ks == nil {
			ks = &keyState{running: map[string]*txn{}}
			m.keys[opts.IdemKey] = ks
		}
		ks.attempts++
		t.attempt = ks.attempts
		ks.last = m.cfg.Now()
		if opts.FenceOlder {
			for _, o := range ks.running {
				older = append(older, o)
			}
			// (An older attempt whose commit was tried is not fenced below: its record may
			// be landing, and only settling its commit can tell.)
		}
		ks.running[t.id] = t
	}
	m.running[t.id] = t
	m.mu.Unlock()
	m.metrics.begun.Inc()
	for _, o := range older {
		o.mu.Lock()
		if o.status == Running && o.version.IsZero() {
			m.finish(o, Fenced)
			m.metrics.fenced.Inc()
		}
		o.mu.Unlock()
	}
	return Info{ID: t.id, Status: Running, Attempt: t.attempt}, nil
}

// committedRecord returns the commit record of idemKey, or nil when it has none.
func (m *Manager) committedRecord(ctx context.Context, idemKey string) (*record.Record, error) {
	b, err := m.store.Get(ctx, record.RecordKey(idemKey, ""))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up idempotency key: %w: %w", ErrStore, err)
	}
	rec, err := record.Unmarshal(b)
	if err != nil {
		return nil, fmt.Errorf("commit record of idempotency key %q: %w: %w", idemKey, ErrStore, err)
	}
	return rec, nil
}

// Status returns the state of a transaction. Finished transactions are remembered in
// memory (the last FinishedStatuses of them); past that, a committed transaction without
// an idempotency key is still found by its commit record until garbage collection removes
// it.
func (m *Manager) Status(ctx context.Context, id string) (Info, error) {
	m.mu.Lock()
	if t := m.running[id]; t != nil {
		m.mu.Unlock()
		return Info{ID: id, Status: Running, Attempt: t.attempt}, nil
	}
	f, ok := m.finished.get(id)
	m.mu.Unlock()
	if ok {
		return Info{ID: id, Status: f.status, Version: f.version, Winner: f.winner}, nil
	}
	if validID(id) {
		b, err := m.store.Get(ctx, record.RecordKey("", id))
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return Info{}, fmt.Errorf("status of txn %s: %w: %w", id, ErrStore, err)
		}
		if err == nil {
			if rec, err := record.Unmarshal(b); err == nil && rec.Version.Txn == id {
				return Info{ID: id, Status: Committed, Attempt: rec.Attempt, Version: rec.Version}, nil
			}
		}
	}
	return Info{}, fmt.Errorf("txn %q: %w", id, ErrTxnNotFound)
}

// Write buffers value as the new value of key in transaction id. The manager keeps value:
// the caller must not change it afterwards.
func (m *Manager) Write(id, key string, value []byte) error {
	return m.buffer(id, key, write{value: value})
}

// Delete buffers a delete (a tombstone version) of key in transaction id.
func (m *Manager) Delete(id, key string) error {
	return m.buffer(id, key, write{tombstone: true})
}

func (m *Manager) buffer(id, key string, w write) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	if n := int64(len(w.value)); n > m.cfg.MaxValueSize {
		return &LimitError{What: "value", Size: n, Limit: m.cfg.MaxValueSize}
	}
	t, err := m.lookup(id)
	if err != nil {
		return err
	}
	key = record.TenantName(t.tenant, key)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.status != Running {
		return statusErr(t.status)
	}
	if !t.version.IsZero() {
		return fmt.Errorf("write txn %s: %w", id, ErrCommitTried)
	}
	old := t.writes[key]
	delta := int64(len(w.value)+len(key)) - int64(len(old.value))
	if old.value != nil || old.tombstone {
		delta -= int64(len(key))
	}
	if t.bytes+delta > m.cfg.MaxTxnBytes {
		return &LimitError{What: "transaction", Size: t.bytes + delta, Limit: m.cfg.MaxTxnBytes}
	}
	if err := m.charge(t.use, delta); err != nil {
		return err
	}
	t.bytes += delta
	if t.writes == nil {
		t.writes = map[string]write{}
	}
	if w.value == nil && !w.tombstone {
		w.value = []byte{}
	}
	t.writes[key] = w
	return nil
}

// ReadResult is the answer of Read.
type ReadResult struct {
	Value   []byte     // shared with the cache: do not modify
	Found   bool       // false: key_not_found
	Version ra.Version // the committed version read; zero for a read of the transaction's own write or of nothing
}

// Read returns the value of key that transaction id sees: its own latest write, else the
// version it read before, else the version the read atomic rule chooses. A transaction reads
// at most Config.MaxReadSet distinct keys from the committed history: a read of one more
// fails with ErrReadSetTooLarge (the transaction stays running).
func (m *Manager) Read(ctx context.Context, id, key string) (ReadResult, error) {
	if err := ValidKey(key); err != nil {
		return ReadResult{}, err
	}
	t, err := m.lookup(id)
	if err != nil {
		return ReadResult{}, err
	}
	key = record.TenantName(t.tenant, key)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.status != Running {
		return ReadResult{}, statusErr(t.status)
	}
	if w, ok := t.writes[key]; ok {
		m.metrics.reads.WithLabelValues("own").Inc()
		return ReadResult{Value: w.value, Found: !w.tombstone}, nil
	}
	v, read := t.reads.Get(key)
	if !read {
		if n := t.reads.Len(); n >= m.cfg.MaxReadSet {
			return ReadResult{}, fmt.Errorf("txn %s read %d keys, the most one transaction may read (max read set, --max-read-set): %w; "+
				"split the work into smaller transactions", id, n, ErrReadSetTooLarge)
		}
		c := m.idx.Choose(&t.reads, key)
		if c.Skipped > 0 {
			m.metrics.skipped.Add(float64(c.Skipped))
		}
		v = c.Version
		t.reads.Add(key, v)
		if c.Tombstone {
			if t.deleted == nil {
				t.deleted = map[string]bool{}
			}
			t.deleted[key] = true
		}
	}
	if v.IsZero() || t.deleted[key] {
		m.metrics.reads.WithLabelValues("none").Inc()
		return ReadResult{Version: v}, nil
	}
	val, err := m.fetch(ctx, key, v)
	if err != nil {
		return ReadResult{}, err
	}
	return ReadResult{Value: val, Found: true, Version: v}, nil
}

// fetch returns the bytes of a committed version, from the cache or the store.
func (m *Manager) fetch(ctx context.Context, key string, v ra.Version) ([]byte, error) {
	sk := record.VersionKey(key, v)
	if val, ok := m.cache.Get(sk); ok {
		m.metrics.reads.WithLabelValues("cache").Inc()
		return val, nil
	}
	m.metrics.reads.WithLabelValues("store").Inc()
	val, err := m.store.Get(ctx, sk)
	if err != nil {
		// A committed version whose data is missing cannot happen while the store keeps what
		// it acknowledged: report it as a storage failure rather than as not-found.
		return nil, fmt.Errorf("read version %v of key: %w: %w", v, ErrStore, err)
	}
	m.cache.Add(sk, val)
	return val, nil
}

// MaxKeysListed bounds one Keys call.
const MaxKeysListed = 10_000

// Keys lists tenant's committed keys that start with prefix and sort after after, up to
// limit (at most MaxKeysListed; 0 means that), whose newest version is not a delete. It is
// an operator's listing of the present state, outside any transaction.
func (m *Manager) Keys(tenant, prefix, after string, limit int) []string {
	if limit <= 0 || limit > MaxKeysListed {
		limit = MaxKeysListed
	}
	if tenant == record.DefaultTenant {
		// Every other tenant's keys sort before the default tenant's.
		return m.idx.Keys(prefix, max(after, record.TenantLastName), limit)
	}
	if after != "" {
		after = record.TenantName(tenant, after)
	}
	keys := m.idx.Keys(record.TenantName(tenant, prefix), after, limit)
	for i, k := range keys {
		_, keys[i] = record.SplitTenantName(k)
	}
	return keys
}
