package certfile

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"sync"
	"time"
)

// Bundle is a PEM bundle of certificate authorities (--tls-client-ca, --shim-ca,
// AFT_SHIM_CA), followed as its file changes the way a Pair is: a handshake verifies
// against the file as it was at most a second before it, and a file that does not load
// (half written, emptied for a moment) keeps the last good bundle in service. So a CA
// rotated by cert-manager or trust-manager, which adds the new CA to the bundle before it
// signs with it, reaches a running program without a restart.
type Bundle struct {
	path  string
	every time.Duration // how long a look at the file serves; tests shorten it

	mu      sync.Mutex
	pool    *x509.CertPool
	stamp   string    // the file's size and modification time when pool was loaded
	checked time.Time // when the file was last looked at
}

// OpenBundle loads the bundle at path, failing when it does not load now. An error names
// the file.
func OpenBundle(path string) (*Bundle, error) {
	stamp, err := stampOf(path)
	if err != nil {
		return nil, fmt.Errorf("CA bundle: %w", err)
	}
	pool, err := LoadPool(path)
	if err != nil {
		return nil, err
	}
	return &Bundle{path: path, every: time.Second, pool: pool, stamp: stamp, checked: time.Now()}, nil
}

// LoadPool reads a bundle of PEM certificates once. An error names the file.
func LoadPool(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("CA bundle: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("CA bundle %s holds no PEM certificate (-----BEGIN CERTIFICATE-----)", path)
	}
	return pool, nil
}

// Pool returns the bundle's certificates, looking at the file again when the last look is
// a second old.
func (b *Bundle) Pool() *x509.CertPool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if now := time.Now(); now.Sub(b.checked) >= b.every {
		b.checked = now
		if stamp, err := stampOf(b.path); err == nil && stamp != b.stamp {
			if pool, err := LoadPool(b.path); err == nil {
				b.pool, b.stamp = pool, stamp
			}
		}
	}
	return b.pool
}

// ServerConfig returns base (which it does not change) with client certificates verified,
// when given, against the bundle as it is at each handshake.
func (b *Bundle) ServerConfig(base *tls.Config) *tls.Config {
	cfg := base.Clone()
	cfg.ClientAuth = tls.VerifyClientCertIfGiven
	cfg.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		c := base.Clone()
		c.ClientAuth, c.ClientCAs = tls.VerifyClientCertIfGiven, b.Pool()
		return c, nil
	}
	return cfg
}

// stampOf returns the size and modification time of the file at path.
func stampOf(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d@%d;", fi.Size(), fi.ModTime().UnixNano()), nil
}
