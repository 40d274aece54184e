package certfile

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// write writes a self-signed certificate with serial and its key.
func write(t *testing.T, certPath, keyPath string, serial int64) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "t"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
}

func serial(t *testing.T, p *Pair) int64 {
	t.Helper()
	c, err := p.GetCertificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	x, _ := x509.ParseCertificate(c.Certificate[0])
	return x.SerialNumber.Int64()
}

func TestPairFollowsFiles(t *testing.T) {
	dir := t.TempDir()
	cp, kp := filepath.Join(dir, "c"), filepath.Join(dir, "k")
	if _, err := Load(cp, kp); err == nil {
		t.Fatal("Load of missing files succeeded")
	}
	write(t, cp, kp, 1)
	p, err := Load(cp, kp)
	if err != nil {
		t.Fatal(err)
	}
	if s := serial(t, p); s != 1 {
		t.Fatalf("serial %d, want 1", s)
	}
	// Half a rotation (a new key, the old certificate) keeps the last good pair in service.
	os.WriteFile(kp, []byte("-----BEGIN EC PRIVATE KEY-----\ngarbage\n"), 0o600)
	p.checked = time.Time{}
	if s := serial(t, p); s != 1 {
		t.Fatalf("after a broken key: serial %d, want the old 1", s)
	}
	write(t, cp, kp, 2)
	p.checked = time.Time{} // as if a second had passed
	if s := serial(t, p); s != 2 {
		t.Fatalf("after the rotation: serial %d, want 2", s)
	}
}
