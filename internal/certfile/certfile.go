// Package certfile serves a TLS certificate from a pair of PEM files and follows them as
// they change (a Kubernetes Secret updated by cert-manager, rotated by hand): a handshake
// uses the files as they were at most a second before it, and a pair that does not load
// (half written) keeps the last good one in service.
package certfile

import (
	"crypto/tls"
	"fmt"
	"sync"
	"time"
)

// Pair is a certificate and key file pair, for tls.Config.GetCertificate.
type Pair struct {
	certPath, keyPath string

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   string    // the files' sizes and modification times when cert was loaded
	checked time.Time // when the files were last looked at
}

// Load loads the pair, failing when it does not load now.
func Load(certPath, keyPath string) (*Pair, error) {
	p := &Pair{certPath: certPath, keyPath: keyPath}
	if _, err := p.reload(); err != nil {
		return nil, err
	}
	return p, nil
}

// GetCertificate implements tls.Config.GetCertificate.
func (p *Pair) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.checked) >= time.Second {
		p.checked = time.Now()
		if stamp, err := p.stampNow(); err == nil && stamp != p.stamp {
			if cert, err := tls.LoadX509KeyPair(p.certPath, p.keyPath); err == nil {
				p.cert, p.stamp = &cert, stamp
			}
		}
	}
	return p.cert, nil
}

// reload loads the files now.
func (p *Pair) reload() (*tls.Certificate, error) {
	stamp, err := p.stampNow()
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(p.certPath, p.keyPath)
	if err != nil {
		return nil, fmt.Errorf("load the certificate %s and key %s: %w", p.certPath, p.keyPath, err)
	}
	p.mu.Lock()
	p.cert, p.stamp, p.checked = &cert, stamp, time.Now()
	p.mu.Unlock()
	return &cert, nil
}

func (p *Pair) stampNow() (string, error) {
	var stamp string
	for _, path := range []string{p.certPath, p.keyPath} {
		s, err := stampOf(path)
		if err != nil {
			return "", err
		}
		stamp += s
	}
	return stamp, nil
}
