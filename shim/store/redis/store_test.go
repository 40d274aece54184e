package redis_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aft-shim/aft/shim/store"
	"github.com/aft-shim/aft/shim/store/redis"
	"github.com/aft-shim/aft/shim/store/redis/redistest"
	"github.com/aft-shim/aft/shim/store/storetest"
)

// open opens the store of rawURL, failing the test on an error. The caller closes it.
func open(t testing.TB, rawURL string) store.Store {
	t.Helper()
	o, err := redis.ParseURL(rawURL)
	if err != nil {
		t.Fatalf("ParseURL(%q): %v", rawURL, err)
	}
	s, err := redis.Open(context.Background(), o)
	if err != nil {
		t.Fatalf("Open(%q): %v", rawURL, err)
	}
	return s
}

// openClosed opens the store of rawURL and closes it at the end of the test.
func openClosed(t testing.TB, rawURL string) store.Store {
	t.Helper()
	s := open(t, rawURL)
	t.Cleanup(func() { s.Close() })
	return s
}

// TestConformance gives each subtest a database of its own, without a key prefix.
func TestConformance(t *testing.T) {
	srv := redistest.Start(t, "--databases", "64")
	var db atomic.Int32
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, srv.URL(int(db.Add(1)), ""))
	})
}

// TestConformancePrefix gives each subtest a database and a key prefix of its own, with the
// characters special to SCAN MATCH, short SCAN pages, and a lower value size limit.
func TestConformancePrefix(t *testing.T) {
	srv := redistest.Start(t, "--databases", "64")
	var db atomic.Int32
	storetest.Run(t, func(t *testing.T) store.Store {
		n := db.Add(1)
		q := "scan_count=10&max_value_size=100000&prefix=" + url.QueryEscape(fmt.Sprintf(`t[%d]*?\:`, n))
		return open(t, srv.URL(int(n), q))
	})
}

// TestConformanceCluster runs the suite on a Redis Cluster of three masters, each subtest
// under a key prefix of its own (a cluster has database 0 only).
func TestConformanceCluster(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	var n atomic.Int32
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, c.URL(fmt.Sprintf("prefix=c%d/", n.Add(1))))
	})
}

func TestAfterClose(t *testing.T) {
	srv := redistest.Start(t)
	c := redistest.StartCluster(t, 3)
	tests := []struct {
		name string
		url  string
	}{
		{"single", srv.URL(0, "")},
		{"cluster", c.URL("")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			storetest.RunAfterClose(t, open(t, tt.url), redis.ErrClosed)
		})
	}
}

// TestCommitter checks that only a single server offers PutCreate, and the type and
// description of each store.
func TestCommitter(t *testing.T) {
	srv := redistest.Start(t)
	c := redistest.StartCluster(t, 3)
	tests := []struct {
		name      string
		url       string
		committer bool
		desc      string
	}{
		{"single", srv.URL(0, ""), true, "redis " + srv.Addr + " db 0"},
		{"single prefix", srv.URL(3, "prefix=aft:"), true, "redis " + srv.Addr + " db 3 prefix aft:"},
		{"cluster", c.URL(""), false, "redis cluster " + strings.Join(c.Addrs(), ",")},
		{"cluster one seed", "redis://" + c.Nodes[1].Addr + "?cluster=true", false, "redis cluster " + c.Nodes[1].Addr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openClosed(t, tt.url)
			if _, ok := s.(store.Committer); ok != tt.committer {
				t.Errorf("%T implements store.Committer: %v, want %v", s, ok, tt.committer)
			}
			if got := fmt.Sprint(s); got != tt.desc {
				t.Errorf("description: got %q, want %q", got, tt.desc)
			}
			l, ok := s.(store.Limiter)
			if !ok || l.MaxValueSize() != redis.DefaultMaxValueSize {
				t.Errorf("MaxValueSize: got %v (Limiter %v), want %d", l, ok, redis.DefaultMaxValueSize)
			}
		})
	}
}

// TestPrefixIsolation checks that stores under different prefixes of one database see only
// their own keys, though some prefixes are glob patterns that match the others; the store
// without a prefix sees them all.
func TestPrefixIsolation(t *testing.T) {
	srv := redistest.Start(t)
	prefixes := []string{"", "ab:", "a:", "a*:", "a?:", "a[b]:", "a[^c]:", `a\:`, `a\\:`, "*:", "[:", "a-:"}
	stores := make([]store.Store, len(prefixes))
	for i, p := range prefixes {
		stores[i] = openClosed(t, srv.URL(0, "scan_count=3&prefix="+url.QueryEscape(p)))
		if err := stores[i].Put(t.Context(), []store.Item{{Key: "k", Value: []byte(p)}, {Key: "k/2", Value: nil}}); err != nil {
			t.Fatal(err)
		}
	}
	for i, p := range prefixes {
		t.Run(fmt.Sprintf("%q", p), func(t *testing.T) {
			s := stores[i]
			got := map[string]string{}
			err := s.List(t.Context(), "", true, func(key string, value []byte) error {
				got[key] = string(value)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if p == "" {
				if len(got) != 2*len(prefixes) {
					t.Errorf("List without a prefix: got %d keys %q, want %d", len(got), got, 2*len(prefixes))
				}
				return
			}
			if len(got) != 2 || got["k"] != p || got["k/2"] != "" {
				t.Errorf("List: got %q, want k=%q and k/2", got, p)
			}
			if v, err := s.Get(t.Context(), "k"); err != nil || string(v) != p {
				t.Errorf("Get k: got %q, %v, want %q", v, err, p)
			}
			if err := s.Create(t.Context(), "k", nil); !errors.Is(err, store.ErrExists) {
				t.Errorf("Create k: got %v, want ErrExists", err)
			}
		})
	}
}

// TestErrorsWrapped checks the operation prefix of errors.
func TestErrorsWrapped(t *testing.T) {
	srv := redistest.Start(t)
	s := openClosed(t, srv.URL(0, "max_value_size=10"))
	ctx := t.Context()
	if err := s.Create(ctx, "r/1", nil); err != nil {
		t.Fatal(err)
	}
	_, getErr := s.Get(ctx, "v/none")
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"Get", getErr, "redis get v/none: not found"},
		{"Create", s.Create(ctx, "r/1", nil), "redis create r/1: already exists"},
		{"PutCreate", s.(store.Committer).PutCreate(ctx, nil, "r/1", nil), "redis put-create r/1: already exists"},
		{"TooLarge", s.Put(ctx, []store.Item{{Key: "v/x", Value: make([]byte, 11)}}), "redis put: value of v/x too large: 11 bytes, limit 10"},
		{"CreateTooLarge", s.Create(ctx, "v/x", make([]byte, 11)), "redis create: value of v/x too large: 11 bytes, limit 10"},
		{"PutCreateTooLarge", s.(store.Committer).PutCreate(ctx, []store.Item{{Key: "v/y", Value: make([]byte, 12)}}, "r/2", nil), "redis put-create: value of v/y too large: 12 bytes, limit 10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err == nil || tt.err.Error() != tt.want {
				t.Errorf("got %v, want %q", tt.err, tt.want)
			}
		})
	}
}
