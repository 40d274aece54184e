package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/internal/certfile"
	"github.com/aft-shim/aft/shim/auth"
	"github.com/aft-shim/aft/shim/peer"
)

// validateCallers checks the flags of callers and TLS. Protected mode: a node without
// --auth-file listens on loopback alone, unless --insecure says that everyone who can
// reach it may read and write every key.
func (c *Config) validateCallers() error {
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key go together: give both to serve HTTPS, or neither")
	}
	if c.TLSClientCA != "" && c.TLSCert == "" {
		return errors.New("--tls-client-ca needs --tls-cert and --tls-key: client certificates are asked for over HTTPS")
	}
	host, _, _ := net.SplitHostPort(c.Listen)
	if c.AuthFile == "" && !c.Insecure && !loopback(host) {
		return fmt.Errorf("--listen %s is not a loopback address, and without --auth-file anyone who reaches it can read and write every key: "+
			"make a token with `aft token new TENANT`, put the second line it prints in a file and pass --auth-file FILE "+
			"(callers pass the token with --shim-token-file or AFT_SHIM_TOKEN), or pass --insecure to serve without tokens", c.Listen)
	}
	if c.AuthFile != "" && c.PeerToken == "" {
		if peers, _ := peer.ParsePeers(c.Peers); len(peers) > 0 {
			return errors.New("--peers with --auth-file: the peers ask this node's pushes for a token too; give it one with --shim-token-file or AFT_SHIM_TOKEN")
		}
	}
	return nil
}

// loopback reports whether host (of a listen address) is a loopback one. An empty host
// listens on every interface.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// tlsConfig returns the server's TLS configuration, nil for plain HTTP: the certificate
// followed as its files change (certfile), and client certificates required when
// TLSClientCA is set.
func (c *Config) tlsConfig() (*tls.Config, error) {
	if c.TLSCert == "" {
		return nil, nil
	}
	pair, err := certfile.Load(c.TLSCert, c.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert, --tls-key: %w", err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: pair.GetCertificate}
	if c.TLSClientCA != "" {
		b, err := certfile.OpenBundle(c.TLSClientCA)
		if err != nil {
			return nil, fmt.Errorf("--tls-client-ca: %w", err)
		}
		// Verified when given, and required by the API (server.Server.ClientCerts) on all
		// but the probes and /metrics, which kubelets and scrapers reach without one.
		cfg = b.ServerConfig(cfg)
	}
	return cfg, nil
}

// peerClient returns the HTTP client of pushes to peers: 2 s timeouts, PeerCA's bundle
// (followed as it changes) for https peers, and, where the nodes ask for client
// certificates, this node's own certificate as its client certificate.
func (c *Config) peerClient() (*http.Client, error) {
	hc := &http.Client{Timeout: 2 * time.Second}
	if c.PeerCA == "" && c.TLSClientCA == "" {
		return hc, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.TLSClientCA != "" {
		pair, err := certfile.Load(c.TLSCert, c.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert, --tls-key: %w", err)
		}
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return pair.GetCertificate(nil) }
	}
	if c.PeerCA == "" {
		hc.Transport = client.HTTPSTransport(cfg)
		return hc, nil
	}
	t, err := client.CATransport(c.PeerCA, cfg)
	if err != nil {
		return nil, fmt.Errorf("--shim-ca: %w", err)
	}
	hc.Transport = t
	return hc, nil
}

// openAuth opens AuthFile and follows it until the returned stop is called; nil when there
// is no AuthFile.
func (c *Config) openAuth(log *slog.Logger) (*auth.File, func() error, error) {
	if c.AuthFile == "" {
		return nil, func() error { return nil }, nil
	}
	f, err := auth.Open(c.AuthFile, log)
	if err != nil {
		return nil, nil, fmt.Errorf("--auth-file: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go f.Watch(ctx)
	log.Info("authentication on", "auth_file", c.AuthFile, "tokens", f.Table().Len(), "tenants", len(f.Table().Tenants()))
	return f, func() error { cancel(); return nil }, nil
}
