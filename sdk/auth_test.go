package sdk_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/internal/certfile/certfiletest"
	"github.com/aft-shim/aft/sdk"
	"github.com/aft-shim/aft/shim/auth"
	"github.com/aft-shim/aft/shim/server"
	"github.com/aft-shim/aft/shim/shimtest"
	"github.com/aft-shim/aft/shim/store/mem"
	"github.com/aft-shim/aft/shim/txn"
)

// authShim is a shim in this process that wants a token, as `aft serve --auth-file` makes
// it (http-api.md, "Callers and tenants"): its server checks tokens against an auth file's
// table of one tenant. It is served over plain HTTP and over HTTPS with a certificate of a
// CA made for the test.
type authShim struct {
	url    string         // http://
	tlsURL string         // https://, the same shim
	caFile string         // the CA bundle of tlsURL's certificate
	token  string         // the one token it knows
	admin  *client.Client // of url, presenting token

	refused atomic.Int64 // requests answered 401
	tlsOK   atomic.Int64 // requests over TLS that presented the token
}

// startAuthShim starts an authShim, stopped when t ends.
func startAuthShim(t *testing.T) *authShim {
	t.Helper()
	s := &authShim{token: auth.NewToken()}
	srv, ok := shimtest.Open(t, mem.New(), txn.Config{}).Handler().(*server.Server)
	if !ok {
		t.Fatal("the shim's handler is not a *server.Server: give it its auth table another way")
	}
	table, err := auth.Parse(strings.NewReader(auth.Line("sdk", s.token) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	srv.Auth = table
	h := s.count(srv)

	plain := httptest.NewServer(h)
	t.Cleanup(plain.Close)
	dir := t.TempDir()
	ca := certfiletest.NewCA(t)
	s.caFile = filepath.Join(dir, "ca.pem")
	ca.WriteBundle(t, s.caFile)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ca.Issue(t, 2, certFile, keyFile)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	secure := httptest.NewUnstartedServer(h)
	secure.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	secure.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshakes refused on purpose
	secure.StartTLS()
	t.Cleanup(secure.Close)

	s.url, s.tlsURL = plain.URL, secure.URL
	s.admin = client.New(s.url, client.WithToken(s.token))
	return s
}

// count counts the answers of next: the 401s, and the others over TLS.
func (s *authShim) count(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		switch {
		case sw.code == http.StatusUnauthorized:
			s.refused.Add(1)
		case r.TLS != nil:
			s.tlsOK.Add(1)
		}
	})
}

// statusWriter remembers the status written through it.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// writeFile writes s to a new file in t's temporary folder and returns its path.
func writeFile(t *testing.T, name, s string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestAuth: a Txn presents the token of its options or the environment, trusts the CA
// bundle of its options or the environment, and explains a refused token or an unknown CA
// without showing the token.
func TestAuth(t *testing.T) {
	s := startAuthShim(t)
	shimtest.Seed(t, s.admin, "k", "v")
	id, _ := begin(t, s.admin, s.url)
	wrong := auth.NewToken()
	tokenFile := writeFile(t, "token", "\n  "+s.token+" \n")

	for _, tc := range []struct {
		name  string
		env   map[string]string // AFT_SHIM_TOKEN, AFT_SHIM_TOKEN_FILE, AFT_SHIM_CA: unset unless here
		https bool
		opts  []sdk.Option
		// newErr is in New's error; else wantErr is in the error of a read, which matches
		// ErrUnauthorized when unauthorized; else the read succeeds.
		newErr, wantErr string
		unauthorized    bool
	}{
		{name: "token from AFT_SHIM_TOKEN", env: map[string]string{sdk.EnvToken: s.token}},
		{name: "token from the file AFT_SHIM_TOKEN_FILE", env: map[string]string{sdk.EnvTokenFile: tokenFile}},
		{name: "WithToken before the environment", env: map[string]string{sdk.EnvToken: wrong}, opts: []sdk.Option{sdk.WithToken(s.token)}},
		{name: "WithTokenFile before the environment", env: map[string]string{sdk.EnvToken: wrong}, opts: []sdk.Option{sdk.WithTokenFile(tokenFile)}},
		{name: "AFT_SHIM_TOKEN before AFT_SHIM_TOKEN_FILE", env: map[string]string{sdk.EnvToken: s.token, sdk.EnvTokenFile: "/nonexistent"}},
		{name: "no token", wantErr: "(the shim wants a token: set AFT_SHIM_TOKEN or AFT_SHIM_TOKEN_FILE, or use sdk.WithToken)", unauthorized: true},
		{name: "unknown token", env: map[string]string{sdk.EnvToken: wrong},
			wantErr: "does not know the token of AFT_SHIM_TOKEN", unauthorized: true},
		{name: "empty token file", env: map[string]string{sdk.EnvTokenFile: writeFile(t, "empty", " \n")}, newErr: "no token in it"},
		{name: "missing token file", opts: []sdk.Option{sdk.WithTokenFile("/nonexistent/token")}, newErr: "no such file"},
		{name: "https with AFT_SHIM_CA", https: true, env: map[string]string{sdk.EnvToken: s.token, sdk.EnvCA: s.caFile}},
		{name: "https with WithCA", https: true, env: map[string]string{sdk.EnvToken: s.token}, opts: []sdk.Option{sdk.WithCA(s.caFile)}},
		{name: "https without a CA", https: true, env: map[string]string{sdk.EnvToken: s.token},
			wantErr: "certificate signed by unknown authority (set AFT_SHIM_CA to the file of the CA"},
		{name: "https with a CA file of no certificate", https: true, env: map[string]string{sdk.EnvCA: tokenFile}, newErr: "holds no PEM certificate"},
		{name: "WithCA and WithHTTPClient", https: true, opts: []sdk.Option{sdk.WithCA(s.caFile), sdk.WithHTTPClient(&http.Client{})},
			newErr: "WithCA and WithHTTPClient"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{sdk.EnvToken, sdk.EnvTokenFile, sdk.EnvCA} {
				t.Setenv(k, tc.env[k])
			}
			shim := s.url
			if tc.https {
				shim = s.tlsURL
			}
			tx, err := sdk.New(shim, id, tc.opts...)
			if tc.newErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.newErr) {
					t.Fatalf("New: err = %v, want one saying %q", err, tc.newErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			v, err := tx.Get(ctx, "k")
			_, manyErr := tx.GetMany(ctx, "k")
			if tc.wantErr == "" {
				if err != nil || string(v) != "v" || manyErr != nil {
					t.Fatalf("Get = %q, %v; GetMany: %v; want v", v, err, manyErr)
				}
				return
			}
			t.Logf("Get: %v", err)
			for _, err := range []error{err, manyErr} {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || errors.Is(err, sdk.ErrUnauthorized) != tc.unauthorized {
					t.Errorf("err = %v, want one saying %q (unauthorized: %v)", err, tc.wantErr, tc.unauthorized)
				}
				if tc.unauthorized && !strings.Contains(err.Error(), "shim answered 401 unauthorized") {
					t.Errorf("err = %v, want the shim's 401", err)
				}
				if err != nil && (strings.Contains(err.Error(), s.token) || strings.Contains(err.Error(), wrong)) {
					t.Errorf("the error shows a token: %v", err)
				}
			}
			var unknownCA x509.UnknownAuthorityError
			if tc.https && !errors.As(err, &unknownCA) {
				t.Errorf("err = %v, want an x509.UnknownAuthorityError in its chain", err)
			}
		})
	}
	if s.refused.Load() == 0 || s.tlsOK.Load() == 0 {
		t.Fatalf("the shim refused %d requests and served %d over TLS: a case did not reach it", s.refused.Load(), s.tlsOK.Load())
	}
}

// TestCallSendsNoToken: the token is the shim's; a called function never sees it.
func TestCallSendsNoToken(t *testing.T) {
	var got atomic.Value
	fn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Header.Get("Authorization"))
	}))
	defer fn.Close()
	tx, err := sdk.New("http://127.0.0.1:1", "t1", sdk.WithToken("secret-token"))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, fn.URL, nil)
	resp, err := tx.Call(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if a := got.Load(); a != "" {
		t.Fatalf("the called function got Authorization %q, want none", a)
	}
}
