package redis_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aft-shim/aft/shim/store"
	"github.com/aft-shim/aft/shim/store/redis"
	"github.com/aft-shim/aft/shim/store/redis/redistest"
)

// listAfter returns the keys ListAfter visits, failing the test on an error.
func listAfter(t *testing.T, s store.Store, dir string) []string {
	t.Helper()
	var keys []string
	err := s.(store.Ordered).ListAfter(t.Context(), dir, "", 100, func(key string) error {
		keys = append(keys, key)
		return nil
	})
	if err != nil {
		t.Fatalf("ListAfter %s: %v", dir, err)
	}
	return keys
}

// TestOrderedSets checks what the conformance suite cannot see from outside: List leaves
// out the sorted sets, Create adds to them, even when it finds the key taken, and a
// PutCreate over several directories adds each key to the set of its own.
func TestOrderedSets(t *testing.T) {
	srv := redistest.Start(t)
	c := redistest.StartCluster(t, 3)
	tests := []struct {
		name string
		url  string
	}{
		{"single", srv.URL(0, "")},
		{"single prefix", srv.URL(1, "prefix=o:")},
		{"cluster", c.URL("")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openClosed(t, tt.url)
			ctx := t.Context()
			if err := s.Put(ctx, []store.Item{{Key: "l/1/a", Value: []byte{}}, {Key: "v/x", Value: []byte("x")}}); err != nil {
				t.Fatal(err)
			}
			if err := s.Create(ctx, "l/1/b", []byte{}); err != nil {
				t.Fatalf("Create l/1/b: %v", err)
			}
			if err := s.Create(ctx, "l/1/b", []byte{}); !errors.Is(err, store.ErrExists) {
				t.Fatalf("second Create l/1/b: got %v, want ErrExists", err)
			}
			if pc, ok := s.(store.Committer); ok {
				items := []store.Item{{Key: "l/2/a", Value: []byte{}}, {Key: "v/y", Value: []byte("y")}, {Key: "l/3/a", Value: []byte{}}, {Key: "l/2/b", Value: []byte{}}}
				if err := pc.PutCreate(ctx, items, "l/3/b", []byte{}); err != nil {
					t.Fatalf("PutCreate: %v", err)
				}
				for dir, want := range map[string][]string{"l/2/": {"l/2/a", "l/2/b"}, "l/3/": {"l/3/a", "l/3/b"}} {
					if got := listAfter(t, s, dir); !slices.Equal(got, want) {
						t.Errorf("ListAfter %s after PutCreate: got %q, want %q", dir, got, want)
					}
				}
				if v, err := s.Get(ctx, "v/y"); err != nil || string(v) != "y" {
					t.Errorf("Get v/y after PutCreate: %q, %v", v, err)
				}
			}
			if got, want := listAfter(t, s, "l/1/"), []string{"l/1/a", "l/1/b"}; !slices.Equal(got, want) {
				t.Errorf("ListAfter l/1/: got %q, want %q", got, want)
			}
			for _, withValues := range []bool{false, true} {
				err := s.List(ctx, "", withValues, func(key string, _ []byte) error {
					if strings.Contains(key, ":") {
						t.Errorf("List with values %v: got %q, not a store key", withValues, key)
					}
					return nil
				})
				if err != nil {
					t.Errorf("List with values %v: %v", withValues, err)
				}
			}
			if err := s.Delete(ctx, []string{"l/1/a", "l/1/b"}); err != nil {
				t.Fatal(err)
			}
			if got := listAfter(t, s, "l/1/"); len(got) != 0 {
				t.Errorf("ListAfter l/1/ after Delete: got %q, want nothing", got)
			}
		})
	}
}

// TestListAfterErrors checks the arguments ListAfter refuses, and a call after Close.
func TestListAfterErrors(t *testing.T) {
	srv := redistest.Start(t)
	s := open(t, srv.URL(0, ""))
	o := s.(store.Ordered)
	none := func(string) error { return nil }
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"no slash", o.ListAfter(t.Context(), "l/1", "", 10, none), "redis list-after l/1: not a directory of ordered keys: want l/NAME/"},
		{"not ordered", o.ListAfter(t.Context(), "v/1/", "", 10, none), "redis list-after v/1/: not a directory of ordered keys: want l/NAME/"},
		{"no limit", o.ListAfter(t.Context(), "l/1/", "", 0, none), "redis list-after l/1/: limit 0: want a number > 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err == nil || tt.err.Error() != tt.want {
				t.Errorf("got %v, want %q", tt.err, tt.want)
			}
		})
	}
	s.Close()
	if err := o.ListAfter(t.Context(), "l/1/", "", 10, none); !errors.Is(err, redis.ErrClosed) {
		t.Errorf("ListAfter after Close: got %v, want ErrClosed", err)
	}
}
