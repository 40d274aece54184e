package redis_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aft-shim/aft/internal/launch"
	"github.com/aft-shim/aft/shim/store"
	"github.com/aft-shim/aft/shim/store/redis"
	"github.com/aft-shim/aft/shim/store/redis/redistest"
)

// call is one method of the store, on keys made from a tag so that every round of calls
// uses keys of its own.
type call struct {
	name string
	fn   func(ctx context.Context, s store.Store, tag string) error
}

var calls = []call{
	{"Get", func(ctx context.Context, s store.Store, tag string) error {
		_, err := s.Get(ctx, "v/"+tag)
		return err
	}},
	{"Put", func(ctx context.Context, s store.Store, tag string) error {
		return s.Put(ctx, []store.Item{{Key: "v/" + tag, Value: []byte(tag)}})
	}},
	{"Create", func(ctx context.Context, s store.Store, tag string) error {
		return s.Create(ctx, "r/"+tag, []byte(tag))
	}},
	{"PutCreate", func(ctx context.Context, s store.Store, tag string) error {
		return s.(store.Committer).PutCreate(ctx, []store.Item{{Key: "v/pc/" + tag, Value: []byte(tag)}}, "r/pc/"+tag, []byte(tag))
	}},
	{"Delete", func(ctx context.Context, s store.Store, tag string) error {
		return s.Delete(ctx, []string{"v/" + tag})
	}},
	{"List", func(ctx context.Context, s store.Store, tag string) error {
		return s.List(ctx, "v/", true, func(string, []byte) error { return nil })
	}},
	{"PutOrdered", func(ctx context.Context, s store.Store, tag string) error {
		return s.Put(ctx, []store.Item{{Key: "l/" + tag + "/a", Value: []byte{}}})
	}},
	{"ListAfter", func(ctx context.Context, s store.Store, tag string) error {
		return s.(store.Ordered).ListAfter(ctx, "l/"+tag+"/", "", 10, func(string) error { return nil })
	}},
}

// wantFailFast runs every call with a context of timeout and requires each to fail, with a
// real error (not ErrNotFound or ErrExists), and to return within timeout plus slack.
func wantFailFast(t *testing.T, s store.Store, tag string, timeout time.Duration) {
	t.Helper()
	const slack = 2 * time.Second
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), timeout)
			defer cancel()
			start := time.Now()
			err := c.fn(ctx, s, tag)
			took := time.Since(start)
			switch {
			case err == nil:
				t.Errorf("%s with Redis unavailable: no error", c.name)
			case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrExists):
				t.Errorf("%s with Redis unavailable: got %v, want an error that says so", c.name, err)
			}
			if took > timeout+slack {
				t.Errorf("%s with Redis unavailable took %v, want at most %v", c.name, took, timeout+slack)
			}
			t.Logf("%s failed in %v: %v", c.name, took.Round(time.Millisecond), err)
		})
	}
}

// wantWorking runs every call with fresh keys and requires each to succeed (a Get of a key
// never written returns ErrNotFound).
func wantWorking(t *testing.T, s store.Store, tag string) {
	t.Helper()
	for _, c := range calls {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		err := c.fn(ctx, s, tag)
		cancel()
		if err != nil && !(c.name == "Get" && errors.Is(err, store.ErrNotFound)) {
			t.Errorf("%s after Redis is back: %v", c.name, err)
		}
	}
}

// TestServerStopped stops Redis under an open store: every call fails at once, and works
// again once Redis is back.
func TestServerStopped(t *testing.T) {
	srv := redistest.Start(t)
	s := openClosed(t, srv.URL(0, "dial_timeout=1s&read_timeout=1s"))
	wantWorking(t, s, "before")

	srv.Stop(t)
	wantFailFast(t, s, "down", 3*time.Second)

	srv.Restart(t)
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := s.Put(t.Context(), []store.Item{{Key: "v/probe", Value: nil}})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Put 10s after Redis restarted: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	wantWorking(t, s, "after")
}

// TestServerHung stops Redis with SIGSTOP, so that connections stay open and nothing
// answers: every call returns by its context's deadline, and works again once Redis runs.
func TestServerHung(t *testing.T) {
	srv := redistest.Start(t)
	// Long client timeouts: only the context's deadline can end the calls.
	s := openClosed(t, srv.URL(0, "dial_timeout=30s&read_timeout=30s&write_timeout=30s"))
	wantWorking(t, s, "before")

	srv.Pause(t)
	wantFailFast(t, s, "hung", 500*time.Millisecond)

	srv.Resume(t)
	wantWorking(t, s, "after")
}

// TestOpenErrors checks that Open fails quickly, naming the address, when Redis is not
// there or is not what the URL says.
func TestOpenErrors(t *testing.T) {
	srv := redistest.Start(t)
	auth := redistest.Start(t, "--requirepass", "secret")
	c := redistest.StartCluster(t, 3)
	nobody, err := launch.FreeAddr() // nobody listens here
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		url  string
		want []string // in the error
	}{
		{"unreachable", "redis://" + nobody + "/0", []string{"redis open " + nobody + ": ping:", "connection refused", "is Redis running there?"}},
		{"unreachable cluster", "redis://" + nobody + "/?cluster=true", []string{"redis open " + nobody + ":", "connection refused"}},
		{"db out of range", srv.URL(16, ""), []string{"redis open " + srv.Addr + ": ping:", "DB index is out of range"}},
		{"cluster node as single server", "redis://" + c.Nodes[0].Addr + "/0", []string{"redis open " + c.Nodes[0].Addr + ": the server is a Redis Cluster node"}},
		{"single server as cluster", srv.URL(0, "cluster=true"), []string{"redis open " + srv.Addr + ": ping:", "cluster support disabled", "not a Redis Cluster"}},
		{"wrong password", "redis://:wrong@" + auth.Addr + "/0", []string{"redis open " + auth.Addr + ": ping:", "WRONGPASS"}},
		{"no password", "redis://" + auth.Addr + "/0", []string{"redis open " + auth.Addr + ": ping:", "NOAUTH"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := redis.ParseURL(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			s, err := redis.Open(t.Context(), o)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q): no error", tt.url)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Open(%q) failed after %v", tt.url, d)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Open(%q): got %q, want it to say %q", tt.url, err, w)
				}
			}
		})
	}
}

// TestPassword opens a server that requires a password, with it.
func TestPassword(t *testing.T) {
	srv := redistest.Start(t, "--requirepass", "s3cr#t")
	s := openClosed(t, "redis://:s3cr%23t@"+srv.Addr+"/0")
	wantWorking(t, s, "auth")
}

// TestRestartKeepsWorking restarts Redis (losing its script cache) between PutCreates: the
// script is loaded again by itself.
func TestRestartKeepsWorking(t *testing.T) {
	srv := redistest.Start(t)
	s := openClosed(t, srv.URL(0, ""))
	for i := range 3 {
		key := fmt.Sprintf("r/%d", i)
		deadline := time.Now().Add(10 * time.Second)
		for {
			err := s.(store.Committer).PutCreate(t.Context(), []store.Item{{Key: "v/" + key, Value: []byte("x")}}, key, []byte("rec"))
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("PutCreate %s after restart %d: %v", key, i, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if v, err := s.Get(t.Context(), "v/"+key); err != nil || string(v) != "x" {
			t.Fatalf("Get v/%s: %q, %v", key, v, err)
		}
		srv.Restart(t)
	}
}
