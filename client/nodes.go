package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aft-shim/aft/api"
)

// Client-side balancing over several shim nodes on one store (http-api.md, "Several
// nodes"). A transaction lives on the node that began it: begins go round-robin to the
// nodes not marked down, and every later call of a transaction goes to its node. A begin
// that cannot reach a node (no connection) marks it down for downFor and goes to the next;
// a call of a transaction on a node that died fails, and the caller's retry is a new
// transaction, which begins on a live node.

// downFor is how long a node that refused a connection is passed over by begins.
const downFor = 2 * time.Second

// maxBound bounds the transactions whose node the client remembers; past it the oldest
// half is forgotten (their later calls go to the first node and get txn_not_found there,
// unless it is theirs).
const maxBound = 100_000

// WithNodes makes the client spread transactions over the shim nodes at baseURLs (the
// URL given to New is the first of them).
func WithNodes(baseURLs ...string) Option {
	return func(c *Client) {
		for _, u := range baseURLs {
			c.nodes = append(c.nodes, &node{base: strings.TrimRight(u, "/")})
		}
	}
}

type node struct {
	base      string
	downUntil atomic.Int64 // unix nanoseconds
}

// balance is the state of a client over several nodes.
type balance struct {
	next atomic.Uint64
	mu   sync.Mutex
	of   map[string]string // transaction id -> base URL of its node
	old  map[string]string // the previous generation of of
	// known are node URLs the shim named (Aft-Node, GET /v1/nodes): a caller's X-Aft-Shim
	// is followed only to one of them or to a configured node (see Locate).
	known map[string]bool
}

// learn notes base as a node URL a shim named. c.bal.mu is held.
func (c *Client) learn(base string) {
	if c.bal.known == nil {
		c.bal.known = map[string]bool{}
	}
	if len(c.bal.known) < maxKnown {
		c.bal.known[base] = true
	}
}

// maxKnown bounds the node URLs a client remembers.
const maxKnown = 4096

// trusted reports whether base is a configured node or one a shim named, asking the shim
// for its nodes (GET /v1/nodes) when it is neither yet.
func (c *Client) trusted(ctx context.Context, base string) bool {
	for _, n := range c.nodes {
		if n.base == base {
			return true
		}
	}
	c.bal.mu.Lock()
	ok := c.bal.known[base]
	c.bal.mu.Unlock()
	if ok {
		return true
	}
	nodes, err := c.Nodes(ctx)
	if err != nil {
		return false
	}
	c.bal.mu.Lock()
	defer c.bal.mu.Unlock()
	for _, n := range nodes {
		c.learn(strings.TrimRight(n, "/"))
	}
	return c.bal.known[base]
}

// Nodes returns the base URLs of the live shim nodes on the store, as the shim at the
// client's first URL knows them (GET /v1/nodes).
func (c *Client) Nodes(ctx context.Context) ([]string, error) {
	resp, err := c.send(ctx, http.MethodGet, c.base+"/v1/nodes", nil, nil)
	if err != nil {
		return nil, fmt.Errorf("nodes: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("nodes: %w", decodeError(resp))
	}
	var a api.NodesAnswer
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&a); err != nil {
		return nil, fmt.Errorf("nodes: decode answer: %w", err)
	}
	return a.Nodes, nil
}

// beginBase returns the base URL of the node to send the i-th try of a begin to.
func (c *Client) beginBase(try int) string {
	if len(c.nodes) == 1 {
		return c.nodes[0].base
	}
	now := time.Now().UnixNano()
	start := c.bal.next.Add(1)
	for i := range len(c.nodes) {
		n := c.nodes[(start+uint64(i+try))%uint64(len(c.nodes))]
		if n.downUntil.Load() <= now {
			return n.base
		}
	}
	return c.nodes[(start+uint64(try))%uint64(len(c.nodes))].base // all down: try anyway
}

// markDown passes over the node at base for downFor.
func (c *Client) markDown(base string) {
	for _, n := range c.nodes {
		if n.base == base {
			n.downUntil.Store(time.Now().Add(downFor).UnixNano())
		}
	}
}

// bind remembers that transaction id lives on the node at base.
func (c *Client) bind(id, base string) {
	if id == "" || base == "" || len(c.nodes) < 2 && base == c.base {
		return
	}
	c.bal.mu.Lock()
	defer c.bal.mu.Unlock()
	c.learn(base)
	if c.bal.of == nil {
		c.bal.of = map[string]string{}
	}
	if len(c.bal.of) >= maxBound/2 {
		c.bal.old, c.bal.of = c.bal.of, map[string]string{}
	}
	c.bal.of[id] = base
}

// NodeOf returns the base URL of the node transaction id lives on, as far as this client
// knows: the node that answered its begin (with WithNodes), else the client's one URL.
func (c *Client) NodeOf(id string) string { return c.baseOf(id) }

// baseOf returns the base URL of transaction id's node.
func (c *Client) baseOf(id string) string {
	c.bal.mu.Lock()
	defer c.bal.mu.Unlock()
	if b, ok := c.bal.of[id]; ok {
		return b
	}
	if b, ok := c.bal.old[id]; ok {
		return b
	}
	return c.base
}

// txnOfPath returns the transaction id of an API path /v1/txns/ID/..., or "".
func txnOfPath(path string) string {
	rest, ok := strings.CutPrefix(path, "/v1/txns/")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, "/")
	if u, err := url.PathUnescape(id); err == nil {
		return u
	}
	return id
}

// unreachable reports whether err means the request never reached a server: a refused
// or failed dial.
func unreachable(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// Locate returns the state of transaction id from the node it lives on, asking each node
// in turn when the client does not know which (a nested call, in another process than
// the one that began it), and remembers the node. hint (a caller's X-Aft-Shim) is asked
// first when it is one of the client's nodes or a node the shim names (GET /v1/nodes):
// never an address a caller made up. An id no node knows is ErrTxnNotFound.
func (c *Client) Locate(ctx context.Context, id, hint string) (Txn, error) {
	order := []string{c.baseOf(id)}
	hint = strings.TrimRight(hint, "/")
	if hint != "" && hint != order[0] && c.trusted(ctx, hint) {
		order = []string{hint, order[0]}
	}
	for _, n := range c.nodes {
		order = append(order, n.base)
	}
	var err error
	seen := map[string]bool{}
	for _, base := range order {
		if seen[base] {
			continue
		}
		seen[base] = true
		c.bind(id, base)
		var t Txn
		if t, err = c.Status(ctx, id); !errors.Is(err, ErrTxnNotFound) {
			return t, err
		}
	}
	return Txn{}, err
}
