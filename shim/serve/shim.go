package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aft-shim/aft/api"
	"github.com/aft-shim/aft/internal/h1"
	"github.com/aft-shim/aft/internal/redact"
	"github.com/aft-shim/aft/shim/backend"
	"github.com/aft-shim/aft/shim/lease"
	"github.com/aft-shim/aft/shim/peer"
	"github.com/aft-shim/aft/shim/retry"
	"github.com/aft-shim/aft/shim/server"
	"github.com/aft-shim/aft/shim/store"
	"github.com/aft-shim/aft/shim/store/faults"
	"github.com/aft-shim/aft/shim/txn"
	"github.com/prometheus/client_golang/prometheus"
)

// Bounds of `aft serve`'s HTTP server on a request before the API reads it (bodies and
// answers are paced by the API: server.Server.BodyTimeout).
const (
	// MaxHeaderBytes bounds a request's line and headers together (the server reads up
	// to 4 KiB past it, as net/http does). The API's own are small: a key of at most 3 KiB
	// percent-encoded in the path, a token, an idempotency key of at most 256 bytes. Past
	// it the answer is 431 {"code": "headers_too_large"} and the connection closes.
	MaxHeaderBytes = 64 << 10
	// HeaderTimeout bounds the arrival of a request's line and headers, from the start of
	// the connection (after its TLS handshake, which it bounds too) or, on a kept-alive
	// one, from the request's first byte; past it the connection is closed without an
	// answer.
	HeaderTimeout = 10 * time.Second
	// IdleTimeout closes a kept-alive connection that brings no new request this long.
	IdleTimeout = 2 * time.Minute
)

// Shim is a shim ready to serve: a transaction manager recovered over its store, and the
// HTTP API in front of it. Close (or Shutdown) it when done.
type Shim struct {
	m    *txn.Manager
	api  *server.Server
	reg  *prometheus.Registry
	desc string
	log  *slog.Logger
	undo []func() error // run last first by Close: the node id file, the store, the manager

	mu      sync.Mutex
	servers []*h1.Server
	closed  bool
	once    sync.Once
	err     error // of Close
}

// Open opens the store cfg names and recovers the shim over it, as `aft serve` starts.
// Transient store errors are retried until ctx ends or cfg.StartTimeout passes, each wait
// logged; a bad URL, a missing table or bucket, a data directory in use or another node's
// lease fail at once. A shared store (not the embedded one, not mem://) is used in the
// name of cfg.Txn.Node, by default the identity kept in cfg.DataDir/node-id, which the
// shim holds locked until Close. log gets start-up's waits and lease events (nil: nothing).
// cfg should have passed Validate.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (_ *Shim, err error) {
	log = orDiscard(log)
	ctx, cancel := cfg.startContext(ctx)
	defer cancel()
	var undo []func() error
	defer func() {
		if err != nil {
			runLastFirst(undo)
		}
	}()
	// A shared store takes a lease in the name of the node; the embedded store is held by
	// one process alone, and mem:// by nobody else.
	if !cfg.SharedStore() {
		cfg.Txn.Node = ""
	} else if cfg.Txn.Node == "" {
		id, unlock, err := lease.NodeID(cfg.DataDir)
		if err != nil {
			return nil, err
		}
		undo = append(undo, func() error { unlock(); return nil })
		cfg.Txn.Node = id
	}
	if cfg.Advertise != "" {
		cfg.Txn.NodeAddr = cfg.Advertise
	} else if !strings.HasSuffix(cfg.Listen, ":0") { // a port chosen at random names nothing yet
		cfg.Txn.NodeAddr = "http://" + cfg.Listen
	}
	var st store.Store
	var desc string
	err = retry.Policy{Log: log}.Do(ctx, "open store", func(ctx context.Context) error {
		var err error
		st, desc, err = backend.Open(ctx, cfg.Store, backend.Options{DataDir: cfg.DataDir, CreateStore: cfg.CreateStore, NoSync: cfg.NoSync})
		return err
	})
	if err != nil {
		return nil, err
	}
	undo = append(undo, st.Close)
	return start(ctx, st, desc, cfg, log, undo)
}

// OpenStore recovers a shim over st, a store the caller opened (in memory, embedded, under
// faults): what Open does after opening its store. st stays the caller's: Close does not
// close it, and the caller closes it after the shim. cfg.Listen, Store, DataDir,
// CreateStore and NoSync are not used; cfg.Txn.Node, when set, takes st's lease (naming
// cfg.Txn.NodeAddr as its address). Describe says cfg.Store (passwords hidden) or
// "in process".
func OpenStore(ctx context.Context, st store.Store, cfg Config, log *slog.Logger) (*Shim, error) {
	log = orDiscard(log)
	ctx, cancel := cfg.startContext(ctx)
	defer cancel()
	desc := "in process"
	if cfg.Store != "" {
		desc = redact.URL(cfg.Store)
	}
	return start(ctx, st, desc, cfg, log, nil)
}

// startContext bounds start-up by cfg.StartTimeout, when set.
func (c *Config) startContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.StartTimeout > 0 {
		return context.WithTimeout(ctx, c.StartTimeout)
	}
	return ctx, func() {}
}

// start adds the injected latency to st and recovers the manager over it. undo releases
// what the caller took so far: the Shim's Close runs it, or the caller when start fails.
func start(ctx context.Context, st store.Store, desc string, cfg Config, log *slog.Logger, undo []func() error) (*Shim, error) {
	cfg.Txn.Log = log
	st, desc = WithLatency(st, desc, cfg.StoreLatency, cfg.StoreJitter)
	hc, err := cfg.peerClient()
	if err != nil {
		return nil, err
	}
	authFile, stopAuth, err := cfg.openAuth(log)
	if err != nil {
		return nil, err
	}
	began := time.Now()
	m, err := txn.New(ctx, st, cfg.Txn)
	if err != nil {
		stopAuth()
		return nil, err
	}
	undo = append(undo, m.Close)
	if cfg.Txn.Node != "" {
		desc += ", node " + cfg.Txn.Node
	}
	log.Info("recovered", "store", desc, "took", time.Since(began).Round(time.Millisecond))
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	api := server.New(m, reg, log)
	api.BodyTimeout, api.BodyMinRate = cfg.BodyTimeout, cfg.BodyMinRate
	undo = append(undo, stopAuth)
	api.ClientCerts = cfg.TLSClientCA != ""
	if authFile != nil {
		api.Auth = authFile
		desc += ", tokens from " + cfg.AuthFile
	}
	if peers, _ := peer.ParsePeers(cfg.Peers); len(peers) > 0 && m.Shared() {
		p := peer.New(peer.Options{Peers: peers, Self: cfg.Txn.NodeAddr, Log: log, Client: hc, Token: cfg.PeerToken})
		reg.MustRegister(p.Collectors()...)
		pctx, stop := context.WithCancel(context.Background())
		go p.Run(pctx)
		m.SetPush(p.Push)
		undo = append(undo, func() error { stop(); return nil })
		desc += fmt.Sprintf(", %d peer entries", len(peers))
	}
	return &Shim{m: m, api: api, reg: reg, desc: desc, log: log, undo: undo}, nil
}

// WithLatency returns st with latency (plus a uniform random extra up to jitter) added to
// every call, and desc saying so; st and desc as they are when both are zero. Closing the
// store returned closes st.
func WithLatency(st store.Store, desc string, latency, jitter time.Duration) (store.Store, string) {
	if latency <= 0 && jitter <= 0 {
		return st, desc
	}
	st, _ = faults.Wrap(st, faults.Options{Latency: latency, Jitter: jitter})
	return st, desc + fmt.Sprintf(", +%v latency", latency)
}

// Handler returns the HTTP API (spec/http-api.md), metrics on /metrics included.
func (s *Shim) Handler() http.Handler { return s.api }

// Manager returns the transaction manager.
func (s *Shim) Manager() *txn.Manager { return s.m }

// Registry returns the registry of the shim's metrics (Config.Registry when one was given).
func (s *Shim) Registry() *prometheus.Registry { return s.reg }

// Describe describes the store in a few words, as the ready line says it: the backend, the
// injected latency, the node.
func (s *Shim) Describe() string { return s.desc }

// Lost is closed when another node took the store's lease over: the shim must stop
// (txn.Manager.Lost).
func (s *Shim) Lost() <-chan struct{} { return s.m.Lost() }

// Serve serves the API on ln until Shutdown or Close, and returns http.ErrServerClosed
// then (at once when the shim is closed already); any other error is the listener's.
func (s *Shim) Serve(ln net.Listener) error {
	// No ReadTimeout: one fixed bound for header and body would either cut a large value
	// on a slow link (64 MiB at 1 MB/s takes a minute) or, set for that, let a trickling
	// body hold its connection and memory as long. Bodies are paced per request instead
	// (server.Server.BodyTimeout): --body-timeout to start, then --body-min-rate, so the
	// bound grows with what arrives; so are answers, write by write.
	//
	// WriteTimeout, the start of that pace, bounds what the server writes by itself (a
	// 431 or 400 before the API runs, a 100 Continue). Each answer of the API replaces it
	// with a deadline of its own before it writes, so a handler that outlives it still
	// answers. HeaderTimeout bounds TLS handshakes too.
	//
	// The server is h1's, not net/http's: a third less CPU per call (issue 14), the same
	// bounds, and errors before the API runs answered in the API's JSON.
	srv := &h1.Server{
		Handler:        s.api,
		HeaderTimeout:  HeaderTimeout,
		MaxHeaderBytes: MaxHeaderBytes,
		WriteTimeout:   s.api.BodyTimeout,
		IdleTimeout:    IdleTimeout,
		ErrorBody:      requestError,
		Log:            s.log,
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return http.ErrServerClosed
	}
	s.servers = append(s.servers, srv)
	s.mu.Unlock()
	return srv.Serve(ln)
}

// Shutdown stops serving gracefully: it stops listening, waits until the requests in
// flight are answered or ctx ends, then closes the shim as Close does. Its error is the
// HTTP servers' (ctx's when requests were still running) joined with Close's.
func (s *Shim) Shutdown(ctx context.Context) error {
	var errs []error
	for _, srv := range s.stopServing() {
		errs = append(errs, srv.Shutdown(ctx))
	}
	return errors.Join(append(errs, s.release())...)
}

// Close stops serving at once and releases, in this order, the transaction manager (and
// with it the store's lease), the store Open opened, and the node id file. Calls after the
// first return the first's error.
func (s *Shim) Close() error {
	var errs []error
	for _, srv := range s.stopServing() {
		errs = append(errs, srv.Close())
	}
	return errors.Join(append(errs, s.release())...)
}

// requestError is the body of an error answered before the API runs: 431
// headers_too_large, or 400 bad_request (also for a request of another HTTP version,
// transfer coding or expectation than the server takes: 505, 501, 417).
func requestError(status int, msg string) (string, []byte) {
	code := api.CodeBadRequest
	if status == http.StatusRequestHeaderFieldsTooLarge {
		code = api.CodeHeadersTooLarge
	}
	return "application/json", api.ErrorBody{Error: msg, Code: code}.JSON()
}

// stopServing marks the shim closed and returns the servers to stop.
func (s *Shim) stopServing() []*h1.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	srvs := s.servers
	s.servers = nil
	return srvs
}

// release closes the manager, the store and the node id file, once.
func (s *Shim) release() error {
	s.once.Do(func() {
		s.err = runLastFirst(s.undo)
	})
	return s.err
}

// runLastFirst runs the undo steps in the reverse of their order, and returns their
// errors joined.
func runLastFirst(undo []func() error) error {
	var errs []error
	for i := len(undo) - 1; i >= 0; i-- {
		errs = append(errs, undo[i]())
	}
	return errors.Join(errs...)
}

// orDiscard returns log, or a logger that drops everything for nil.
func orDiscard(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return log
}
