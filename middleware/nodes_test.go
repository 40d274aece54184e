package middleware

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aft-shim/aft/api"
	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/shim/shimtest"
	"github.com/aft-shim/aft/shim/store/mem"
	"github.com/aft-shim/aft/shim/txn"
)

// twoNodes starts two shim nodes on one store and returns their URLs.
func twoNodes(t *testing.T) (string, string) {
	st := mem.New()
	cfg := func(node string) txn.Config {
		// A long sync interval: a node learns the other's commits late, unless asked.
		return txn.Config{Node: node, SyncInterval: time.Hour}
	}
	a, _ := shimtest.StartStore(t, st, cfg("a"))
	b, _ := shimtest.StartStore(t, st, cfg("b"))
	return a.URL, b.URL
}

// Over two shim nodes, the middleware gives each attempt its own node in X-Aft-Shim,
// answers the commit's version in X-Aft-Version, and a follow-up request that sends it
// back in Aft-After sees that commit on whichever node it begins. A nested call made by
// another middleware finds its caller's transaction on the caller's node.
func TestMiddlewareOverNodes(t *testing.T) {
	a, b := twoNodes(t)
	var nested *env
	fn := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		node, id := r.Header.Get(api.HeaderShim), r.Header.Get(api.HeaderTxnID)
		c := client.New(node)
		switch r.URL.Path {
		case "/write":
			if err := c.Put(r.Context(), id, "k", []byte("v"+r.URL.Query().Get("v"))); err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			fmt.Fprint(w, node)
		case "/read":
			v, err := c.Get(r.Context(), id, "k")
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			fmt.Fprintf(w, "%s %s", v.Bytes, node)
		case "/nest": // a nested call, through another middleware, in this transaction
			rep := nested.send("POST", "/inner", "", api.HeaderTxnID, id, api.HeaderShim, node)
			fmt.Fprintf(w, "%d %s", rep.status, rep.body)
		case "/inner":
			fmt.Fprint(w, node)
		}
	})
	e := newEnv(t, Config{ShimURL: a, ShimNodes: []string{b}}, fn)
	nested = newEnv(t, Config{ShimURL: b, ShimNodes: []string{a}}, fn) // the other order

	nodes := map[string]bool{}
	for i := range 6 {
		rep := e.send("POST", fmt.Sprintf("/write?v=%d", i), "")
		if rep.status != 200 {
			t.Fatalf("write: %d %s", rep.status, rep.body)
		}
		nodes[rep.body] = true
		version := rep.header.Get(api.HeaderCommitVersion)
		if version == "" {
			t.Fatalf("a committed answer carries no %s", api.HeaderCommitVersion)
		}
		read := e.send("POST", "/read", "", api.HeaderAfter, version)
		got, readNode, _ := strings.Cut(read.body, " ")
		if want := fmt.Sprintf("v%d", i); read.status != 200 || got != want {
			t.Fatalf("read after %s: %d %q, want %q (the commit was on %s)", version, read.status, read.body, want, rep.body)
		}
		nodes[readNode] = true
	}
	if !nodes[a] || !nodes[b] {
		t.Errorf("attempts ran on %v, want both nodes (begins go round-robin)", nodes)
	}
	for range 4 {
		rep := e.send("POST", "/nest", "")
		if rep.status != 200 || !strings.HasPrefix(rep.body, "200 http://") {
			t.Fatalf("nested call: %d %q", rep.status, rep.body)
		}
	}
	if rep := e.send("POST", "/read", "", api.HeaderAfter, "not-a-version"); rep.status != 400 || !strings.Contains(rep.body, api.CodeBadVersion) {
		t.Errorf("a bad Aft-After: %d %s, want 400 %s", rep.status, rep.body, api.CodeBadVersion)
	}
}

// nodeAt serves a shim node on st at a loopback address of its own, advertised as such, and
// returns its base URL.
func nodeAt(t *testing.T, st *mem.Store, node string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	s := shimtest.Open(t, st, txn.Config{Node: node, NodeAddr: url, SyncInterval: time.Hour})
	srv := &http.Server{Handler: s.Handler()}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return url
}

// Behind a load balancer (a Kubernetes Service) that sends each request to either node,
// the middleware still keeps every call of a transaction on its node: the begin's answer
// names the node (Aft-Node). A nested call through another middleware, which knows only
// the load balancer, finds the transaction on the node the caller names in X-Aft-Shim,
// which it follows because the shim lists that node (GET /v1/nodes).
func TestMiddlewareBehindLoadBalancer(t *testing.T) {
	st := mem.New()
	a, b := nodeAt(t, st, "a"), nodeAt(t, st, "b")
	var turn atomic.Int64
	lb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := a
		if turn.Add(1)%2 == 0 {
			target = b
		}
		u, _ := url.Parse(target)
		httputil.NewSingleHostReverseProxy(u).ServeHTTP(w, r)
	}))
	defer lb.Close()
	// Both nodes list each other once they have read each other's leases.
	deadline := time.Now().Add(5 * time.Second)
	for {
		nodes, err := client.New(lb.URL).Nodes(t.Context())
		if err == nil && len(nodes) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /v1/nodes through the load balancer: %v, %v; want both nodes", nodes, err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	var nested *env
	fn := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		node, id := r.Header.Get(api.HeaderShim), r.Header.Get(api.HeaderTxnID)
		if r.URL.Path == "/inner" {
			fmt.Fprint(w, node)
			return
		}
		c := client.New(node)
		for i := range 4 { // several calls: each must reach the transaction's node
			if err := c.Put(r.Context(), id, fmt.Sprintf("k%d", i), []byte("v")); err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
		}
		rep := nested.send("POST", "/inner", "", api.HeaderTxnID, id, api.HeaderShim, node)
		fmt.Fprintf(w, "%s %d %s", node, rep.status, rep.body)
	})
	e := newEnv(t, Config{ShimURL: lb.URL}, fn)
	nested = newEnv(t, Config{ShimURL: lb.URL}, fn)
	for range 6 {
		rep := e.send("POST", "/outer", "")
		node, rest, _ := strings.Cut(rep.body, " ")
		if rep.status != 200 || (node != a && node != b) || rest != "200 "+node {
			t.Fatalf("through a load balancer: %d %q (nodes %s and %s)", rep.status, rep.body, a, b)
		}
	}
}
