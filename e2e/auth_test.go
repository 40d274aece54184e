package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/history"
	"github.com/aft-shim/aft/history/driver"
	"github.com/aft-shim/aft/middleware/dlq"
	"github.com/aft-shim/aft/shim/auth"
)

// writeAuth writes an auth file with a line per tenant's token, replacing the file whole
// as a Kubernetes Secret update does.
func writeAuth(t *testing.T, path string, tokens map[string]string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("# tenants of the test\n")
	for tenant, token := range tokens {
		b.WriteString(auth.Line(tenant, token) + "\n")
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// rawCall sends one request with token (none when "") and returns the status, the
// error code and the WWW-Authenticate header.
func rawCall(t *testing.T, method, url, token string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(""))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct{ Code string }
	_ = json.NewDecoder(resp.Body).Decode(&e)
	return resp.StatusCode, e.Code, resp.Header.Get("WWW-Authenticate")
}

// TestAuthTenants runs a real `aft serve --auth-file` with tenants a, b and default: no
// token and a wrong one get 401; tenant a's transaction ids, keys, idempotency keys,
// stored results and dead letters are invisible to b (404 txn_not_found for its ids); a
// token revoked in the file while the shim runs is refused within seconds, while another
// tenant's requests go on without one refused.
func TestAuthTenants(t *testing.T) {
	bin := aftBinary(t)
	dir := t.TempDir()
	tokens := map[string]string{"a": auth.NewToken(), "b": auth.NewToken(), "default": auth.NewToken()}
	authPath := filepath.Join(dir, "auth")
	writeAuth(t, authPath, tokens)
	p := startAft(t, bin, filepath.Join(dir, "data"), "--auth-file", authPath)
	base := "http://" + p.addr
	ctx := t.Context()

	for _, token := range []string{"", auth.NewToken(), tokens["a"] + "x"} {
		code, ecode, www := rawCall(t, "POST", base+"/v1/txns", token)
		if code != 401 || ecode != "unauthorized" || !strings.HasPrefix(www, "Bearer") {
			t.Errorf("begin with token %.8q: %d %s WWW-Authenticate %q, want 401 unauthorized, Bearer", token, code, ecode, www)
		}
	}
	if code, _, _ := rawCall(t, "GET", base+"/readyz", ""); code != 200 {
		t.Errorf("/readyz without a token: %d", code)
	}

	ca := client.New(base, client.WithToken(tokens["a"]))
	cb := client.New(base, client.WithToken(tokens["b"]))
	cd := client.New(base, client.WithToken(tokens["default"]))
	// The same idempotency key and key names in a and b: two things each.
	for _, c := range []struct {
		c    *client.Client
		name string
	}{{ca, "a"}, {cb, "b"}} {
		tx, err := c.c.Begin(ctx, "order-42")
		if err != nil || tx.Committed() {
			t.Fatalf("%s: begin order-42: %+v %v, want a new attempt", c.name, tx, err)
		}
		if err := c.c.Put(ctx, tx.ID, "stock", []byte("of "+c.name)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.c.Commit(ctx, tx.ID, []byte("result of "+c.name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		c    *client.Client
		name string
	}{{ca, "a"}, {cb, "b"}} {
		again, err := c.c.Begin(ctx, "order-42")
		if err != nil || !again.Committed() || string(again.Result) != "result of "+c.name {
			t.Errorf("%s: begin order-42 again: %+v %v, want its own stored result", c.name, again, err)
		}
		r, _ := c.c.Begin(ctx, "")
		if v, err := c.c.Get(ctx, r.ID, "stock"); err != nil || string(v.Bytes) != "of "+c.name {
			t.Errorf("%s reads stock = %q %v", c.name, v.Bytes, err)
		}
		c.c.Abort(ctx, r.ID)
	}
	if keys, _, err := cd.Keys(ctx, "", "", 100); err != nil || len(keys) != 0 {
		t.Errorf("the default tenant lists %q %v, want nothing", keys, err)
	}

	// a's running transaction, through every route with b's token.
	txA, err := ca.Begin(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct{ method, path string }{{"GET", ""}, {"GET", "/keys/stock"}, {"PUT", "/keys/stock"},
		{"DELETE", "/keys/stock"}, {"POST", "/batch"}, {"POST", "/commit"}, {"POST", "/abort"}} {
		for _, other := range []string{"b", "default"} {
			if code, ecode, _ := rawCall(t, r.method, base+"/v1/txns/"+txA.ID+r.path, tokens[other]); code != 404 || ecode != "txn_not_found" {
				t.Errorf("%s %s of a's transaction with %s's token: %d %s, want 404 txn_not_found", r.method, r.path, other, code, ecode)
			}
		}
	}
	if err := ca.Put(ctx, txA.ID, "stock", []byte("still a's")); err != nil {
		t.Errorf("a's transaction after b's tries: %v", err)
	}
	ca.Abort(ctx, txA.ID)

	// Dead letters live in the tenant's keys.
	if err := dlq.Put(ctx, ca, dlq.Entry{Key: "order-7", Function: "f", LastError: "boom", Attempts: 3}); err != nil {
		t.Fatal(err)
	}
	if es, err := dlq.List(ctx, cb); err != nil || len(es) != 0 {
		t.Errorf("b's dead letters: %+v %v, want none", es, err)
	}
	if _, err := dlq.Get(ctx, cb, "order-7"); !errors.Is(err, dlq.ErrNotFound) {
		t.Errorf("b gets a's dead letter: %v", err)
	}
	if es, err := dlq.List(ctx, ca); err != nil || len(es) != 1 {
		t.Errorf("a's dead letters: %+v %v, want one", es, err)
	}

	// Revoke b's token while a keeps calling.
	stop := make(chan struct{})
	during := make(chan steadyStats)
	go func() { during <- steady(ctx, t, ca, 4, stop) }()
	time.Sleep(300 * time.Millisecond)
	revokedAt := time.Now()
	writeAuth(t, authPath, map[string]string{"a": tokens["a"], "default": tokens["default"]})
	for {
		code, _, _ := rawCall(t, "POST", base+"/v1/txns", tokens["b"])
		if code == 401 {
			break
		}
		// The file is read again every ReloadEvery; the bound is ten of them, room for a
		// machine that starves the reload. Past it any answer but 401 fails, not only 201.
		if time.Since(revokedAt) > 10*auth.ReloadEvery {
			t.Fatalf("b's revoked token answered %d, not 401, %v after the file changed", code, time.Since(revokedAt))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("b's token refused %v after it was removed from the file", time.Since(revokedAt).Round(time.Millisecond))
	time.Sleep(300 * time.Millisecond)
	close(stop)
	if st := <-during; st.errs != 0 || st.txns < 10 {
		t.Errorf("tenant a during the reload: %v; want no error in at least 10 transactions", st)
	}
}

// TestAuthHistoryTwoTenants runs two workload drivers at once against one `aft serve
// --auth-file`, as tenants a and b, on the same key names and the same idempotency keys:
// each tenant's history has no anomaly (a read of the other tenant's write would be one:
// a version no transaction of its history wrote), and every idempotency key has its one
// winner in each tenant.
func TestAuthHistoryTwoTenants(t *testing.T) {
	bin := aftBinary(t)
	dir := t.TempDir()
	tokens := map[string]string{"a": auth.NewToken(), "b": auth.NewToken()}
	authPath := filepath.Join(dir, "auth")
	writeAuth(t, authPath, tokens)
	p := startAft(t, bin, filepath.Join(dir, "data"), "--auth-file", authPath)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	type run struct {
		c   *client.Client
		rec history.Recorder
		st  driver.Stats
		err error
	}
	runs := map[string]*run{}
	var wg sync.WaitGroup
	for tenant, token := range tokens {
		r := &run{c: client.New("http://"+p.addr, client.WithToken(token))}
		runs[tenant] = r
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.st, r.err = driver.Run(ctx, r.c, &r.rec, driver.Options{
				Clients: 8, Txns: 600, Groups: 4, GroupSize: 4, KeyPrefix: "shared", IdemPrefix: "idem-shared-",
				Backoff: 5 * time.Millisecond, OpTimeout: 3 * time.Second, ValueSize: 32,
			})
		}()
	}
	wg.Wait()
	for tenant, r := range runs {
		if r.err != nil {
			t.Fatalf("tenant %s: %v", tenant, r.err)
		}
		if err := driver.Final(ctx, r.c, &r.rec); err != nil {
			t.Fatalf("tenant %s: %v", tenant, err)
		}
		sum, n := judge(ctx, t, r.c, &r.rec, r.st, "tenant "+tenant)
		atLeast(t, map[string][2]int64{
			"committed writers (" + tenant + ")": {int64(sum.committedWriters), 200},
			"multi-key readers (" + tenant + ")": {int64(sum.multiKeyReaders), 100},
			"keys verified (" + tenant + ")":     {int64(n), 50},
		})
	}
}

// TestProtectedMode: `aft serve` without --auth-file refuses an address beyond loopback,
// exits 2 and says how to make a token; with --insecure it serves.
func TestProtectedMode(t *testing.T) {
	bin := aftBinary(t)
	out, err := exec.Command(bin, "serve", "--listen", "0.0.0.0:0", "--data-dir", t.TempDir()).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "aft token new") || strings.Count(strings.TrimSpace(string(out)), "\n") != 0 {
		t.Errorf("aft serve --listen 0.0.0.0:0: %v, %q; want exit 2 and one line that says how to make a token", err, out)
	}
	p := startAftCmd(t, func(line string) (string, bool) { return strings.CutPrefix(line, "aft serve: listening on ") },
		30*time.Second, bin, "serve", "--listen", "0.0.0.0:0", "--insecure", "--data-dir", t.TempDir())
	p.Kill()
}

// TestAuthUpgrade: data written by a shim without --auth-file is, after a restart on the
// same data directory with one, the default tenant's: its token reads it, another
// tenant's sees nothing, and a committed idempotency key still answers its stored result.
func TestAuthUpgrade(t *testing.T) {
	bin := aftBinary(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	ctx := t.Context()
	p := startAft(t, bin, data)
	before := client.New("http://" + p.addr)
	tx, err := before.Begin(ctx, "order-1")
	if err != nil {
		t.Fatal(err)
	}
	if err := before.Put(ctx, tx.ID, "stock", []byte("42")); err != nil {
		t.Fatal(err)
	}
	if _, err := before.Commit(ctx, tx.ID, []byte("done")); err != nil {
		t.Fatal(err)
	}
	p.Kill()

	tokens := map[string]string{"default": auth.NewToken(), "a": auth.NewToken()}
	authPath := filepath.Join(dir, "auth")
	writeAuth(t, authPath, tokens)
	p = startAft(t, bin, data, "--auth-file", authPath)
	def := client.New("http://"+p.addr, client.WithToken(tokens["default"]))
	again, err := def.Begin(ctx, "order-1")
	if err != nil || !again.Committed() || string(again.Result) != "done" || again.ID != tx.ID {
		t.Errorf("the default tenant's begin of order-1 after the upgrade: %+v %v, want %s's stored result", again, err, tx.ID)
	}
	r, _ := def.Begin(ctx, "")
	if v, err := def.Get(ctx, r.ID, "stock"); err != nil || string(v.Bytes) != "42" {
		t.Errorf("the default tenant reads stock = %q %v, want 42", v.Bytes, err)
	}
	a := client.New("http://"+p.addr, client.WithToken(tokens["a"]))
	if keys, _, err := a.Keys(ctx, "", "", 10); err != nil || len(keys) != 0 {
		t.Errorf("tenant a lists %q %v after the upgrade, want nothing", keys, err)
	}
	if tx, err := a.Begin(ctx, "order-1"); err != nil || tx.Committed() {
		t.Errorf("tenant a's begin of order-1: %+v %v, want a new attempt", tx, err)
	}
}
