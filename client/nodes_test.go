package client

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// A client over three nodes, one of them down, begins every transaction on a live node,
// spreads them over both, and sends each transaction's calls to its node.
func TestNodesBalanceAndFailOver(t *testing.T) {
	var n [2]atomic.Int64
	live := make([]*httptest.Server, 2)
	for i := range live {
		live[i] = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n[i].Add(1)
			if r.URL.Path == "/v1/txns" {
				w.WriteHeader(http.StatusCreated)
				fmt.Fprintf(w, `{"id":"t%d-%d","status":"running","attempt":1}`, i, n[i].Load())
				return
			}
			// A call of a transaction must reach the node that began it.
			if want := fmt.Sprintf("/v1/txns/t%d-", i); len(r.URL.Path) < len(want) || r.URL.Path[:len(want)] != want {
				http.Error(w, "wrong node", http.StatusMisdirectedRequest)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		}))
		defer live[i].Close()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now

	c := New(dead, WithNodes(live[0].URL, live[1].URL))
	ctx := context.Background()
	for range 20 {
		txn, err := c.Begin(ctx, "")
		if err != nil {
			t.Fatalf("begin with one node of three down: %v", err)
		}
		if err := c.Put(ctx, txn.ID, "k", []byte("v")); err != nil {
			t.Fatalf("write of %s: %v", txn.ID, err)
		}
	}
	if n[0].Load() < 10 || n[1].Load() < 10 {
		t.Errorf("calls per live node: %d and %d, want the begins spread over both", n[0].Load(), n[1].Load())
	}
}
