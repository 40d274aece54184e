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

	bootstrap "github.com/openfaas/faas-provider"
	"github.com/openfaas/faas-provider/types"

	"github.com/aft-shim/aft/plugin/local"
)

// providerCmd runs an OpenFaaS provider: `aft provider local` runs functions as local
// processes (development and tests).
type providerCmd struct{}

func (providerCmd) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usage("aft provider local [flags]")
	}
	switch args[0] {
	case "local":
		return runLocalProvider(ctx, args[1:])
	}
	return usage("unknown provider %q; want local", args[0])
}

func runLocalProvider(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("provider local", flag.ContinueOnError)
	port := fs.Int("port", 8081, "TCP port of the provider API (faas-provider listens on every interface; non-loopback callers are refused)")
	dir := fs.String("dir", "", "working directory of function processes (default: the current one)")
	allowRemote := fs.Bool("allow-remote", false, "answer callers that are not on loopback (the provider runs any command a deploy names)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *port <= 0 || *port > 65535 {
		return usage("--port %d: want 1..65535", *port)
	}
	// bootstrap.Serve exits the process through log.Fatal when it cannot listen: check first,
	// for an error that names the port.
	l, err := net.Listen("tcp", ":"+strconv.Itoa(*port))
	if err != nil {
		return fmt.Errorf("provider port %d: %w (pick another with --port)", *port, err)
	}
	l.Close()
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
