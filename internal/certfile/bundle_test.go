package certfile

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"

	"github.com/aft-shim/aft/internal/certfile/certfiletest"
)

// issued returns a certificate of ca, parsed, with its pair.
func issued(t *testing.T, ca *certfiletest.CA, dir, name string) (*x509.Certificate, tls.Certificate) {
	t.Helper()
	cp, kp := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	ca.Issue(t, 1, cp, kp)
	pair, err := tls.LoadX509KeyPair(cp, kp)
	if err != nil {
		t.Fatal(err)
	}
	x, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return x, pair
}

func verifies(b *Bundle, c *x509.Certificate) bool {
	_, err := c.Verify(x509.VerifyOptions{Roots: b.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	return err == nil
}

func TestBundleFollowsFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ca.crt")
	if _, err := OpenBundle(path); err == nil {
		t.Fatal("OpenBundle of a missing file succeeded")
	}
	os.WriteFile(path, []byte("no PEM here\n"), 0o600)
	if _, err := OpenBundle(path); err == nil {
		t.Fatal("OpenBundle of a file without a certificate succeeded")
	}
	oldCA, newCA := certfiletest.NewCA(t), certfiletest.NewCA(t)
	oldCert, _ := issued(t, oldCA, dir, "old")
	newCert, _ := issued(t, newCA, dir, "new")
	oldCA.WriteBundle(t, path)
	b, err := OpenBundle(path)
	if err != nil {
		t.Fatal(err)
	}
	b.every = 0 // look at the file at every call
	if !verifies(b, oldCert) || verifies(b, newCert) {
		t.Fatal("a bundle of the old CA: want the old CA's certificate verified and the new one's not")
	}
	// A file emptied for a moment (a Secret being swapped) keeps the last good bundle.
	os.WriteFile(path, nil, 0o600)
	if !verifies(b, oldCert) {
		t.Fatal("an emptied bundle file dropped the last good bundle")
	}
	certfiletest.WriteBundle(t, path, oldCA, newCA)
	if !verifies(b, oldCert) || !verifies(b, newCert) {
		t.Fatal("after the rotation's bundle (old and new CA): want both certificates verified")
	}
	newCA.WriteBundle(t, path)
	if verifies(b, oldCert) || !verifies(b, newCert) {
		t.Fatal("after the old CA left the bundle: want only the new CA's certificate verified")
	}
}

// TestBundleServerConfig: a server with ServerConfig lets in the client certificates of
// the CAs its bundle holds at the handshake: a CA added to the file is trusted without a
// restart, and one removed is not.
func TestBundleServerConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ca.crt")
	serverCA, oldCA, newCA := certfiletest.NewCA(t), certfiletest.NewCA(t), certfiletest.NewCA(t)
	_, serverPair := issued(t, serverCA, dir, "server")
	_, oldPair := issued(t, oldCA, dir, "old")
	_, newPair := issued(t, newCA, dir, "new")
	oldCA.WriteBundle(t, path)
	b, err := OpenBundle(path)
	if err != nil {
		t.Fatal(err)
	}
	b.every = 0
	base := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{serverPair}}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", b.ServerConfig(base))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	verified := make(chan bool, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			err = c.(*tls.Conn).Handshake()
			verified <- err == nil && len(c.(*tls.Conn).ConnectionState().VerifiedChains) > 0
			c.Close()
		}
	}()
	// handshake reports whether the server let in a client certificate: its verdict, as the
	// client's handshake can end before the server has verified the certificate.
	handshake := func(pair tls.Certificate) bool {
		c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: serverCA.Pool, ServerName: "localhost", Certificates: []tls.Certificate{pair}})
		if err == nil {
			c.Read(make([]byte, 1))
			c.Close()
		}
		return <-verified
	}
	if !handshake(oldPair) || handshake(newPair) {
		t.Fatal("a bundle of the old CA: want the old CA's client certificate let in and the new one's refused")
	}
	certfiletest.WriteBundle(t, path, oldCA, newCA)
	if !handshake(oldPair) || !handshake(newPair) {
		t.Fatal("after the rotation's bundle: want both client certificates let in")
	}
	if base.ClientCAs != nil || base.GetConfigForClient != nil {
		t.Error("ServerConfig changed its base")
	}
}
