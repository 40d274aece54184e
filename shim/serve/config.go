package serve

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/aft-shim/aft/api"
	"github.com/aft-shim/aft/shim/backend"
	"github.com/aft-shim/aft/shim/lease"
	"github.com/aft-shim/aft/shim/peer"
	"github.com/aft-shim/aft/shim/server"
	"github.com/aft-shim/aft/shim/txn"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of `aft serve` besides the transaction manager's (txn.Config fills those).
const (
	DefaultListen          = "127.0.0.1:7654"
	DefaultDataDir         = "./aft-data"
	DefaultShutdownTimeout = 10 * time.Second
	DefaultLogLevel        = "info"
)

// Config is the whole configuration of a shim, as `aft serve` takes it from its flags.
// Validate checks it once and fills the transaction manager's defaults. The zero value of
// BodyTimeout and BodyMinRate means no bound: start from Defaults for a shim that bounds
// request bodies as `aft serve` does.
type Config struct {
	Listen          string        // host:port of the API (Run)
	PprofListen     string        // host:port of Go's profiler, /debug/pprof/ (Run); "": none
	DataDir         string        // the embedded store, or the node id file of a shared store (Open)
	Store           string        // a --store URL; "" is the embedded store in DataDir (Open)
	CreateStore     bool          // create a missing DynamoDB table or S3 bucket (Open)
	ShutdownTimeout time.Duration // how long Run's shutdown waits for requests in flight
	NoSync          bool          // the embedded store skips fsync (Open)
	LogLevel        string        // debug, info, warn or error (Logger)
	StoreLatency    time.Duration // injected per storage call, to model a remote store
	StoreJitter     time.Duration // plus a uniform random extra latency up to this
	BodyTimeout     time.Duration // a request body must start arriving, an answer's write be taken, within this; 0: no bound
	BodyMinRate     int64         // plus a second for this many bytes of either; 0: BodyTimeout bounds the whole body
	StartTimeout    time.Duration // bound on start-up's retries of the store; 0: until ctx ends
	Txn             txn.Config    // Txn.Node: --node-id; Txn.Log: set by Open from its logger
	// Several nodes on a shared store (http-api.md, "Several nodes"): the base URL other
	// nodes and functions reach this one at ("": http:// and the address listened on), and
	// the other nodes to push commits to (--peers, see peer.ParsePeers).
	Advertise string
	Peers     string

	// Callers and TLS (http-api.md, "Callers and tenants"; see auth.go and tls.go).
	AuthFile    string // tokens and their tenants, re-read when it changes; "": no authentication
	Insecure    bool   // listen beyond loopback without AuthFile
	TLSCert     string // serve HTTPS with this certificate and TLSKey, re-read when they change
	TLSKey      string
	TLSClientCA string // also require client certificates signed by this CA (followed as it changes)
	// This node as a caller of its peers: the token its pushes carry and the CA bundle
	// that checks https peers (--shim-token-file or AFT_SHIM_TOKEN, --shim-ca).
	PeerToken string
	PeerCA    string

	// Registry gets the shim's metrics, which Handler serves on /metrics; nil: a registry
	// of its own. Not a flag: for a process that gathers the shim's metrics with its own.
	Registry *prometheus.Registry
}

// Defaults returns the configuration `aft serve` runs with when given no flag.
func Defaults() Config {
	return Config{
		Listen:          DefaultListen,
		DataDir:         DefaultDataDir,
		ShutdownTimeout: DefaultShutdownTimeout,
		LogLevel:        DefaultLogLevel,
		BodyTimeout:     server.DefaultBodyTimeout,
		BodyMinRate:     server.DefaultBodyMinRate,
	}
}

// Validate rejects a configuration `aft serve` cannot run, naming the flag at fault, and
// fills the transaction manager's defaults in c.Txn.
func (c *Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("--listen %q: want host:port: %v", c.Listen, err)
	}
	if c.PprofListen != "" {
		if _, _, err := net.SplitHostPort(c.PprofListen); err != nil {
			return fmt.Errorf("--pprof-listen %q: want host:port: %v", c.PprofListen, err)
		}
	}
	if c.Store == "" && c.DataDir == "" {
		return errors.New("--data-dir is empty: the embedded store needs a directory")
	}
	if err := backend.Check(c.Store); err != nil {
		return fmt.Errorf("--store: %v", err)
	}
	if c.StoreLatency < 0 || c.StoreJitter < 0 {
		return errors.New("--store-latency and --store-jitter must not be negative")
	}
	if c.BodyTimeout < 0 || c.BodyMinRate < 0 {
		return errors.New("--body-timeout and --body-min-rate must not be negative")
	}
	if c.StartTimeout < 0 {
		return fmt.Errorf("--start-timeout %v must not be negative", c.StartTimeout)
	}
	peers, err := peer.ParsePeers(c.Peers)
	if err != nil {
		return fmt.Errorf("--peers: %v", err)
	}
	if len(peers) > 0 && !c.SharedStore() {
		return errors.New("--peers: the embedded store (and mem://) is one node's alone; several nodes need a shared store (--store redis://, dynamodb://, s3://)")
	}
	if c.Advertise != "" {
		a, err := api.BaseURL(c.Advertise) // an IPv6 $(POD_IP) gets its brackets
		if err != nil {
			return fmt.Errorf("--advertise %v", err)
		}
		c.Advertise = a
	}
	if err := c.validateCallers(); err != nil {
		return err
	}
	if c.Txn.Node != "" {
		if err := lease.CheckNodeID(c.Txn.Node); err != nil {
			return fmt.Errorf("--node-id: %v", err)
		}
	}
	if c.ShutdownTimeout <= 0 {
		return fmt.Errorf("--shutdown-timeout %v must be positive", c.ShutdownTimeout)
	}
	if _, err := c.level(); err != nil {
		return err
	}
	return c.Txn.Validate()
}

// SharedStore reports whether the store may be shared by several nodes: not the embedded
// one, which one process alone can open, and not mem://, which lives in one process.
func (c *Config) SharedStore() bool {
	return c.Store != "" && !strings.HasPrefix(c.Store, "mem:")
}

// level parses LogLevel.
func (c *Config) level() (slog.Level, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return lvl, fmt.Errorf("--log-level %q: want debug, info, warn or error", c.LogLevel)
	}
	return lvl, nil
}

// Logger returns the text logger `aft serve` logs with: to w, at LogLevel (info when
// LogLevel is not a level; Validate rejects that).
func (c *Config) Logger(w io.Writer) *slog.Logger {
	lvl, _ := c.level()
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl}))
}
