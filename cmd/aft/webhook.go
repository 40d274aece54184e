package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/aft-shim/aft/internal/certfile"
	"github.com/aft-shim/aft/internal/redact"
	"github.com/aft-shim/aft/plugin/knative"
)

// webhookCmd is `aft webhook` (cli.md): the mutating admission webhook that puts aft proxy
// into annotated Knative Services.
type webhookCmd struct{}

func (webhookCmd) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("webhook", flag.ContinueOnError)
	listen := fs.String("listen", ":8443", "HTTPS address of the webhook (POST /mutate, GET /healthz)")
	certPath := fs.String("tls-cert", "", "PEM certificate of the webhook, followed as it changes (required)")
	keyPath := fs.String("tls-key", "", "PEM key of the certificate (required)")
	var cfg knative.Config
	fs.StringVar(&cfg.ShimURL, "shim", "", "base URL of the shim, as the pods' proxies reach it (required)")
	fs.StringVar(&cfg.ProxyImage, "proxy-image", "", "image of the proxy container; its entry point is aft (required)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var lvl slog.Level
	switch {
	case *certPath == "" || *keyPath == "":
		return usage("give --tls-cert and --tls-key: the API server calls webhooks over HTTPS only")
	case lvl.UnmarshalText([]byte(*logLevel)) != nil:
		return usage("--log-level %q: want debug, info, warn or error", *logLevel)
	}
	if err := cfg.Validate(); err != nil {
		return usage("%v", err)
	}
	pair, err := certfile.Load(*certPath, *keyPath)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
	srv := &http.Server{
		Handler:           cfg.Handler(log),
		TLSConfig:         &tls.Config{GetCertificate: pair.GetCertificate, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(ln, "", "") }()
	fmt.Printf("aft webhook: listening on %s (https, POST /mutate; shim %s, proxy image %s)\n", ln.Addr(), redact.URL(cfg.ShimURL), cfg.ProxyImage)
	select {
	case err := <-done:
		return fmt.Errorf("webhook: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		log.Warn("shutdown", "err", err)
	}
	return nil
}
