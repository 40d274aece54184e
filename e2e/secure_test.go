package e2e

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/internal/certfile/certfiletest"
	"github.com/aft-shim/aft/shim/auth"
)

// secureShim is what a shim run with TLS and tokens needs, and what its callers hold.
type secureShim struct {
	ca                      *certfiletest.CA
	cert, key, caFile, auth string
	tokenFile, token        string
}

// newSecureShim makes a CA, a certificate of serial 1 and a token of tenant "default".
func newSecureShim(t testing.TB) *secureShim {
	t.Helper()
	dir := t.TempDir()
	s := &secureShim{ca: certfiletest.NewCA(t), cert: filepath.Join(dir, "tls.crt"), key: filepath.Join(dir, "tls.key"),
		caFile: filepath.Join(dir, "ca.crt"), auth: filepath.Join(dir, "auth"), tokenFile: filepath.Join(dir, "token"), token: auth.NewToken()}
	s.ca.Issue(t, 1, s.cert, s.key)
	s.ca.WriteBundle(t, s.caFile)
	if err := os.WriteFile(s.auth, []byte(auth.Line(auth.DefaultName, s.token)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.tokenFile, []byte(s.token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *secureShim) serveFlags() []string {
	return []string{"--auth-file", s.auth, "--tls-cert", s.cert, "--tls-key", s.key}
}

func (s *secureShim) callerFlags() []string {
	return []string{"--shim-token-file", s.tokenFile, "--shim-ca", s.caFile}
}

// client returns a client of the shim at url with the token and the CA.
func (s *secureShim) client(url string) *client.Client {
	return client.New(url, client.WithToken(s.token), client.WithTLS(&tls.Config{RootCAs: s.ca.Pool}))
}

// rotate replaces the shim's certificate with one of serial and waits until addr serves it.
func (s *secureShim) rotate(t *testing.T, addr string, serial int64) {
	t.Helper()
	rotated := time.Now()
	s.ca.Issue(t, serial, s.cert, s.key)
	for servedSerial(t, addr, &tls.Config{RootCAs: s.ca.Pool}) != serial {
		if time.Since(rotated) > 5*time.Second {
			t.Fatalf("certificate %d not served 5 s after its files changed", serial)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// invokeUnderRotation runs workers loops of invocations of the pair function at url (each
// with an idempotency key of its own, each crashing once and retried) while the shim's
// certificate is rotated, and fails t for any that does not answer 200 from its second
// attempt.
func invokeUnderRotation(t *testing.T, sec *secureShim, shimAddr, url string, workers int) {
	stop := make(chan struct{})
	var mu sync.Mutex
	done, failed := 0, 0
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest("POST", url, strings.NewReader("order"))
				req.Header.Set("Idempotency-Key", fmt.Sprintf("rot-%d-%d", w, n))
				resp, err := http.DefaultClient.Do(req)
				var body []byte
				if err == nil {
					body, _ = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				mu.Lock()
				if err != nil || resp.StatusCode != 200 || !strings.Contains(string(body), "done by attempt 2") {
					failed++
					if failed <= 3 {
						t.Errorf("an invocation across the rotation: %v %v %q", err, resp, body)
					}
				} else {
					done++
				}
				mu.Unlock()
			}
		}()
	}
	time.Sleep(700 * time.Millisecond)
	sec.rotate(t, shimAddr, 2)
	time.Sleep(700 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("%d invocations across the certificate's rotation, %d failed", done, failed)
	if done < 10 {
		t.Errorf("%d invocations done, want at least 10", done)
	}
}

// TestSecureOpenFaaS runs the OpenFaaS path (the real gateway -> aft provider openfaas ->
// aft provider local -> function processes) to `aft serve` over HTTPS with a token and a
// test CA: the plugin holds the token and CA, the functions call the shim through its relay
// without either (a function handed a token fails), and the shim's certificate rotated
// while invocations run loses none.
func TestSecureOpenFaaS(t *testing.T) {
	sec := newSecureShim(t)
	st := startStack(t, sec)
	st.deploy("pair", "pair", true)
	shimAddr := strings.TrimPrefix(st.shimURL, "https://")
	invokeUnderRotation(t, sec, shimAddr, "http://127.0.0.1:8080/function/pair", 4)
	shim := sec.client(st.shimURL)
	tx, err := shim.Begin(t.Context(), "rot-0-0")
	if err != nil || !tx.Committed() {
		t.Errorf("the first invocation's key: %+v %v, want committed", tx, err)
	}
}

// TestSecureProxy runs aft proxy (with the token file and CA) -> a function process ->
// aft serve over HTTPS with a token: the function calls the shim through the proxy's
// relay, and the shim's certificate rotated while invocations run loses none.
func TestSecureProxy(t *testing.T) {
	bin := aftBinary(t)
	sec := newSecureShim(t)
	shim := startAft(t, bin, t.TempDir(), sec.serveFlags()...)
	fnPort := freePort(t)
	fn := startProc(t, append(os.Environ(), "AFT_E2E_FUNCTION=pair", "PORT="+strconv.Itoa(fnPort)), os.Args[0])
	waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/healthz", fnPort), fn)
	addr, _ := startProxy(t, bin, append([]string{"--upstream", fmt.Sprintf("http://127.0.0.1:%d", fnPort), "--shim", "https://" + shim.addr,
		"--attempt-timeout", "2s", "--deadline", "10s", "--backoff-base", "10ms", "--backoff-max", "50ms"}, sec.callerFlags()...)...)
	invokeUnderRotation(t, sec, shim.addr, "http://"+addr+"/", 4)
}
