package e2e

import (
	"crypto/tls"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/internal/certfile/certfiletest"
	"github.com/aft-shim/aft/shim/auth"
)

// servedSerial returns the serial number of the certificate addr serves now.
func servedSerial(t *testing.T, addr string, roots *tls.Config) int64 {
	t.Helper()
	c, err := tls.Dial("tcp", addr, roots)
	if err != nil {
		t.Fatalf("TLS dial %s: %v", addr, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// TestTLSRotationUnderLoad runs `aft serve --tls-cert --tls-key --auth-file` and replaces
// its certificate while clients run transactions, half of them on kept-alive connections,
// half with a new TLS handshake per request: the new certificate is served within seconds
// and no request fails.
func TestTLSRotationUnderLoad(t *testing.T) {
	bin := aftBinary(t)
	dir := t.TempDir()
	ca := certfiletest.NewCA(t)
	certPath, keyPath := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	ca.Issue(t, 1, certPath, keyPath)
	token := auth.NewToken()
	authPath := filepath.Join(dir, "auth")
	writeAuth(t, authPath, map[string]string{"a": token})
	p := startAft(t, bin, filepath.Join(dir, "data"), "--auth-file", authPath, "--tls-cert", certPath, "--tls-key", keyPath)
	roots := &tls.Config{RootCAs: ca.Pool}
	base := "https://" + p.addr
	if resp, err := http.Get("http://" + p.addr + "/healthz"); err == nil && resp.StatusCode != http.StatusBadRequest {
		t.Errorf("plain HTTP to a shim that serves HTTPS: %s, want 400 (net/http's answer to HTTP on a TLS port)", resp.Status)
	}
	kept := client.New(base, client.WithToken(token), client.WithTLS(roots))
	fresh := client.New(base, client.WithToken(token), client.WithHTTPClient(&http.Client{
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool}, DisableKeepAlives: true}})) // a configuration of its own: net/http writes to it

	ctx := t.Context()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	stats := make([]steadyStats, 2)
	for i, c := range []*client.Client{kept, fresh} {
		wg.Add(1)
		go func() { defer wg.Done(); stats[i] = steady(ctx, t, c, 3, stop) }()
	}
	time.Sleep(500 * time.Millisecond)
	rotated := time.Now()
	ca.Issue(t, 2, certPath, keyPath)
	for servedSerial(t, p.addr, roots) != 2 {
		if time.Since(rotated) > 5*time.Second {
			t.Fatal("the rotated certificate is not served 5 s after its files changed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("the new certificate served %v after its files changed", time.Since(rotated).Round(time.Millisecond))
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("kept-alive connections: %v; a handshake per request: %v", stats[0], stats[1])
	for i, st := range stats {
		if st.errs != 0 || st.txns < 10 {
			t.Errorf("clients %d across the rotation: %v; want no error in at least 10 transactions", i, st)
		}
	}
}

// TestTLSClientCertificates: with --tls-client-ca, the API wants a client certificate the
// CA signed (401 without), while the probes answer without one, as a kubelet calls them;
// the bundle is followed as its file changes.
func TestTLSClientCertificates(t *testing.T) {
	bin := aftBinary(t)
	dir := t.TempDir()
	ca := certfiletest.NewCA(t)
	certPath, keyPath, caPath := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), filepath.Join(dir, "ca.crt")
	ca.Issue(t, 1, certPath, keyPath)
	ca.WriteBundle(t, caPath)
	p := startAft(t, bin, filepath.Join(dir, "data"), "--tls-cert", certPath, "--tls-key", keyPath, "--tls-client-ca", caPath)
	base := "https://" + p.addr
	anon := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool}}}
	if resp, err := anon.Get(base + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Errorf("/healthz without a client certificate: %v %v, want 200", resp, err)
	}
	resp, err := anon.Post(base+"/v1/txns", "", nil)
	if err != nil || resp.StatusCode != 401 {
		t.Errorf("begin without a client certificate: %v %v, want 401", resp, err)
	}
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		t.Fatal(err)
	}
	c := client.New(base, client.WithTLS(&tls.Config{RootCAs: ca.Pool, Certificates: []tls.Certificate{cert}}))
	tx, err := c.Begin(t.Context(), "")
	if err != nil {
		t.Fatalf("begin with a client certificate: %v", err)
	}
	c.Abort(t.Context(), tx.ID)
	other := certfiletest.NewCA(t)
	other.Issue(t, 9, filepath.Join(dir, "o.crt"), filepath.Join(dir, "o.key"))
	ocert, _ := tls.LoadX509KeyPair(filepath.Join(dir, "o.crt"), filepath.Join(dir, "o.key"))
	stranger := client.New(base, client.WithTLS(&tls.Config{RootCAs: ca.Pool, Certificates: []tls.Certificate{ocert}}))
	if _, err := stranger.Begin(t.Context(), ""); err == nil {
		t.Fatal("a client certificate of another CA was let in")
	}
	// A CA rotation: the bundle file gains the other CA, and the running shim lets its
	// certificates in within seconds, the first CA's still.
	certfiletest.WriteBundle(t, caPath, ca, other)
	written := time.Now()
	for {
		tx, err := stranger.Begin(t.Context(), "")
		if err == nil {
			stranger.Abort(t.Context(), tx.ID)
			break
		}
		if time.Since(written) > 10*time.Second { // the bundle is looked at every second
			t.Fatalf("the other CA's client certificate 10 s after the bundle gained the CA: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("the CA added to --tls-client-ca's bundle trusted %v after the file changed", time.Since(written).Round(time.Millisecond))
	if _, err := c.Begin(t.Context(), ""); err != nil {
		t.Errorf("the first CA's client certificate after the rotation: %v", err)
	}
}
