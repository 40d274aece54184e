package redistest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// slots is the number of hash slots of a Redis Cluster.
const slots = 16384

// Cluster is a Redis Cluster of masters without replicas, started for a test.
type Cluster struct {
	// Nodes are its servers, each owning an equal range of the slots.
	Nodes []*Server
}

// StartCluster starts a Redis Cluster of n masters on free loopback ports (each also with a
// free bus port, port+10000), splits the slots among them, waits until every node says the
// cluster is ok, and stops it when the test ends.
func StartCluster(tb testing.TB, n int) *Cluster {
	tb.Helper()
	bin := binary(tb)
	c := &Cluster{}
	for range n {
		s := &Server{bin: bin, dir: tb.TempDir(), args: []string{
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "5000",
		}}
		if err := s.startFree(tb, true); err != nil {
			tb.Fatalf("start cluster node: %v", err)
		}
		tb.Cleanup(s.kill)
		c.Nodes = append(c.Nodes, s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.form(ctx); err != nil {
		tb.Fatalf("form a cluster of %d nodes: %v", n, err)
	}
	return c
}

// form gives each node its share of the slots, introduces them to the first node, and waits
// until every node knows every other and all the slots.
func (c *Cluster) form(ctx context.Context) error {
	clients := make([]*goredis.Client, len(c.Nodes))
	for i, s := range c.Nodes {
		clients[i] = goredis.NewClient(&goredis.Options{Addr: s.Addr, DisableIdentity: true})
		defer clients[i].Close()
	}
	for i, cl := range clients {
		lo, hi := i*slots/len(clients), (i+1)*slots/len(clients)-1
		args := []any{"cluster", "addslots"}
		for slot := lo; slot <= hi; slot++ {
			args = append(args, slot)
		}
		if err := cl.Do(ctx, args...).Err(); err != nil {
			return fmt.Errorf("%s: cluster addslots %d-%d: %w", c.Nodes[i].Addr, lo, hi, err)
		}
		if i > 0 {
			if err := clients[0].ClusterMeet(ctx, "127.0.0.1", strconv.Itoa(c.Nodes[i].Port)).Err(); err != nil {
				return fmt.Errorf("cluster meet %s: %w", c.Nodes[i].Addr, err)
			}
		}
	}
	want := []string{"cluster_state:ok", "cluster_slots_ok:16384", "cluster_known_nodes:" + strconv.Itoa(len(clients))}
	for i, cl := range clients {
		for {
			info, err := cl.ClusterInfo(ctx).Result()
			if err == nil && containsAll(info, want) {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s: cluster not ok: %v\n%s", c.Nodes[i].Addr, ctx.Err(), info)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// Addrs returns the addresses of the nodes.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.Nodes))
	for i, s := range c.Nodes {
		addrs[i] = s.Addr
	}
	return addrs
}

// URL returns redis://ADDR1,ADDR2,.../ followed by query, if not empty.
func (c *Cluster) URL(query string) string {
	u := "redis://" + strings.Join(c.Addrs(), ",") + "/"
	if query != "" {
		u += "?" + query
	}
	return u
}
