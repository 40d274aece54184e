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

// webhookConfig is the whole configuration of `aft webhook`, validated once.
type webhookConfig struct {
	Listen            string
	CertPath, KeyPath string
	LogLevel          slog.Level
	Inject            knative.Config
}

// webhookCmd is `aft webhook` (cli.md): the mutating admission webhook that puts aft proxy
// into annotated Knative Services.
type webhookCmd struct{}

func (webhookCmd) flags(c *webhookConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("webhook", flag.ContinueOnError)
	fs.StringVar(&c.Listen, "listen", ":8443", "HTTPS address of the webhook (POST /mutate, GET /healthz)")
	fs.StringVar(&c.CertPath, "tls-cert", "", "PEM certificate of the webhook, followed as it changes (required)")
	fs.StringVar(&c.KeyPath, "tls-key", "", "PEM key of the certificate (required)")
	fs.StringVar(&c.Inject.ShimURL, "shim", "", "base URL of the shim, as the pods' proxies reach it (required)")
	fs.StringVar(&c.Inject.ProxyImage, "proxy-image", "", "image of the proxy container; its entry point is aft (required)")
	fs.Func("shim-token-secret", "`NAME[/KEY]`: the Secret, in each Service's namespace, whose KEY (default "+knative.DefaultTokenKey+") holds the shim's token; the proxy mounts it, the function never sees it", func(s string) (err error) {
		c.Inject.TokenSecret, err = knative.ParseSecretRef(s, knative.DefaultTokenKey)
		return err
	})
	fs.Func("shim-ca-secret", "`NAME[/KEY]`: the Secret, in each Service's namespace, whose KEY (default "+knative.DefaultCAKey+") holds the CA bundle of an https shim, for the proxy", func(s string) (err error) {
		c.Inject.CASecret, err = knative.ParseSecretRef(s, knative.DefaultCAKey)
		return err
	})
	fs.TextVar(&c.LogLevel, "log-level", slog.LevelInfo, "log level: debug, info, warn, error")
	return fs
}

func (c *webhookConfig) validate() error {
	if c.CertPath == "" || c.KeyPath == "" {
		return usage("give --tls-cert and --tls-key: the API server calls webhooks over HTTPS only")
	}
	if err := c.Inject.Validate(); err != nil {
		return usage("%v", err)
	}
	return nil
}

func (w webhookCmd) Run(ctx context.Context, args []string) error {
	var cfg webhookConfig
	if err := parseFlags(w.flags(&cfg), args); err != nil {
		return err
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	return runWebhook(ctx, cfg)
}

// runWebhook serves the webhook until ctx ends.
func runWebhook(ctx context.Context, cfg webhookConfig) error {
	pair, err := certfile.Load(cfg.CertPath, cfg.KeyPath)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	srv := &http.Server{
		Handler:           cfg.Inject.Handler(log),
		TLSConfig:         &tls.Config{GetCertificate: pair.GetCertificate, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(ln, "", "") }()
	creds := ""
	if !cfg.Inject.TokenSecret.IsZero() {
		creds += ", token from Secret " + cfg.Inject.TokenSecret.String()
	}
	if !cfg.Inject.CASecret.IsZero() {
		creds += ", CA from Secret " + cfg.Inject.CASecret.String()
	}
	fmt.Printf("aft webhook: listening on %s (https, POST /mutate; shim %s%s, proxy image %s)\n", ln.Addr(), redact.URL(cfg.Inject.ShimURL), creds, cfg.Inject.ProxyImage)
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
