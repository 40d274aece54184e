package e2e

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/aft-shim/aft/sdk"
)

// serveFunction runs this test binary as a function process (the local provider starts it
// with AFT_E2E_FUNCTION=mode and PORT), reading and writing through the shim with the Go
// SDK. Modes:
//
//	pair:   writes pair/a, then pair/b; the first attempt of each request crashes between
//	        the two (its connection breaks)
//	zombie: increments zombie/count; the first attempt of each request sleeps past the
//	        attempt timeout first, so that it finishes as a zombie beside its retry: for
//	        $ZOMBIE_SLEEP (a Go duration), by default 1.5 s
//	outer:  writes nested/outer, then calls inner (at $INNER_URL) in the same transaction
//	inner:  writes nested/inner
//	plain:  not transactional: answers whether it got a transaction
//	noop:   answers at once (for benchmarks of the invocation path)
func serveFunction(mode string) {
	zombieSleep := 1500 * time.Millisecond
	if v := os.Getenv("ZOMBIE_SLEEP"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			fmt.Fprintln(os.Stderr, "ZOMBIE_SLEEP:", err)
			os.Exit(1)
		}
		zombieSleep = d
	}
	var mu sync.Mutex
	attempts := map[string]int{} // per idempotency key (this process sees every attempt)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The middleware hands a function no token of the shim: its calls go through the
		// middleware's relay when the shim wants one.
		if r.Header.Get("Authorization") != "" || os.Getenv("AFT_SHIM_TOKEN") != "" {
			http.Error(w, "the function was handed a token of the shim", http.StatusInternalServerError)
			return
		}
		if r.URL.Path == "/healthz" { // a health probe: healthy only outside any transaction
			if r.Header.Get("X-Aft-Txn-Id") != "" {
				http.Error(w, "a probe ran in a transaction", http.StatusInternalServerError)
				return
			}
			io.WriteString(w, "ok")
			return
		}
		switch mode {
		case "plain":
			fmt.Fprintf(w, "txn=%q", r.Header.Get("X-Aft-Txn-Id"))
			return
		case "noop":
			io.WriteString(w, "ok")
			return
		}
		t, err := sdk.FromRequest(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ctx := r.Context()
		key := r.Header.Get("Idempotency-Key")
		mu.Lock()
		attempts[key]++
		attempt := attempts[key]
		mu.Unlock()
		first := attempt == 1
		fail := func(err error) { http.Error(w, err.Error(), http.StatusInternalServerError) }
		switch mode {
		case "pair":
			if err := t.Put(ctx, "pair/a", []byte(key)); err != nil {
				fail(err)
				return
			}
			if first {
				panic(http.ErrAbortHandler) // crash half way: the connection breaks
			}
			if err := t.Put(ctx, "pair/b", []byte(key)); err != nil {
				fail(err)
				return
			}
		case "zombie":
			if first {
				time.Sleep(zombieSleep) // past the attempt timeout
			}
			n := 0
			if v, err := t.Get(ctx, "zombie/count"); err == nil {
				n, _ = strconv.Atoi(string(v))
			} else if !errors.Is(err, sdk.ErrNotFound) {
				fail(err)
				return
			}
			if err := t.Put(ctx, "zombie/count", []byte(strconv.Itoa(n+1))); err != nil {
				fail(err)
				return
			}
		case "outer":
			if err := t.Put(ctx, "nested/outer", []byte("x")); err != nil {
				fail(err)
				return
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, os.Getenv("INNER_URL"), nil)
			resp, err := t.Call(ctx, req)
			if err != nil {
				fail(err)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				fail(fmt.Errorf("inner answered %d: %s", resp.StatusCode, b))
				return
			}
		case "inner":
			if err := t.Put(ctx, "nested/inner", []byte("x")); err != nil {
				fail(err)
				return
			}
		}
		fmt.Fprintf(w, "%s done by attempt %d of %q", mode, attempt, key)
	})
	srv := &http.Server{Addr: "127.0.0.1:" + os.Getenv("PORT"), Handler: h}
	fmt.Fprintln(os.Stderr, srv.ListenAndServe())
	os.Exit(1)
}
