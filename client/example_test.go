package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"

	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/shim/serve"
	"github.com/aft-shim/aft/shim/store/mem"
)

// Example shows a function's logical request with an idempotency key: its first attempt
// writes two keys and commits; a retry of the same request is answered from the stored
// result; and a reader sees both writes or neither.
func Example() {
	ctx := context.Background()
	// A shim in this process, for the example; a real one runs as `aft serve`.
	s, _ := serve.OpenStore(ctx, mem.New(), serve.Defaults(), nil)
	defer s.Close()
	shim := httptest.NewServer(s.Handler())
	defer shim.Close()

	c := client.New(shim.URL)
	t, err := c.Begin(ctx, "order-42")
	if err != nil {
		panic(err)
	}
	c.Put(ctx, t.ID, "orders/42", []byte("paid"))
	c.Put(ctx, t.ID, "stock/widget", []byte("9"))
	if _, err := c.Commit(ctx, t.ID, []byte(`{"order":42,"ok":true}`)); err != nil {
		panic(err)
	}

	retry, _ := c.Begin(ctx, "order-42")
	fmt.Printf("retry: %s, result %s\n", retry.Status, retry.Result)

	r, _ := c.Begin(ctx, "")
	order, _ := c.Get(ctx, r.ID, "orders/42")
	stock, _ := c.Get(ctx, r.ID, "stock/widget")
	_, err = c.Get(ctx, r.ID, "orders/43")
	fmt.Printf("reader: order %s, stock %s, other order missing: %v\n", order.Bytes, stock.Bytes, errors.Is(err, client.ErrKeyNotFound))
	c.Abort(ctx, r.ID)
	// Output:
	// retry: committed, result {"order":42,"ok":true}
	// reader: order paid, stock 9, other order missing: true
}
