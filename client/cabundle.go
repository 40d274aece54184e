package client

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"sync"

	"github.com/aft-shim/aft/internal/certfile"
)

// CATransport returns the transport of https:// shims whose certificates the CA bundle at
// path signs (--shim-ca, AFT_SHIM_CA), following the file as it changes: each new
// connection trusts the bundle as it was at most a second before (certfile.Bundle), so a
// CA rotated by adding the new one to the bundle reaches a running program. Connections
// open when the bundle changes serve on; they were verified when made. base, which it does
// not change, gives the rest of the TLS configuration (a client certificate); nil for none.
// An error names the file.
func CATransport(path string, base *tls.Config) (http.RoundTripper, error) {
	b, err := certfile.OpenBundle(path)
	if err != nil {
		return nil, err
	}
	if base == nil {
		base = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return &caTransport{bundle: b, base: base}, nil
}

// caTransport is an HTTPSTransport remade, with the bundle's new pool as its RootCAs,
// each time the bundle changes: crypto/tls reads RootCAs once and verifies the server's
// name itself, which a verification callback could not do for an IP address.
type caTransport struct {
	bundle *certfile.Bundle
	base   *tls.Config

	mu   sync.Mutex
	pool *x509.CertPool // the pool of ht
	ht   *http.Transport
}

func (t *caTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.current().RoundTrip(req)
}

// current returns the transport of the bundle's pool now.
func (t *caTransport) current() *http.Transport {
	pool := t.bundle.Pool()
	t.mu.Lock()
	defer t.mu.Unlock()
	if pool != t.pool {
		if t.ht != nil {
			t.ht.CloseIdleConnections()
		}
		cfg := t.base.Clone()
		cfg.RootCAs = pool
		t.pool, t.ht = pool, HTTPSTransport(cfg)
	}
	return t.ht
}

// CloseIdleConnections closes the idle connections of the transport of the moment.
func (t *caTransport) CloseIdleConnections() { t.current().CloseIdleConnections() }
