package main

import (
	"context"
	"flag"
	"os"

	"github.com/aft-shim/aft/shim/serve"
	"github.com/aft-shim/aft/shim/txn"
)

// serveCmd is `aft serve`: its flags fill a serve.Config, and package serve runs it.
type serveCmd struct {
	tokenFile string // --shim-token-file
}

func (s *serveCmd) flags(c *serve.Config) *flag.FlagSet {
	d, td := serve.Defaults(), txn.Defaults()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&c.Listen, "listen", d.Listen, "HTTP address of the API")
	fs.StringVar(&c.PprofListen, "pprof-listen", "", "serve Go's profiler (/debug/pprof/) on this host:port, apart from the API (empty: off; keep it on loopback: profiles show data in memory)")
	fs.StringVar(&c.DataDir, "data-dir", d.DataDir, "directory of the embedded store (created if missing)")
	fs.StringVar(&c.Store, "store", "", "storage backend URL (empty: the embedded store in --data-dir; mem:// for tests)")
	fs.BoolVar(&c.CreateStore, "create-store", false, "create the DynamoDB table or S3 bucket when missing")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", d.ShutdownTimeout, "how long SIGTERM waits for in-flight requests")
	fs.BoolVar(&c.NoSync, "no-sync", false, "embedded store: skip fsync (UNSAFE: a machine crash may lose acknowledged commits; for benchmarks)")
	fs.StringVar(&c.LogLevel, "log-level", d.LogLevel, "log level: debug, info, warn, error")
	fs.DurationVar(&c.StoreLatency, "store-latency", 0, "add this latency to every storage call (to model a remote store on one machine)")
	fs.DurationVar(&c.StoreJitter, "store-jitter", 0, "plus a uniform random extra latency up to this")
	fs.DurationVar(&c.BodyTimeout, "body-timeout", d.BodyTimeout, "a request body must start arriving, and each write of an answer be taken, within this (0: no bound)")
	c.BodyMinRate = d.BodyMinRate
	fs.Var((*size)(&c.BodyMinRate), "body-min-rate", "plus a second for this many bytes of either, on average; a body slower gets 408, an answer slower is cut (0: --body-timeout bounds the whole)")
	fs.DurationVar(&c.StartTimeout, "start-timeout", 0, "give up start-up after this long when the store keeps failing (0: retry until SIGTERM)")
	fs.StringVar(&c.Txn.Node, "node-id", "", "this node's identity in the lease of a shared store, the same across restarts (default: kept in --data-dir/node-id)")
	fs.DurationVar(&c.Txn.LeaseTime, "lease-time", td.LeaseTime, "shared store: a node that stops renewing its lease keeps others out this long")
	fs.StringVar(&c.Advertise, "advertise", "", "the base URL other nodes and functions use to reach this node (default: http:// and the address listened on)")
	fs.StringVar(&c.Peers, "peers", "", "the other nodes on the shared store, to push commits to: comma-separated base URLs, or dns+http://NAME:PORT (every address NAME resolves to, re-resolved)")
	fs.DurationVar(&c.Txn.SyncInterval, "sync-interval", td.SyncInterval, "shared store: how often the store's commit log is read for other nodes' commits (the bound on their visibility here while they are reachable)")
	fs.StringVar(&c.AuthFile, "auth-file", "", "tokens and their tenants, one \"TENANT SHA256-HEX-OF-TOKEN\" per line (aft token new TENANT prints one); re-read when it changes (empty: no authentication)")
	fs.BoolVar(&c.Insecure, "insecure", false, "allow listening beyond loopback without --auth-file: everyone who reaches the node may read and write every key")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "serve HTTPS with this certificate (PEM), re-read when it changes")
	fs.StringVar(&c.TLSKey, "tls-key", "", "and this key (PEM)")
	fs.StringVar(&c.TLSClientCA, "tls-client-ca", "", "also require client certificates signed by this CA (PEM bundle, followed as it changes)")
	fs.StringVar(&s.tokenFile, "shim-token-file", "", "with --peers and peers run with --auth-file: the file of the token this node's pushes carry (or AFT_SHIM_TOKEN)")
	fs.StringVar(&c.PeerCA, "shim-ca", "", "with https:// peers: the CA bundle (PEM) that checks them")
	t := &c.Txn
	fs.IntVar(&t.TenantMaxRunning, "tenant-max-running", 0, "running transactions of one tenant at once; past it its begins answer 429 tenant_busy (0: no bound but --max-running)")
	fs.Var((*size)(&t.TenantMaxBuffered), "tenant-max-buffered", "write buffers and request bodies of one tenant together; past it 429 tenant_busy (0: no bound but --max-buffered)")
	fs.DurationVar(&t.IdleTimeout, "txn-timeout", td.IdleTimeout, "abort running transactions idle this long")
	fs.DurationVar(&t.CommitTimeout, "commit-timeout", td.CommitTimeout, "bound on the storage writes of one commit")
	fs.Var((*size)(&t.MaxValueSize), "max-value-size", "largest value of one write (default 4MiB)")
	fs.Var((*size)(&t.MaxTxnBytes), "max-txn-size", "largest write buffer of one transaction (default 64MiB)")
	fs.Var((*size)(&t.MaxBufferedBytes), "max-buffered", "write buffers of all running transactions together (default 1GiB)")
	fs.Var((*size)(&t.CacheBytes), "cache-size", "value cache size (default 64MiB)")
	fs.IntVar(&t.MaxReadSet, "max-read-set", td.MaxReadSet, "distinct keys one transaction may read from the store (more: 413 read_set_too_large)")
	fs.IntVar(&t.FinishedStatuses, "finished-statuses", td.FinishedStatuses, "finished transactions whose status is remembered")
	fs.IntVar(&t.MaxRunning, "max-running", td.MaxRunning, "running transactions at once; past it begin answers 503 busy")
	fs.IntVar(&t.MaxIdemKeys, "max-idem-keys", 0, "idempotency keys with running attempts at once; past it begin answers 503 busy (default --max-running)")
	fs.DurationVar(&t.MaxLifetime, "txn-max-lifetime", 0, "abort transactions running this long even when active (default 5 times --txn-timeout)")
	fs.DurationVar(&t.GCInterval, "gc-interval", td.GCInterval, "how often superseded versions are collected")
	fs.DurationVar(&t.OrphanGrace, "orphan-grace", td.OrphanGrace, "age after which data versions without a commit record are removed")
	fs.DurationVar(&t.ResultRetention, "result-retention", td.ResultRetention, "how long the stored result of a committed idempotency key is kept")
	fs.DurationVar(&t.SweepInterval, "sweep-interval", td.SweepInterval, "how often orphans and expired results are swept")
	fs.DurationVar(&t.SettleTime, "settle-time", td.SettleTime, "how long after a failed store write it may still land; an abort after a failed commit waits this long")
	return fs
}

// config parses args (and the environment) into a validated serve.Config; a bad flag or
// value is a usage error.
func (s *serveCmd) config(args []string) (serve.Config, error) {
	var cfg serve.Config
	if err := parseFlags(s.flags(&cfg), args); err != nil {
		return cfg, err
	}
	token, err := readToken(s.tokenFile)
	if err != nil {
		return cfg, &usageError{err}
	}
	cfg.PeerToken = token
	if err := cfg.Validate(); err != nil {
		return cfg, &usageError{err}
	}
	return cfg, nil
}

func (s *serveCmd) Run(ctx context.Context, args []string) error {
	cfg, err := s.config(args)
	if err != nil {
		return err
	}
	return serve.Run(ctx, cfg, os.Stdout, cfg.Logger(os.Stderr))
}
