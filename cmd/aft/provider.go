package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/aft-shim/aft/internal/redact"
	bootstrap "github.com/openfaas/faas-provider"
	"github.com/openfaas/faas-provider/types"

	"github.com/aft-shim/aft/middleware"
	"github.com/aft-shim/aft/plugin/local"
	"github.com/aft-shim/aft/plugin/openfaas"
	"github.com/prometheus/client_golang/prometheus"
)

// providerCmd runs an OpenFaaS provider: `aft provider openfaas` is the aft plugin in
// front of another provider; `aft provider local` runs functions as local processes
// (development and tests).
type providerCmd struct{}

func (providerCmd) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usage("aft provider openfaas|local [flags]")
	}
	if err, ok := help("provider", args); ok {
		return err
	}
	switch args[0] {
	case "local":
		return runLocalProvider(ctx, args[1:])
	case "openfaas":
		return runOpenFaaSPlugin(ctx, args[1:])
	}
	return usage("unknown provider %q; want openfaas or local", args[0])
}

func runOpenFaaSPlugin(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("provider openfaas", flag.ContinueOnError)
	port := fs.Int("port", 8081, "TCP port of the provider API the gateway calls (functions_provider_url)")
	o := openfaas.Options{}
	fs.StringVar(&o.Upstream, "upstream", "", "base URL of the provider behind the plugin (faas-netes, faasd, aft provider local)")
	fs.StringVar(&o.ShimURL, "shim", "http://127.0.0.1:7654", "base URL of the aft shim")
	fs.Var((*urlList)(&o.ShimNodes), "shim-nodes", "more shim nodes on the same store: comma-separated base URLs; attempts spread over them and --shim")
	fs.IntVar(&o.Defaults.Attempts, "attempts", middleware.DefaultAttempts, "default attempts of a transactional request")
	fs.DurationVar(&o.Defaults.AttemptTimeout, "attempt-timeout", middleware.DefaultAttemptTimeout, "default timeout of one attempt")
	fs.DurationVar(&o.Defaults.Deadline, "deadline", middleware.DefaultDeadline, "default deadline of all attempts together")
	fs.Var(&o.Defaults.OnRunning, "on-running", "default duplicate policy: run, wait or refuse")
	fs.DurationVar(&o.SettingsTTL, "settings-ttl", 5*time.Second, "how long a function's annotations are cached")
	var creds shimCreds
	creds.register(fs)
	fs.Lookup("shim-token-file").Usage += "; default: " + openfaasTokenFile + " when it exists (an OpenFaaS secret named aft-shim-token)"
	var rf relayFlags
	rf.register(fs, ":8084", "function pods reach it: --relay-url must name this instance, such as its pod IP, not a Service")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	creds.fallbackTokenFile(openfaasTokenFile)
	var err error
	if o.ShimOptions, err = creds.options(); err != nil {
		return err
	}
	if o.Upstream == "" {
		return usage("--upstream is required: the provider the gateway would otherwise call")
	}
	if err := checkPort(*port); err != nil {
		return err
	}
	o.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	o.Registry = prometheus.DefaultRegisterer // faas-provider serves the default registry at /metrics
	var relayLn net.Listener
	if creds.relay() {
		if relayLn, o.RelayURL, err = rf.listen(); err != nil {
			return err
		}
		defer relayLn.Close()
	}
	p, err := openfaas.New(o)
	if err != nil {
		return &usageError{err}
	}
	relayAt := ""
	if relayLn != nil {
		// Served until the attempts are done, zombies too: they call it.
		relay := newProxyServer(p.Relay(), o.Log)
		go relay.Serve(relayLn)
		defer relay.Close()
		relayAt = "; functions call the shim through the relay at " + o.RelayURL
	}
	cfg := &types.FaaSConfig{TCPPort: port, ReadTimeout: 5 * time.Minute, WriteTimeout: 5 * time.Minute}
	fmt.Printf("aft provider openfaas: listening on :%d (upstream %s, shim %s%s)\n", *port, redact.URL(o.Upstream), redact.URL(o.ShimURL), relayAt)
	bootstrap.Serve(ctx, p.Handlers(), cfg) // returns when ctx ends
	wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return p.Wait(wctx)
}

// checkPort fails with an error naming port when it cannot be listened on: bootstrap.Serve
// would exit the process through log.Fatal instead.
func checkPort(port int) error {
	if port <= 0 || port > 65535 {
		return usage("--port %d: want 1..65535", port)
	}
	l, err := net.Listen("tcp", ":"+strconv.Itoa(port))
	if err != nil {
		return fmt.Errorf("provider port %d: %w (pick another with --port)", port, err)
	}
	return l.Close()
}

func runLocalProvider(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("provider local", flag.ContinueOnError)
	port := fs.Int("port", 8081, "TCP port of the provider API (faas-provider listens on every interface; non-loopback callers are refused)")
	dir := fs.String("dir", "", "working directory of function processes (default: the current one)")
	allowRemote := fs.Bool("allow-remote", false, "answer callers that are not on loopback (the provider runs any command a deploy names)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := checkPort(*port); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	p := local.New(local.Options{Dir: *dir, Log: log})
	defer p.Close()
	cfg := &types.FaaSConfig{TCPPort: port, ReadTimeout: 60 * time.Second, WriteTimeout: 60 * time.Second}
	h := p.Handlers(*cfg)
	if !*allowRemote {
		h = local.LoopbackOnly(h)
	}
	fmt.Printf("aft provider local: listening on :%d\n", *port)
	bootstrap.Serve(ctx, h, cfg) // returns when ctx ends
	return nil
}
