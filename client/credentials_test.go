package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aft-shim/aft/internal/certfile/certfiletest"
)

// authServer is a shim stand-in that records the Authorization header of each request and
// answers a begin.
type authServer struct {
	mu   sync.Mutex
	seen []string
}

func (s *authServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.seen = append(s.seen, r.Header.Get("Authorization"))
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	w.Write([]byte(`{"id":"t1","status":"running","attempt":1}`))
}

func (s *authServer) last() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.seen) == 0 {
		return "<no request>"
	}
	return s.seen[len(s.seen)-1]
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestCredentialsToken(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	writeFile(t, file, "  file-token\n")
	tests := []struct {
		name  string
		creds Credentials
		want  string
	}{
		{"none", Credentials{}, ""},
		{"file, whitespace trimmed", Credentials{TokenFile: file}, "Bearer file-token"},
		{"token itself", Credentials{Token: "env-token\n"}, "Bearer env-token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s authServer
			ts := httptest.NewServer(&s)
			defer ts.Close()
			opts, err := tt.creds.Options()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := New(ts.URL, opts...).Begin(context.Background(), ""); err != nil {
				t.Fatal(err)
			}
			if got := s.last(); got != tt.want {
				t.Errorf("Authorization = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCredentialsErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	writeFile(t, empty, " \n")
	twoWords := filepath.Join(dir, "two")
	writeFile(t, twoWords, "tok\nsecond line\n")
	notPEM := filepath.Join(dir, "ca.pem")
	writeFile(t, notPEM, "not a certificate")
	tests := []struct {
		name  string
		creds Credentials
		want  []string // in the error
	}{
		{"both", Credentials{TokenFile: empty, Token: "x"}, []string{"not both"}},
		{"missing file", Credentials{TokenFile: filepath.Join(dir, "nope")}, []string{filepath.Join(dir, "nope"), "no such file"}},
		{"empty file", Credentials{TokenFile: empty}, []string{empty, "no token"}},
		{"two lines", Credentials{TokenFile: twoWords}, []string{twoWords, "token alone"}},
		{"bad env token", Credentials{Token: "a b"}, []string{"AFT_SHIM_TOKEN"}},
		{"missing CA", Credentials{CAFile: filepath.Join(dir, "noca")}, []string{filepath.Join(dir, "noca"), "PEM"}},
		{"CA not PEM", Credentials{CAFile: notPEM}, []string{notPEM, "no PEM certificate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.creds.Options()
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// A token file swapped under a running client (a Kubernetes Secret update) is presented
// from the next look at the file on; a file that is empty for a moment keeps the last token.
func TestFileTokenFollowsTheFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "token")
	writeFile(t, file, "one\n")
	f, err := OpenFileToken(file)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Token(); got != "one" {
		t.Fatalf("Token = %q, want one", got)
	}
	// Within the second, the file is not read again.
	writeFile(t, file, "two\n")
	if got := f.Token(); got != "one" {
		t.Errorf("Token within a second of the last read = %q, want one", got)
	}
	f.every = 0 // every call looks at the file
	if got := f.Token(); got != "two" {
		t.Errorf("Token after the file changed = %q, want two", got)
	}
	writeFile(t, file, "")
	if got := f.Token(); got != "two" {
		t.Errorf("Token of an empty file = %q, want the last good one, two", got)
	}
	// A swap by rename, as a Secret update makes it.
	next := file + ".new"
	writeFile(t, next, "three")
	if err := os.Rename(next, file); err != nil {
		t.Fatal(err)
	}
	var s authServer
	ts := httptest.NewServer(&s)
	defer ts.Close()
	if _, err := New(ts.URL, WithTokenSource(f)).Begin(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	if got := s.last(); got != "Bearer three" {
		t.Errorf("Authorization after a swap = %q, want Bearer three", got)
	}
}

// --shim-ca: an https shim whose certificate only the bundle trusts.
func TestCredentialsCA(t *testing.T) {
	var s authServer
	ts := httptest.NewTLSServer(&s)
	defer ts.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	writeFile(t, ca, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw})))

	if _, err := New(ts.URL).Begin(context.Background(), ""); err == nil {
		t.Fatal("a client without the bundle trusted the test certificate")
	}
	opts, err := Credentials{CAFile: ca, Token: "tok"}.Options()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(ts.URL, opts...).Begin(context.Background(), ""); err != nil {
		t.Fatalf("with the bundle: %v", err)
	}
	if got := s.last(); got != "Bearer tok" {
		t.Errorf("Authorization = %q, want Bearer tok", got)
	}
}

// --shim-ca is followed as its file changes: a client made while the bundle held the old
// CA alone reaches a shim whose certificate the new CA signed once the rotation's bundle
// (old and new) is written, without being made again.
func TestCredentialsCAFollowsTheBundle(t *testing.T) {
	dir := t.TempDir()
	oldCA, newCA := certfiletest.NewCA(t), certfiletest.NewCA(t)
	newCA.Issue(t, 1, filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"))
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(&authServer{})
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	ts.StartTLS()
	defer ts.Close()
	bundle := filepath.Join(dir, "ca.pem")
	oldCA.WriteBundle(t, bundle)
	opts, err := Credentials{CAFile: bundle}.Options()
	if err != nil {
		t.Fatal(err)
	}
	c := New(ts.URL, opts...)
	var unknown x509.UnknownAuthorityError
	if _, err := c.Begin(t.Context(), ""); !errors.As(err, &unknown) {
		t.Fatalf("a shim whose certificate the bundle's CA did not sign: %v, want x509.UnknownAuthorityError", err)
	}
	certfiletest.WriteBundle(t, bundle, oldCA, newCA)
	written := time.Now()
	for {
		_, err := c.Begin(t.Context(), "")
		if err == nil {
			break
		}
		if time.Since(written) > 10*time.Second { // the bundle is looked at every second
			t.Fatalf("10 s after the rotation's bundle was written: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("the new CA trusted %v after the bundle changed", time.Since(written).Round(time.Millisecond))
}

// RoundTripper sends another's request with the client's token in place of the request's
// own Authorization, and leaves the request it was given as it was.
func TestRoundTripperAuthorizes(t *testing.T) {
	var s authServer
	ts := httptest.NewServer(&s)
	defer ts.Close()
	rt := New(ts.URL, WithToken("mine")).RoundTripper()
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/v1/txns/t1", nil)
	req.Header.Set("Authorization", "Bearer theirs")
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := s.last(); got != "Bearer mine" {
		t.Errorf("Authorization sent = %q, want Bearer mine", got)
	}
	if got := req.Header.Get("Authorization"); got != "Bearer theirs" {
		t.Errorf("the request given was changed: Authorization %q", got)
	}
}
