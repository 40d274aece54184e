package txn

import (
	"context"
	"errors"
	"time"

	"github.com/aft-shim/aft/shim/store"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the manager's Prometheus collectors.
type metrics struct {
	begun, committed, fenced, skipped prometheus.Counter
	aborted                           *prometheus.CounterVec // reason: client, expired, lifetime, error
	reads                             *prometheus.CounterVec // source: own, cache, store, none
	commitLatency                     prometheus.Histogram
	storeLatency                      *prometheus.HistogramVec // op
	storeErrors                       *prometheus.CounterVec   // op
	gcVersions, gcTxns, orphans       prometheus.Counter
	learned                           *prometheus.CounterVec // from: peer, store
	announced                         prometheus.Counter
	propagation                       prometheus.Histogram
}

func newMetrics() *metrics {
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "aft", Name: name, Help: help})
	}
	return &metrics{
		begun:     counter("txns_begun_total", "Transactions begun (attempts)."),
		committed: counter("txns_committed_total", "Transactions committed."),
		fenced:    counter("txns_fenced_total", "Attempts fenced because another attempt of their idempotency key committed."),
		skipped:   counter("versions_skipped_total", "Newer versions passed over by reads because reading them would fracture atomic visibility."),
		aborted: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "aft", Name: "txns_aborted_total",
			Help: "Transactions aborted, by reason (client, expired: idle, lifetime: past --txn-max-lifetime, error)."}, []string{"reason"}),
		reads: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "aft", Name: "reads_total",
			Help: "Reads by where the value came from: own (write buffer), cache, store, none (not found)."}, []string{"source"}),
		commitLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "aft", Name: "commit_duration_seconds",
			Help: "Time to commit a transaction: data versions, then the commit record.", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		storeLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "aft", Name: "store_op_duration_seconds",
			Help: "Latency of storage operations.", Buckets: prometheus.ExponentialBuckets(0.00005, 2, 18)}, []string{"op"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "aft", Name: "store_errors_total",
			Help: "Storage operations that failed (not counting not-found and already-exists answers)."}, []string{"op"}),
		gcVersions: counter("gc_versions_total", "Superseded data versions dropped by garbage collection."),
		gcTxns:     counter("gc_txns_total", "Committed transactions dropped from the index by garbage collection."),
		orphans:    counter("orphan_versions_removed_total", "Data versions without a commit record removed by the sweep."),
		learned: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "aft", Name: "commits_learned_total",
			Help: "Other nodes' commits applied here, by how they arrived: peer (pushed), store (read from the commit log)."}, []string{"from"}),
		announced: counter("commits_announced_again_total", "Commits whose log key landed late (a slow write, or an earlier try's), written again with a fresh stamp."),
		propagation: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "aft", Name: "propagation_delay_seconds",
			Help: "Time from another node's commit (its log stamp) to its being applied here.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
	}
}

// Collectors returns every metric of the manager, for registration.
func (m *Manager) Collectors() []prometheus.Collector {
	x := m.metrics
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "aft", Name: name, Help: help}, f)
	}
	return []prometheus.Collector{x.begun, x.committed, x.fenced, x.skipped, x.aborted, x.reads, x.commitLatency,
		x.storeLatency, x.storeErrors, x.gcVersions, x.gcTxns, x.orphans, x.learned, x.propagation, x.announced, tenantCollector{m},
		gauge("gc_backlog_batches", "Batches of garbage collected here that wait for every live node's horizon to pass them (shared stores).", func() float64 { return float64(m.gcBacklog()) }),
		gauge("lease_age_seconds", "Time since this node's lease record was last written (shared stores; 0 without a lease).", func() float64 { return m.leaseAge().Seconds() }),
		gauge("nodes_live", "Live nodes on the store as last read, this one included (shared stores).", func() float64 { return float64(len(m.Nodes())) }),
		gauge("buffered_bytes", "Bytes held in the write buffers of running transactions.", func() float64 { return float64(m.buffered.Load()) }),
		gauge("txns_running", "Running transactions.", func() float64 { return float64(m.Running()) }),
		gauge("index_txns", "Committed transactions held in the index.", func() float64 { return float64(m.idx.Stats().Txns) }),
		gauge("index_versions", "Committed versions held in the index.", func() float64 { return float64(m.idx.Stats().Versions) }),
		gauge("cache_bytes", "Bytes held by the value cache.", func() float64 { _, b := m.cache.Size(); return float64(b) }),
	}
}

// timedStore measures every storage call.
type timedStore struct {
	s store.Store
	m *metrics
}

func (t timedStore) observe(op string, start time.Time, err error) {
	t.m.storeLatency.WithLabelValues(op).Observe(time.Since(start).Seconds())
	if err != nil && !isAnswer(err) {
		t.m.storeErrors.WithLabelValues(op).Inc()
	}
}

func isAnswer(err error) bool {
	return errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrExists)
}

func (t timedStore) Get(ctx context.Context, key string) ([]byte, error) {
	start := time.Now()
	v, err := t.s.Get(ctx, key)
	t.observe("get", start, err)
	return v, err
}

func (t timedStore) Put(ctx context.Context, items []store.Item) error {
	start := time.Now()
	err := t.s.Put(ctx, items)
	t.observe("put", start, err)
	return err
}

func (t timedStore) Create(ctx context.Context, key string, value []byte) error {
	start := time.Now()
	err := t.s.Create(ctx, key, value)
	t.observe("create", start, err)
	return err
}

func (t timedStore) Delete(ctx context.Context, keys []string) error {
	start := time.Now()
	err := t.s.Delete(ctx, keys)
	t.observe("delete", start, err)
	return err
}

func (t timedStore) List(ctx context.Context, prefix string, withValues bool, fn func(string, []byte) error) error {
	start := time.Now()
	err := t.s.List(ctx, prefix, withValues, fn)
	t.observe("list", start, err)
	return err
}

func (t timedStore) Close() error { return t.s.Close() }

// timedCommitter measures PutCreate.
type timedCommitter struct {
	c store.Committer
	m *metrics
}

func (t timedCommitter) PutCreate(ctx context.Context, items []store.Item, key string, value []byte) error {
	start := time.Now()
	err := t.c.PutCreate(ctx, items, key, value)
	timedStore{m: t.m}.observe("put_create", start, err)
	return err
}

// timedOrdered measures the ordered listings of a shared store.
type timedOrdered struct {
	o store.Ordered
	m *metrics
}

func (t timedOrdered) ListAfter(ctx context.Context, dir, after string, limit int, fn func(string) error) error {
	start := time.Now()
	err := t.o.ListAfter(ctx, dir, after, limit, fn)
	timedStore{m: t.m}.observe("list_after", start, err)
	return err
}
