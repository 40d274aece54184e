package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aft-shim/aft/api"
	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/internal/certfile/certfiletest"
	"github.com/aft-shim/aft/internal/launch"
)

// newToken runs `aft token new TENANT` and returns the token and its auth file line.
func newToken(t *testing.T, bin, tenant string) (token, line string) {
	t.Helper()
	out, err := exec.Command(bin, "token", "new", tenant).Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 {
		t.Fatalf("aft token new printed %q, want two lines", out)
	}
	return lines[0], lines[1]
}

// proxyReady matches the ready line of `aft proxy` with a relay: its address and the relay's.
var proxyReady = regexp.MustCompile(`^aft proxy: listening on (\S+) .*relay at (\S+)\)`)

// TestProxyTokenProcess runs `aft serve --auth-file` and `aft proxy --shim-token-file` as
// processes, over HTTP and over HTTPS (--tls-cert, --shim-ca), in front of a function that
// calls X-Aft-Shim as the SDKs do, without a token: its writes commit, it cannot commit
// through the relay, it never sees the token, and when the token is rotated (a new auth
// file and token file, as a Secret update swaps them) the proxy presents the new one
// without a restart.
func TestProxyTokenProcess(t *testing.T) {
	bin := buildAft(t)
	for _, https := range []bool{false, true} {
		t.Run(map[bool]string{false: "http", true: "https"}[https], func(t *testing.T) { proxyToken(t, bin, https) })
	}
}

func proxyToken(t *testing.T, bin string, https bool) {
	dir := t.TempDir()
	token, line := newToken(t, bin, "acme")
	authFile, tokenFile := filepath.Join(dir, "auth"), filepath.Join(dir, "token")
	write := func(path, text string) {
		t.Helper()
		tmp := path + ".new"
		if err := os.WriteFile(tmp, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil { // swapped whole, as a Secret update does
			t.Fatal(err)
		}
	}
	write(authFile, line+"\n")
	write(tokenFile, token+"\n")
	serveArgs := []string{"--data-dir", filepath.Join(dir, "data"), "--auth-file", authFile}
	var proxyArgs []string
	var shimOpts []client.Option // the test's own client of the shim
	scheme := "http://"
	if https {
		ca := certfiletest.NewCA(t)
		cert, key, bundle := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "ca.pem")
		ca.Issue(t, 1, cert, key)
		ca.WriteBundle(t, bundle)
		serveArgs = append(serveArgs, "--tls-cert", cert, "--tls-key", key)
		proxyArgs = append(proxyArgs, "--shim-ca", bundle)
		opts, err := client.Credentials{CAFile: bundle}.Options()
		if err != nil {
			t.Fatal(err)
		}
		shimOpts, scheme = opts, "https://"
	}
	_, addr := startServe(t, bin, serveArgs...)
	shimURL := scheme + addr
	shimClient := func(token string) *client.Client {
		return client.New(shimURL, append([]client.Option{client.WithToken(token)}, shimOpts...)...)
	}

	var mu sync.Mutex
	var seen []http.Header
	var commitStatus []int
	fn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		relay, id := r.Header.Get(api.HeaderShim), r.Header.Get(api.HeaderTxnID)
		body, _ := io.ReadAll(r.Body)
		if err := client.New(relay).Put(r.Context(), id, string(body), []byte("v")); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		req, _ := http.NewRequestWithContext(r.Context(), "POST", relay+"/v1/txns/"+id+"/commit", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		resp.Body.Close()
		mu.Lock()
		seen = append(seen, r.Header.Clone())
		commitStatus = append(commitStatus, resp.StatusCode)
		mu.Unlock()
		for k, vs := range r.Header { // a careless function echoes what it got
			w.Header()["X-Echo-"+k] = vs
		}
		io.WriteString(w, "wrote "+string(body))
	}))
	defer fn.Close()

	cmd := exec.Command(bin, append([]string{"proxy", "--listen", "127.0.0.1:0", "--upstream", fn.URL, "--shim", shimURL, "--shim-token-file", tokenFile}, proxyArgs...)...)
	cmd.Env = launch.Environ()
	cmd.Stderr = os.Stderr
	p, err := launch.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	ready, err := p.WaitLine(t.Context(), launch.Submatch(regexp.MustCompile(`^(aft proxy: listening on .*)`)), 20*time.Second)
	if err != nil {
		t.Fatalf("aft proxy printed no ready line: %v", err)
	}
	m := proxyReady.FindStringSubmatch(ready)
	if m == nil {
		t.Fatalf("ready line %q names no relay", ready)
	}
	proxyURL, relayURL := "http://"+m[1], m[2]

	send := func(key string) (*http.Response, string, error) {
		req, _ := http.NewRequest("POST", proxyURL+"/", strings.NewReader(key))
		req.Header.Set(api.HeaderIdempotencyKey, key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, "", err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b), nil
	}
	noToken := func(what string, h http.Header, body string, tokens ...string) {
		t.Helper()
		for _, tok := range tokens {
			for k, vs := range h {
				if strings.Contains(strings.Join(vs, " "), tok) {
					t.Errorf("%s: the token is in header %s", what, k)
				}
			}
			if strings.Contains(body, tok) {
				t.Errorf("%s: the token is in the body", what)
			}
		}
	}

	resp, body, err := send("k1")
	if err != nil || resp.StatusCode != 200 || body != "wrote k1" {
		t.Fatalf("first request: %v, %q, %v", resp, body, err)
	}
	noToken("the answer", resp.Header, body, token)
	resp, body, err = send("k1")
	if err != nil || resp.Header.Get(api.HeaderReplayed) != "true" {
		t.Fatalf("duplicate: %v, %q, %v; want the stored result", resp, body, err)
	}
	noToken("the duplicate's answer", resp.Header, body, token)
	mu.Lock()
	if len(seen) != 1 || seen[0].Get(api.HeaderShim) != relayURL || commitStatus[0] != http.StatusForbidden {
		t.Errorf("the function ran %d times, got %s %q (want %s), its commit through the relay answered %v (want 403)",
			len(seen), api.HeaderShim, seen[0].Get(api.HeaderShim), relayURL, commitStatus)
	}
	noToken("the function's request", seen[0], "", token)
	mu.Unlock()

	ctx := context.Background()
	if _, err := shimClient("").Begin(ctx, ""); !errors.Is(err, client.ErrUnauthorized) {
		t.Errorf("begin without a token: %v, want unauthorized: is --auth-file on?", err)
	}
	if v, ok := committed(t, shimClient(token), "k1"); !ok || v != "v" {
		t.Errorf("k1 = %q, %v; want v, committed", v, ok)
	}

	// Rotation: the shim knows the new token only; the proxy reads the new file.
	token2, line2 := newToken(t, bin, "acme")
	write(authFile, line2+"\n")
	write(tokenFile, token2+"\n")
	deadline := time.Now().Add(15 * time.Second)
	for { // until the shim read its new auth file
		_, err := shimClient(token).Begin(ctx, "")
		if errors.Is(err, client.ErrUnauthorized) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the shim still takes the old token: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for { // the proxy reads its token file again within a second
		resp, body, err = send("k2")
		if err == nil && resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the rotation: %v, %q, %v", resp, body, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	noToken("the answer after the rotation", resp.Header, body, token, token2)
	if v, ok := committed(t, shimClient(token2), "k2"); !ok || v != "v" {
		t.Errorf("k2 = %q, %v; want v, committed", v, ok)
	}
	mu.Lock()
	for _, h := range seen {
		noToken("a function's request", h, "", token, token2)
	}
	mu.Unlock()
}

// committed reads key in a transaction of c; ok is false when it has no committed version.
func committed(t *testing.T, c *client.Client, key string) (string, bool) {
	t.Helper()
	ctx := context.Background()
	tx, err := c.Begin(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Abort(ctx, tx.ID)
	v, err := c.Get(ctx, tx.ID, key)
	if errors.Is(err, client.ErrKeyNotFound) {
		return "", false
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(v.Bytes), true
}
