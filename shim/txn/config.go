package txn

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aft-shim/aft/shim/lease"
)

// Limits of keys, fixed by the API contract.
const (
	MaxKeySize     = 1024
	MaxIdemKeySize = 256
	// MaxResultSize is the largest result a commit may store (the API contract's 1 MiB).
	MaxResultSize = 1 << 20
)

// Config is the transaction manager's configuration. The zero value of a field means its
// default; Validate fills them in.
type Config struct {
	IdleTimeout      time.Duration // a running transaction idle this long is aborted (default 2m)
	CommitTimeout    time.Duration // bound on the storage writes of one commit (default 30s)
	MaxValueSize     int64         // largest value of one write (default 4 MiB, capped by the store's limit)
	MaxTxnBytes      int64         // largest write buffer of one transaction (default 64 MiB)
	MaxBufferedBytes int64         // write buffers of all running transactions together (default 1 GiB)
	CacheBytes       int64         // value cache size (default 64 MiB; negative disables)
	MaxReadSet       int           // distinct keys one transaction may read from the store (default 100,000)
	FinishedStatuses int           // finished transactions whose status is remembered (default 100,000)
	GCInterval       time.Duration // how often superseded versions are collected (default 200ms)
	OrphanGrace      time.Duration // data versions without a commit record this old are removed (default 5m)
	ResultRetention  time.Duration // results of committed idempotency keys are kept this long (default 24h)
	SweepInterval    time.Duration // how often orphans and expired results are swept (default 10m)
	// SyncInterval is how often a node on a shared store reads the commit log for the
	// other nodes' commits (default 100ms): see shared.go.
	SyncInterval time.Duration
	// SettleTime bounds how long after a store write returned an error it may still take
	// effect (default 5s): a request the store received goes on there after its caller gave
	// up. An abort or a late commit retry after a failed commit try waits this long before
	// it decides, from the store, whether the try's record landed.
	SettleTime time.Duration
	// MaxRunning bounds the running transactions; past it Begin fails with ErrBusy
	// (default 100,000).
	MaxRunning int
	// MaxIdemKeys bounds the idempotency keys whose attempts the manager tracks. At the
	// bound, a begin with a new key first forgets the keys with no running attempt (their
	// next attempt is numbered 1 again), and fails with ErrBusy only when all have one
	// (default MaxRunning).
	MaxIdemKeys int
	// TenantMaxRunning and TenantMaxBuffered bound what one tenant (record/tenant.go) may
	// hold of MaxRunning and MaxBufferedBytes, so that a noisy tenant cannot take it all;
	// past them its begins and writes fail with ErrTenantBusy (default 0: no bound of
	// their own).
	TenantMaxRunning  int
	TenantMaxBuffered int64
	// MaxLifetime bounds how long a transaction runs: one this old is aborted even while it
	// is used, so that no transaction holds garbage collection back for longer (default
	// 5 times IdleTimeout; at least IdleTimeout).
	MaxLifetime time.Duration

	// Node is this node's identity on the store, the same across its restarts. With one,
	// New takes the store's lease (package lease) and refuses to start while another live
	// node holds it; "" takes no lease, for a store no other manager uses (tests, a shim in
	// the process of a tool, the embedded store, which one process alone can open).
	Node      string
	NodeAddr  string        // where this node serves, named to a node its lease keeps out
	LeaseTime time.Duration // lifetime of the lease without renewal (default 15s); renewed every third of it

	// Log gets what start-up waits for (a store call retried, and when) and lease events;
	// nil logs nothing.
	Log *slog.Logger
	Now func() time.Time
}

// Defaults returns the value each zero field of a Config takes in Validate; MaxIdemKeys
// (default MaxRunning) and MaxLifetime (default 5 times IdleTimeout) follow other fields.
// `aft serve` shows these as its flags' defaults.
func Defaults() Config {
	return Config{
		IdleTimeout: 2 * time.Minute, CommitTimeout: 30 * time.Second, GCInterval: 200 * time.Millisecond,
		OrphanGrace: 5 * time.Minute, ResultRetention: 24 * time.Hour, SweepInterval: 10 * time.Minute,
		SettleTime: 5 * time.Second, SyncInterval: 100 * time.Millisecond, LeaseTime: lease.DefaultTime,
		MaxValueSize: 4 << 20, MaxTxnBytes: 64 << 20, MaxBufferedBytes: 1 << 30, CacheBytes: 64 << 20,
		MaxReadSet: 100_000, FinishedStatuses: 100_000, MaxRunning: 100_000,
	}
}

// Validate fills in defaults and rejects impossible settings.
func (c *Config) Validate() error {
	d := Defaults()
	orDefault(&c.IdleTimeout, d.IdleTimeout)
	orDefault(&c.CommitTimeout, d.CommitTimeout)
	orDefault(&c.GCInterval, d.GCInterval)
	orDefault(&c.OrphanGrace, d.OrphanGrace)
	orDefault(&c.ResultRetention, d.ResultRetention)
	orDefault(&c.SweepInterval, d.SweepInterval)
	orDefault(&c.SettleTime, d.SettleTime)
	orDefault(&c.SyncInterval, d.SyncInterval)
	orDefault(&c.LeaseTime, d.LeaseTime)
	orDefault(&c.MaxValueSize, d.MaxValueSize)
	orDefault(&c.MaxTxnBytes, d.MaxTxnBytes)
	orDefault(&c.MaxBufferedBytes, d.MaxBufferedBytes)
	orDefault(&c.CacheBytes, d.CacheBytes)
	orDefault(&c.MaxReadSet, d.MaxReadSet)
	orDefault(&c.FinishedStatuses, d.FinishedStatuses)
	orDefault(&c.MaxRunning, d.MaxRunning)
	orDefault(&c.MaxIdemKeys, c.MaxRunning)
	orDefault(&c.MaxLifetime, 5*c.IdleTimeout)
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	var errs []error
	for name, d := range map[string]time.Duration{"idle timeout": c.IdleTimeout, "commit timeout": c.CommitTimeout,
		"gc interval": c.GCInterval, "orphan grace": c.OrphanGrace, "result retention": c.ResultRetention, "sweep interval": c.SweepInterval, "settle time": c.SettleTime, "sync interval": c.SyncInterval,
		"lease time": c.LeaseTime} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s %v is negative", name, d))
		}
	}
	if c.MaxValueSize < 0 || c.MaxTxnBytes < c.MaxValueSize || c.MaxBufferedBytes < c.MaxTxnBytes {
		errs = append(errs, fmt.Errorf("limits must satisfy 0 <= max value (%d) <= max txn bytes (%d) <= max buffered bytes (%d)",
			c.MaxValueSize, c.MaxTxnBytes, c.MaxBufferedBytes))
	}
	if c.MaxReadSet < 0 {
		errs = append(errs, fmt.Errorf("max read set %d is negative", c.MaxReadSet))
	}
	if c.MaxRunning < 0 || c.MaxIdemKeys < 0 {
		errs = append(errs, fmt.Errorf("max running %d and max idempotency keys %d must not be negative", c.MaxRunning, c.MaxIdemKeys))
	}
	if c.MaxLifetime < c.IdleTimeout {
		errs = append(errs, fmt.Errorf("max transaction lifetime %v must be at least the idle timeout %v", c.MaxLifetime, c.IdleTimeout))
	}
	if c.Node != "" {
		if err := lease.CheckNodeID(c.Node); err != nil {
			errs = append(errs, err)
		}
		if c.LeaseTime < time.Second {
			errs = append(errs, fmt.Errorf("lease time %v: want at least 1s", c.LeaseTime))
		}
	}
	if c.FinishedStatuses < 0 {
		errs = append(errs, fmt.Errorf("finished statuses %d is negative", c.FinishedStatuses))
	}
	if c.OrphanGrace <= 2*(c.CommitTimeout+c.SettleTime+MaxClockSkew) {
		errs = append(errs, fmt.Errorf("orphan grace %v must exceed twice the commit timeout %v plus the settle time %v plus %v of clock skew",
			c.OrphanGrace, c.CommitTimeout, c.SettleTime, MaxClockSkew))
	}
	return errors.Join(errs...)
}

// orDefault sets *p to v when *p is its zero value.
func orDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}
