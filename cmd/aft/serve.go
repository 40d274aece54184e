package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aft-shim/aft/shim/backend"
	"github.com/aft-shim/aft/shim/lease"
	"github.com/aft-shim/aft/shim/retry"
	"github.com/aft-shim/aft/shim/server"
	"github.com/aft-shim/aft/shim/store"
	"github.com/aft-shim/aft/shim/store/faults"
	"github.com/aft-shim/aft/shim/txn"
	"github.com/prometheus/client_golang/prometheus"
)

// serveConfig is the whole configuration of `aft serve`, validated once.
type serveConfig struct {
	Listen          string
	DataDir         string
	Store           string
	CreateStore     bool
	ShutdownTimeout time.Duration
	NoSync          bool
	LogLevel        string
	StoreLatency    time.Duration // injected per storage call, to model a remote store
	StoreJitter     time.Duration
	BodyTimeout     time.Duration // a request body must start arriving within this
	BodyMinRate     size          // and then bring this many bytes a second
	StartTimeout    time.Duration // bound on start-up's retries of the store; 0: until SIGTERM
	Txn             txn.Config    // Txn.Node: --node-id
}

func (c *serveConfig) validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return usage("--listen %q: want host:port: %v", c.Listen, err)
	}
	if c.Store == "" && c.DataDir == "" {
		return usage("--data-dir is empty: the embedded store needs a directory")
	}
	if err := backend.Check(c.Store); err != nil {
		return usage("--store: %v", err)
	}
	if c.StoreLatency < 0 || c.StoreJitter < 0 {
		return usage("--store-latency and --store-jitter must not be negative")
	}
	if c.BodyTimeout < 0 || c.BodyMinRate < 0 {
		return usage("--body-timeout and --body-min-rate must not be negative")
	}
	if c.StartTimeout < 0 {
		return usage("--start-timeout %v must not be negative", c.StartTimeout)
	}
	if c.Txn.Node != "" {
		if err := lease.CheckNodeID(c.Txn.Node); err != nil {
			return usage("--node-id: %v", err)
		}
	}
	if c.ShutdownTimeout <= 0 {
		return usage("--shutdown-timeout %v must be positive", c.ShutdownTimeout)
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return usage("--log-level %q: want debug, info, warn or error", c.LogLevel)
	}
	if err := c.Txn.Validate(); err != nil {
		return usage("%v", err)
	}
	return nil
}

type serveCmd struct{}

func (serveCmd) flags(c *serveConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&c.Listen, "listen", "127.0.0.1:7654", "HTTP address of the API")
	fs.StringVar(&c.DataDir, "data-dir", "./aft-data", "directory of the embedded store (created if missing)")
	fs.StringVar(&c.Store, "store", "", "storage backend URL (empty: the embedded store in --data-dir; mem:// for tests)")
	fs.BoolVar(&c.CreateStore, "create-store", false, "create the DynamoDB table or S3 bucket when missing")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "how long SIGTERM waits for in-flight requests")
	fs.BoolVar(&c.NoSync, "no-sync", false, "embedded store: skip fsync (UNSAFE: a machine crash may lose acknowledged commits; for benchmarks)")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.DurationVar(&c.StoreLatency, "store-latency", 0, "add this latency to every storage call (to model a remote store on one machine)")
	fs.DurationVar(&c.StoreJitter, "store-jitter", 0, "plus a uniform random extra latency up to this")
	fs.DurationVar(&c.BodyTimeout, "body-timeout", server.DefaultBodyTimeout, "a request body must start arriving within this (0: no bound on bodies)")
	c.BodyMinRate = server.DefaultBodyMinRate
	fs.Var(&c.BodyMinRate, "body-min-rate", "and then arrive at this many bytes a second on average, else 408 (0: --body-timeout bounds the whole body)")
	fs.DurationVar(&c.StartTimeout, "start-timeout", 0, "give up start-up after this long when the store keeps failing (0: retry until SIGTERM)")
	fs.StringVar(&c.Txn.Node, "node-id", "", "this node's identity in the lease of a shared store, the same across restarts (default: kept in --data-dir/node-id)")
	fs.DurationVar(&c.Txn.LeaseTime, "lease-time", lease.DefaultTime, "shared store: a node that stops renewing its lease keeps others out this long")
	t := &c.Txn
	fs.DurationVar(&t.IdleTimeout, "txn-timeout", 2*time.Minute, "abort running transactions idle this long")
	fs.DurationVar(&t.CommitTimeout, "commit-timeout", 30*time.Second, "bound on the storage writes of one commit")
	fs.Var((*size)(&t.MaxValueSize), "max-value-size", "largest value of one write (default 4MiB)")
	fs.Var((*size)(&t.MaxTxnBytes), "max-txn-size", "largest write buffer of one transaction (default 64MiB)")
	fs.Var((*size)(&t.MaxBufferedBytes), "max-buffered", "write buffers of all running transactions together (default 1GiB)")
	fs.Var((*size)(&t.CacheBytes), "cache-size", "value cache size (default 64MiB)")
	fs.IntVar(&t.MaxReadSet, "max-read-set", 100_000, "distinct keys one transaction may read from the store (more: 413 read_set_too_large)")
	fs.IntVar(&t.FinishedStatuses, "finished-statuses", 100_000, "finished transactions whose status is remembered")
	fs.IntVar(&t.MaxRunning, "max-running", 100_000, "running transactions at once; past it begin answers 503 busy")
	fs.IntVar(&t.MaxIdemKeys, "max-idem-keys", 0, "idempotency keys with running attempts at once; past it begin answers 503 busy (default --max-running)")
	fs.DurationVar(&t.MaxLifetime, "txn-max-lifetime", 0, "abort transactions running this long even when active (default 5 times --txn-timeout)")
	fs.DurationVar(&t.GCInterval, "gc-interval", 200*time.Millisecond, "how often superseded versions are collected")
	fs.DurationVar(&t.OrphanGrace, "orphan-grace", 5*time.Minute, "age after which data versions without a commit record are removed")
	fs.DurationVar(&t.ResultRetention, "result-retention", 24*time.Hour, "how long the stored result of a committed idempotency key is kept")
	fs.DurationVar(&t.SweepInterval, "sweep-interval", 10*time.Minute, "how often orphans and expired results are swept")
	fs.DurationVar(&t.SettleTime, "settle-time", 5*time.Second, "how long after a failed store write it may still land; an abort after a failed commit waits this long")
	return fs
}

func (s serveCmd) Run(ctx context.Context, args []string) error {
	var cfg serveConfig
	if err := parseFlags(s.flags(&cfg), args); err != nil {
		return err
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	return serve(ctx, cfg, os.Stdout)
}

// serve runs the shim until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, cfg serveConfig, out *os.File) error {
	var lvl slog.Level
	lvl.UnmarshalText([]byte(cfg.LogLevel))
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))

	m, desc, release, err := startUp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer release()

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another aft running? pick another address with --listen)", cfg.Listen, err)
	}
	api := server.New(m, prometheus.NewRegistry(), log)
	api.BodyTimeout, api.BodyMinRate = cfg.BodyTimeout, int64(cfg.BodyMinRate)
	// No ReadTimeout: one fixed bound for header and body would either cut a large value
	// on a slow link (64 MiB at 1 MB/s takes a minute) or, set for that, let a trickling
	// body hold its connection and memory as long. Bodies are bounded per request instead
	// (server.Server.BodyTimeout): --body-timeout to start, then --body-min-rate, so the
	// bound grows with what arrives. Headers and idle kept-alive connections have their
	// own bounds here.
	srv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	fmt.Fprintf(out, "aft serve: listening on %s (store: %s)\n", ln.Addr(), desc)

	var lost error
	select {
	case err := <-done:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	case <-m.Lost():
		lost = errors.New("another node took over this store's lease (this node could not renew it in time): stopped, as two nodes on one store lose each other's commits")
	}
	log.Info("shutting down: finishing in-flight requests", "timeout", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		log.Warn("shutdown", "err", err)
	}
	return lost
}

// startUp opens the store and recovers the shim over it. Transient store errors are retried
// until ctx ends or --start-timeout passes, each wait logged; a bad URL, a missing table or
// bucket, a data directory in use or another node's lease fail at once. release closes the
// manager (releasing the lease), the store and the node id file, in that order.
func startUp(ctx context.Context, cfg serveConfig, log *slog.Logger) (m *txn.Manager, desc string, release func(), err error) {
	var undo []func()
	undoAll := func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	defer func() {
		if err != nil {
			undoAll()
		}
	}()
	if cfg.StartTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.StartTimeout)
		defer cancel()
	}
	// A shared store takes a lease in the name of the node; the embedded store is held by
	// one process alone, and mem:// by nobody else.
	if shared := cfg.Store != "" && !strings.HasPrefix(cfg.Store, "mem:"); !shared {
		cfg.Txn.Node = ""
	} else if cfg.Txn.Node == "" {
		id, unlock, err := lease.NodeID(cfg.DataDir)
		if err != nil {
			return nil, "", nil, err
		}
		undo = append(undo, unlock)
		cfg.Txn.Node = id
	}
	cfg.Txn.Log = log
	if !strings.HasSuffix(cfg.Listen, ":0") { // a port chosen at random names nothing yet
		cfg.Txn.NodeAddr = cfg.Listen
	}

	var st store.Store
	err = retry.Policy{Log: log}.Do(ctx, "open store", func(ctx context.Context) error {
		var err error
		st, desc, err = backend.Open(ctx, cfg.Store, backend.Options{DataDir: cfg.DataDir, CreateStore: cfg.CreateStore, NoSync: cfg.NoSync})
		return err
	})
	if err != nil {
		return nil, "", nil, err
	}
	undo = append(undo, func() { st.Close() })
	if cfg.StoreLatency > 0 || cfg.StoreJitter > 0 {
		st, _ = faults.Wrap(st, faults.Options{Latency: cfg.StoreLatency, Jitter: cfg.StoreJitter})
		desc += fmt.Sprintf(", +%v latency", cfg.StoreLatency)
	}
	start := time.Now()
	if m, err = txn.New(ctx, st, cfg.Txn); err != nil {
		return nil, "", nil, err
	}
	undo = append(undo, func() { m.Close() })
	if cfg.Txn.Node != "" {
		desc += ", node " + cfg.Txn.Node
	}
	log.Info("recovered", "store", desc, "took", time.Since(start).Round(time.Millisecond))
	return m, desc, undoAll, nil
}
