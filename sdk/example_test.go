package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"

	"github.com/aft-shim/aft/api"
	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/sdk"
	"github.com/aft-shim/aft/shim/serve"
	"github.com/aft-shim/aft/shim/store/mem"
)

// Example is a function that counts its visits: it reads a key and writes it back in the
// transaction the middleware began. The example plays the middleware itself: it begins a
// transaction, invokes the function with the two headers and commits.
func Example() {
	// The function: a plain http.Handler.
	visits := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tx, err := sdk.FromRequest(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest) // not under the middleware
			return
		}
		n := 0
		v, err := tx.Get(r.Context(), "visits")
		switch {
		case errors.Is(err, sdk.ErrNotFound): // first visit
		case err != nil:
			http.Error(w, err.Error(), http.StatusInternalServerError) // 5xx: the middleware retries
			return
		default:
			n, _ = strconv.Atoi(string(v))
		}
		if err := tx.Put(r.Context(), "visits", []byte(strconv.Itoa(n+1))); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "visit %d", n+1)
	})

	// A shim in this process; a real one runs as `aft serve`.
	ctx := context.Background()
	s, _ := serve.OpenStore(ctx, mem.New(), serve.Defaults(), nil)
	defer s.Close()
	shim := httptest.NewServer(s.Handler())
	defer shim.Close()
	fn := httptest.NewServer(visits)
	defer fn.Close()

	// What the middleware does for each invocation.
	c := client.New(shim.URL)
	for range 2 {
		t, _ := c.Begin(ctx, "")
		req, _ := http.NewRequest("POST", fn.URL, nil)
		req.Header.Set(api.HeaderTxnID, t.ID)
		req.Header.Set(api.HeaderShim, shim.URL)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		c.Commit(ctx, t.ID, body)
		fmt.Println(string(body))
	}

	// Invoked without the middleware.
	resp, _ := http.Post(fn.URL, "text/plain", nil)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Print(resp.StatusCode, " ", string(body))
	// Output:
	// visit 1
	// visit 2
	// 400 aft: no X-Aft-Txn-Id and X-Aft-Shim headers: not running under the aft middleware
}
