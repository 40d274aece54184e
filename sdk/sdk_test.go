package sdk_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/aft-shim/aft/api"
	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/sdk"
	"github.com/aft-shim/aft/shim/shimtest"
)

var ctx = context.Background()

// begin begins a transaction as the middleware would and returns the request headers a
// function gets.
func begin(t *testing.T, c *client.Client, shimURL string) (string, http.Header) {
	t.Helper()
	tx, err := c.Begin(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set(api.HeaderTxnID, tx.ID)
	h.Set(api.HeaderShim, shimURL)
	return tx.ID, h
}

func commit(t *testing.T, c *client.Client, id string) {
	t.Helper()
	if _, err := c.Commit(ctx, id, nil); err != nil {
		t.Fatalf("commit: %v", err)
	}
}

func TestFromRequestMissingHeaders(t *testing.T) {
	for _, tc := range []struct {
		name, id, shim, want string
	}{
		{"none", "", "", "no X-Aft-Txn-Id and X-Aft-Shim headers"},
		{"no id", "", "http://127.0.0.1:7654", "no X-Aft-Txn-Id header"},
		{"no shim", "t1", "", "no X-Aft-Shim header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", nil)
			if tc.id != "" {
				r.Header.Set("x-aft-txn-id", tc.id) // any case
			}
			if tc.shim != "" {
				r.Header.Set("x-aft-shim", tc.shim)
			}
			_, err := sdk.FromRequest(r)
			if !errors.Is(err, sdk.ErrNoTxn) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "aft middleware") {
				t.Fatalf("err = %v, want ErrNoTxn naming %q", err, tc.want)
			}
		})
	}
	r := httptest.NewRequest("POST", "/", nil)
	r.Header.Set(api.HeaderTxnID, "t1")
	r.Header.Set(api.HeaderShim, "127.0.0.1:7654")
	if _, err := sdk.FromRequest(r); err == nil || errors.Is(err, sdk.ErrNoTxn) {
		t.Fatalf("a shim URL without scheme: err = %v, want a bad URL error", err)
	}
}

func TestReadWriteDelete(t *testing.T) {
	shimURL, c := shimtest.Start(t)
	shimtest.Seed(t, c, "acct/alice", "100", "gone", "x")
	id, h := begin(t, c, shimURL)
	r := httptest.NewRequest("POST", "/", nil)
	r.Header = h
	tx, err := sdk.FromRequest(r)
	if err != nil {
		t.Fatal(err)
	}
	if tx.ID() != id || tx.Shim() != shimURL {
		t.Fatalf("ID, Shim = %q, %q; want %q, %q", tx.ID(), tx.Shim(), id, shimURL)
	}

	if v, err := tx.Get(ctx, "acct/alice"); err != nil || string(v) != "100" {
		t.Fatalf("Get seeded key = %q, %v", v, err)
	}
	_, err = tx.Get(ctx, "acct/nobody")
	if !errors.Is(err, sdk.ErrNotFound) || !errors.Is(err, client.ErrKeyNotFound) {
		t.Fatalf("Get missing key: err = %v, want ErrNotFound", err)
	}
	weird := "a/../b c%2F.é\x01\xff"
	for k, v := range map[string]string{"acct/alice": "90", "acct/bob": "10", weird: "w", "empty": ""} {
		if err := tx.Put(ctx, k, []byte(v)); err != nil {
			t.Fatalf("Put %q: %v", k, err)
		}
	}
	if v, err := tx.Get(ctx, "acct/alice"); err != nil || string(v) != "90" {
		t.Fatalf("read your write = %q, %v", v, err)
	}
	if err := tx.Delete(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Get(ctx, "gone"); !errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("Get of own delete: err = %v, want ErrNotFound", err)
	}
	if v, _ := shimtest.Committed(t, c, "acct/alice"); v != "100" {
		t.Fatalf("before commit, others read %q, want 100", v)
	}
	commit(t, c, id)

	for k, want := range map[string]string{"acct/alice": "90", "acct/bob": "10", weird: "w", "empty": ""} {
		if v, ok := shimtest.Committed(t, c, k); !ok || v != want {
			t.Errorf("after commit %q = %q (found %v), want %q", k, v, ok, want)
		}
	}
	if _, ok := shimtest.Committed(t, c, "gone"); ok {
		t.Error("deleted key still there after commit")
	}

	// The transaction is over: writes fail with the shim's code.
	err = tx.Put(ctx, "late", []byte("x"))
	var ce *client.Error
	if !errors.As(err, &ce) || ce.StatusCode != 409 || !errors.Is(err, client.ErrCommitted) || !strings.HasPrefix(err.Error(), "aft: ") {
		t.Fatalf("Put after commit: err = %v, want a 409 committed *client.Error", err)
	}
}

func TestUnknownTxn(t *testing.T) {
	shimURL, _ := shimtest.Start(t)
	tx, err := sdk.New(shimURL, "no-such-txn")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Get(ctx, "k"); !errors.Is(err, client.ErrTxnNotFound) || errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("Get in unknown txn: err = %v, want txn_not_found (and not ErrNotFound)", err)
	}
}

// TestCall checks that Call and Header hand the transaction to a nested function, which
// joins it: both functions' writes commit together.
func TestCall(t *testing.T) {
	shimURL, c := shimtest.Start(t)
	callee := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tx, err := sdk.FromRequest(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body, _ := io.ReadAll(r.Body)
		if err := tx.Put(r.Context(), "callee", body); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("X-Custom-Echo", r.Header.Get("X-Custom"))
		io.WriteString(w, tx.ID())
	}))
	defer callee.Close()

	id, h := begin(t, c, shimURL)
	tx, err := sdk.FromHeader(h)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Put(ctx, "caller", []byte("a")); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", callee.URL, strings.NewReader("b"))
	req.Header.Set("X-Custom", "kept")
	req.Header.Set(api.HeaderTxnID, "stale") // replaced by the transaction's
	resp, err := tx.Call(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != id || resp.Header.Get("X-Custom-Echo") != "kept" {
		t.Fatalf("callee answered %d %q (custom %q), want 200 %q", resp.StatusCode, body, resp.Header.Get("X-Custom-Echo"), id)
	}
	if req.Header.Get(api.HeaderTxnID) != "stale" || req.Header.Get(api.HeaderShim) != "" {
		t.Error("Call changed the caller's request")
	}
	if got := tx.Header(); got.Get(api.HeaderTxnID) != id || got.Get(api.HeaderShim) != shimURL || len(got) != 2 {
		t.Errorf("Header() = %v", got)
	}
	commit(t, c, id)
	for k, want := range map[string]string{"caller": "a", "callee": "b"} {
		if v, ok := shimtest.Committed(t, c, k); !ok || v != want {
			t.Errorf("after commit %q = %q (found %v), want %q", k, v, ok, want)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	shimURL, c := shimtest.Start(t)
	id, h := begin(t, c, shimURL)
	tx, err := sdk.FromHeader(h)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := "k" + string(rune('a'+i))
			if err := tx.Put(ctx, k, []byte(k)); err != nil {
				t.Error(err)
				return
			}
			if v, err := tx.Get(ctx, k); err != nil || string(v) != k {
				t.Errorf("Get %q = %q, %v", k, v, err)
			}
		}()
	}
	wg.Wait()
	commit(t, c, id)
}

// keyVector is one line of testdata/keys.json, which the Go, Python and Node tests share.
type keyVector struct {
	KeyHex  string `json:"key_hex"`
	Escaped string `json:"escaped"`
}

func loadKeyVectors(t *testing.T) []keyVector {
	t.Helper()
	b, err := os.ReadFile("testdata/keys.json")
	if err != nil {
		t.Fatal(err)
	}
	var vs []keyVector
	if err := json.Unmarshal(b, &vs); err != nil {
		t.Fatalf("testdata/keys.json: %v", err)
	}
	return vs
}

// TestKeyVectors checks that testdata/keys.json holds the paths the Go client sends, so
// that the Python and Node SDKs, tested against the same file, encode keys exactly alike.
func TestKeyVectors(t *testing.T) {
	var mu sync.Mutex
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = r.RequestURI
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	tx, err := sdk.New(srv.URL, "txn/1")
	if err != nil {
		t.Fatal(err)
	}
	vs := loadKeyVectors(t)
	if len(vs) < 5 {
		t.Fatalf("only %d key vectors", len(vs))
	}
	for _, v := range vs {
		key, err := hex.DecodeString(v.KeyHex)
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.Put(ctx, string(key), nil); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		if want := "/v1/txns/txn%2F1/keys/" + v.Escaped; got != want {
			t.Errorf("key %q: client sent %s, vector says %s", key, got, want)
		}
		mu.Unlock()
	}
}

// TestCallNotResent: a call to another function whose kept-alive connection breaks after
// the callee read the request is not sent again (the callee would run twice in the
// transaction), with the SDK's HTTP client and with one given to it.
func TestCallNotResent(t *testing.T) {
	for _, name := range []string{"default client", "given client"} {
		t.Run(name, func(t *testing.T) {
			var mu sync.Mutex
			runs, n := map[string]int{}, 0
			callee := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				n++
				drop := n == 2
				runs[r.URL.Path]++
				mu.Unlock()
				if drop { // the second request: drop its reused connection, unanswered
					if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
						conn.Close()
						return
					}
				}
				io.WriteString(w, "ok")
			}))
			defer callee.Close()
			var opts []sdk.Option
			if name == "given client" {
				opts = append(opts, sdk.WithHTTPClient(&http.Client{}))
			}
			tx, err := sdk.New("http://127.0.0.1:1", "t1", opts...)
			if err != nil {
				t.Fatal(err)
			}
			for _, path := range []string{"/warm", "/dropped"} {
				req, _ := http.NewRequest("GET", callee.URL+path, nil)
				resp, err := tx.Call(ctx, req)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if runs["/dropped"] != 1 {
				t.Errorf("the callee ran the dropped call %d times, want 1", runs["/dropped"])
			}
		})
	}
}
