package main

import (
	"bufio"
	"context"
	"encoding/pem"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aft-shim/aft/api"
	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/shim/shimtest"
)

// The credentials flags of every caller: a token file, AFT_SHIM_TOKEN, not both; a file
// that does not load is a usage error that names it.
func TestShimCredsFlags(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	tlsSrv.Close()
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw}), 0o600)
	tests := []struct {
		name      string
		args      []string
		env       map[string]string
		want      string // the Authorization sent; "" for none
		wantRelay bool
		wantUsage string // in the usage error
	}{
		{"none", nil, nil, "", false, ""},
		{"file", []string{"--shim-token-file", file}, nil, "Bearer from-file", true, ""},
		{"file from the environment", nil, map[string]string{"AFT_SHIM_TOKEN_FILE": file}, "Bearer from-file", true, ""},
		{"token from the environment", nil, map[string]string{envShimToken: "from-env"}, "Bearer from-env", true, ""},
		{"both", []string{"--shim-token-file", file}, map[string]string{envShimToken: "x"}, "", false, "not both"},
		{"missing file", []string{"--shim-token-file", filepath.Join(dir, "nope")}, nil, "", false, filepath.Join(dir, "nope")},
		{"CA alone relays", []string{"--shim-ca", ca}, nil, "", true, ""},
		{"missing CA", []string{"--shim-ca", filepath.Join(dir, "nope.pem")}, nil, "", false, filepath.Join(dir, "nope.pem")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			noEnvToken(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var creds shimCreds
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			creds.register(fs)
			if err := parseFlags(fs, tt.args); err != nil {
				t.Fatal(err)
			}
			opts, err := creds.options()
			var ue *usageError
			if tt.wantUsage != "" {
				if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.wantUsage) {
					t.Errorf("err = %v, want a usage error that says %q", err, tt.wantUsage)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got string
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = r.Header.Get("Authorization")
				w.WriteHeader(http.StatusOK)
				io.WriteString(w, `{"id":"t","status":"running"}`)
			}))
			defer ts.Close()
			client.New(ts.URL, opts...).Status(context.Background(), "t")
			if got != tt.want || creds.relay() != tt.wantRelay {
				t.Errorf("Authorization %q, relay %v; want %q, %v", got, creds.relay(), tt.want, tt.wantRelay)
			}
		})
	}
}

// noEnvToken unsets AFT_SHIM_TOKEN for the test.
func noEnvToken(t *testing.T) {
	t.Setenv(envShimToken, "") // restored at cleanup
	os.Unsetenv(envShimToken)
}

// aft provider openfaas reads the OpenFaaS secret when no token is given otherwise.
func TestFallbackTokenFile(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "aft-shim-token")
	given := filepath.Join(dir, "given")
	noEnvToken(t)

	var c shimCreds
	c.fallbackTokenFile(secret)
	if c.TokenFile != "" {
		t.Errorf("a missing secret was taken: %q", c.TokenFile)
	}
	os.WriteFile(secret, []byte("tok"), 0o600)
	c.fallbackTokenFile(secret)
	if c.TokenFile != secret {
		t.Errorf("TokenFile %q, want the secret %q", c.TokenFile, secret)
	}
	c = shimCreds{}
	c.TokenFile = given
	c.fallbackTokenFile(secret)
	if c.TokenFile != given {
		t.Errorf("--shim-token-file lost to the secret: %q", c.TokenFile)
	}
	c = shimCreds{}
	t.Setenv(envShimToken, "env")
	c.fallbackTokenFile(secret)
	if c.TokenFile != "" {
		t.Errorf("AFT_SHIM_TOKEN lost to the secret: %q", c.TokenFile)
	}
}

func TestRelayListen(t *testing.T) {
	tests := []struct {
		name   string
		flags  relayFlags
		want   *regexp.Regexp
		usage  bool
		noHost bool // the wildcard may find no address on a bare test machine
	}{
		{"loopback", relayFlags{Listen: "127.0.0.1:0"}, regexp.MustCompile(`^http://127\.0\.0\.1:\d+$`), false, false},
		{"wildcard", relayFlags{Listen: ":0"}, regexp.MustCompile(`^http://\S+:\d+$`), false, true},
		{"given URL", relayFlags{Listen: "127.0.0.1:0", URL: "http://10.1.2.3:8082"}, regexp.MustCompile(`^http://10\.1\.2\.3:8082$`), false, false},
		{"IPv6 pod IP", relayFlags{Listen: "127.0.0.1:0", URL: "http://fd00::5:8084"}, regexp.MustCompile(`^http://\[fd00::5\]:8084$`), false, false},
		{"bad listen", relayFlags{Listen: "nowhere"}, nil, true, false},
		{"bad URL", relayFlags{Listen: "127.0.0.1:0", URL: "10.1.2.3:8082"}, nil, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, u, err := tt.flags.listen()
			var ue *usageError
			switch {
			case tt.usage:
				if !errors.As(err, &ue) {
					t.Errorf("err = %v, want a usage error", err)
				}
				return
			case err != nil && tt.noHost:
				t.Skipf("no address but loopback here: %v", err)
			case err != nil:
				t.Fatal(err)
			}
			defer ln.Close()
			if !tt.want.MatchString(u) || strings.Contains(u, "[::]") || strings.Contains(u, "0.0.0.0") {
				t.Errorf("relay URL %q, want %v", u, tt.want)
			}
		})
	}
}

// aft proxy with a token file: the shim gets the token on every call, the middleware's
// and the function's (through the relay); the function sees none of it.
func TestProxyWithToken(t *testing.T) {
	const token = "proxy-test-token"
	var mu sync.Mutex
	var noToken []string
	shim := shimtest.StartAuth(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer "+token {
				mu.Lock()
				noToken = append(noToken, r.Method+" "+r.URL.Path)
				mu.Unlock()
			}
			h.ServeHTTP(w, r)
		})
	}, "default", token)
	var fnSaw http.Header
	fn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fnSaw = r.Header.Clone()
		c := client.New(r.Header.Get(api.HeaderShim)) // what an SDK does
		if err := c.Put(r.Context(), r.Header.Get(api.HeaderTxnID), "k", []byte("v")); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "done")
	}))
	defer fn.Close()
	file := filepath.Join(t.TempDir(), "token")
	os.WriteFile(file, []byte(token+"\n"), 0o600)

	var cfg proxyConfig
	noEnvToken(t)
	if err := parseFlags(proxyCmd{}.flags(&cfg), []string{"--upstream", fn.URL, "--shim", shim.URL, "--shim-token-file", file, "--listen", "127.0.0.1:0"}); err != nil {
		t.Fatal(err)
	}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- runProxy(ctx, cfg, pw); pw.Close() }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	m := regexp.MustCompile(`^aft proxy: listening on (\S+) .*relay at (\S+)\)`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("ready line %q does not name the relay", line)
	}
	req, _ := http.NewRequest("POST", "http://"+m[1]+"/", strings.NewReader("x"))
	req.Header.Set(api.HeaderIdempotencyKey, "p1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "done" {
		t.Errorf("answered %d %q", resp.StatusCode, b)
	}
	if got := fnSaw.Get(api.HeaderShim); got != m[2] {
		t.Errorf("the function got %s %q, want the relay %s", api.HeaderShim, got, m[2])
	}
	for k, vs := range fnSaw {
		if strings.Contains(strings.Join(vs, " "), token) {
			t.Errorf("the function got the token in %s", k)
		}
	}
	mu.Lock()
	if len(noToken) > 0 {
		t.Errorf("calls without the token: %v", noToken)
	}
	mu.Unlock()
	shimtest.Want(t, client.New(shim.URL, client.WithToken(token)), map[string]string{"k": "v"})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("runProxy: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("runProxy did not return after its context ended")
	}
}
