package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/internal/redact"
	"github.com/aft-shim/aft/middleware"
)

// proxyConfig is the whole configuration of `aft proxy`, validated once.
type proxyConfig struct {
	Listen          string
	AdminListen     string // where /metrics and /healthz are served; "" means on Listen
	Upstream        string
	ShutdownTimeout time.Duration // 0: the deadline plus 5s
	LogLevel        string
	MW              middleware.Config
	Creds           shimCreds  // the middleware's own: with them, functions call the shim through the relay
	Relay           relayFlags // where the relay listens, when Creds.relay()
}

func (c *proxyConfig) validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return usage("--listen %q: want host:port: %v", c.Listen, err)
	}
	if c.AdminListen != "" {
		if _, _, err := net.SplitHostPort(c.AdminListen); err != nil {
			return usage("--admin-listen %q: want host:port: %v", c.AdminListen, err)
		}
	}
	u, err := url.Parse(c.Upstream)
	if c.Upstream == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usage("--upstream %q: want the function's URL, http(s)://host:port[/path]", c.Upstream)
	}
	if c.MW.Function == "" {
		c.MW.Function = u.Host
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = c.MW.Deadline + 5*time.Second
	}
	if c.ShutdownTimeout < 0 {
		return usage("--shutdown-timeout %v is negative", c.ShutdownTimeout)
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return usage("--log-level %q: want debug, info, warn or error", c.LogLevel)
	}
	opts, err := c.Creds.options()
	if err != nil {
		return err
	}
	c.MW.Client = client.New(c.MW.ShimURL, append(opts, client.WithNodes(c.MW.ShimNodes...))...)
	return nil
}

// proxyCmd is `aft proxy`: the middleware of spec/middleware.md as a reverse proxy in
// front of one function.
type proxyCmd struct{}

func (proxyCmd) flags(c *proxyConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("proxy", flag.ContinueOnError)
	m := &c.MW
	m.OnRunning = middleware.OnRunningRun
	m.MaxRequestBytes = middleware.DefaultMaxRequestBytes
	m.MaxResponseBytes = middleware.DefaultMaxResponseBytes
	fs.StringVar(&c.Listen, "listen", "127.0.0.1:8080", "HTTP address to serve the function on")
	fs.StringVar(&c.AdminListen, "admin-listen", "", "serve /metrics and /healthz on this address instead (empty: on --listen, where they shadow the function's own paths)")
	fs.StringVar(&c.Upstream, "upstream", "", "URL of the function (required)")
	fs.StringVar(&m.ShimURL, "shim", "http://127.0.0.1:7654", "base URL of the shim")
	fs.Var((*urlList)(&m.ShimNodes), "shim-nodes", "more shim nodes on the same store: comma-separated base URLs; attempts spread over them and --shim")
	fs.StringVar(&m.Function, "function", "", "name of the function, for dead letters and metrics (default: the upstream's host:port)")
	fs.IntVar(&m.Attempts, "attempts", middleware.DefaultAttempts, "attempts per request")
	fs.DurationVar(&m.AttemptTimeout, "attempt-timeout", middleware.DefaultAttemptTimeout, "past this an attempt counts as failed and is retried (it may still commit, as a zombie)")
	fs.DurationVar(&m.Deadline, "deadline", middleware.DefaultDeadline, "bound on all attempts of a request together")
	fs.Var(&m.OnRunning, "on-running", "a duplicate of a running request: run, wait or refuse")
	fs.Var((*size)(&m.MaxRequestBytes), "max-request-size", "largest request body (buffered to be replayed; default 4MiB)")
	fs.Var((*size)(&m.MaxResponseBytes), "max-response-size", "largest response body (buffered until the commit; default 16MiB)")
	fs.DurationVar(&m.BackoffBase, "backoff-base", middleware.DefaultBackoffBase, "backoff before the first retry (full jitter, doubling)")
	fs.DurationVar(&m.BackoffMax, "backoff-max", middleware.DefaultBackoffMax, "longest backoff")
	fs.IntVar(&m.MaxZombies, "max-zombies", middleware.DefaultMaxZombies, "timed-out attempts allowed to run on and commit (-1: none)")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 0, "how long SIGTERM waits for in-flight requests (default: --deadline plus 5s)")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	c.Creds.register(fs)
	c.Relay.register(fs, "127.0.0.1:0", "loopback, for a function in the same pod; port 0 picks a free one")
	return fs
}

func (p proxyCmd) Run(ctx context.Context, args []string) error {
	var cfg proxyConfig
	if err := parseFlags(p.flags(&cfg), args); err != nil {
		return err
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	return runProxy(ctx, cfg, os.Stdout)
}

// runProxy serves the middleware in front of the upstream until ctx ends, then shuts down
// gracefully: no new requests, in-flight ones and zombie commits finish.
func runProxy(ctx context.Context, cfg proxyConfig, out io.Writer) error {
	var lvl slog.Level
	lvl.UnmarshalText([]byte(cfg.LogLevel))
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
	cfg.MW.Log = log

	var relayLn net.Listener
	if cfg.Creds.relay() {
		var err error
		if relayLn, cfg.MW.RelayURL, err = cfg.Relay.listen(); err != nil {
			return err
		}
		defer relayLn.Close()
	}
	upstream, _ := url.Parse(cfg.Upstream)
	px, err := middleware.NewProxy(middleware.ProxyConfig{Config: cfg.MW, Upstream: upstream,
		SameAddressAdmin: cfg.AdminListen == "", Hop: middleware.HopOptions{XForwarded: true}})
	if err != nil {
		return usage("%v", err)
	}
	// The relay is served until the attempts are done, zombies too: they call it.
	if relayLn != nil {
		relay := newProxyServer(px.Relay, log)
		go relay.Serve(relayLn)
		defer relay.Close()
	}
	servers := []*http.Server{newProxyServer(px.Handler, log)}
	listens := []string{cfg.Listen}
	if cfg.AdminListen != "" {
		servers = append(servers, newProxyServer(px.Admin, log))
		listens = append(listens, cfg.AdminListen)
	}
	done := make(chan error, len(servers))
	addrs := make([]string, len(servers))
	for i, srv := range servers {
		ln, err := net.Listen("tcp", listens[i])
		if err != nil {
			for _, s := range servers[:i] {
				s.Close()
			}
			return fmt.Errorf("listen on %s: %w", listens[i], err)
		}
		addrs[i] = ln.Addr().String()
		go func() { done <- srv.Serve(ln) }()
	}
	adminAt := "/metrics and /healthz on the same address"
	if len(addrs) > 1 {
		adminAt = "/metrics and /healthz on " + addrs[1]
	}
	if cfg.MW.RelayURL != "" {
		adminAt += "; functions call the shim through the relay at " + cfg.MW.RelayURL
	}
	fmt.Fprintf(out, "aft proxy: listening on %s (function %s at %s, shim %s; %s)\n", addrs[0], cfg.MW.Function, redact.URL(cfg.Upstream), redact.URL(cfg.MW.ShimURL), adminAt)

	select {
	case err := <-done:
		for _, s := range servers {
			s.Close()
		}
		return fmt.Errorf("proxy: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests", "timeout", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	for _, s := range servers {
		if err := s.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			log.Warn("shutdown", "err", err)
		}
	}
	if err := px.Wait(sctx); err != nil {
		log.Warn("attempts still running at exit", "err", err)
	}
	return nil
}

func newProxyServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}
