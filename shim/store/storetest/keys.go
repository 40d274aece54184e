package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aft-shim/aft/shim/store"
)

// keyChars are all the characters a storage key may hold.
const keyChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~/-"

// maxKeyLen is the longest storage key.
const maxKeyLen = 512

// longKey returns a key of n bytes cycling through keyChars from offset.
func longKey(n, offset int) string {
	var b strings.Builder
	for i := range n {
		b.WriteByte(keyChars[(i+offset)%len(keyChars)])
	}
	return b.String()
}

func testKeys(t *testing.T, s store.Store) {
	var keys []string
	for _, c := range keyChars {
		keys = append(keys, string(c), "k/"+string(c)+"/x")
	}
	long := longKey(maxKeyLen, 0)
	keys = append(keys,
		"all/"+keyChars,
		long,
		long[:maxKeyLen-1],
		long[:maxKeyLen-1]+"~",
		longKey(maxKeyLen, 1),
		strings.Repeat("~", maxKeyLen),
		strings.Repeat("-", maxKeyLen),
	)
	items := make([]store.Item, len(keys))
	for i, key := range keys {
		items[i] = store.Item{Key: key, Value: value(key, i)}
	}
	mustPut(t, s, items...)
	for _, it := range items {
		wantValue(t, s, it.Key, it.Value)
	}
	got := listAll(t, s, "", true)
	if keys, want := sortedKeys(got), sorted(keys); !slices.Equal(keys, want) {
		t.Fatalf("List: got %d keys %q, want %d keys %q", len(keys), keys, len(want), want)
	}
	for _, it := range items {
		if !slices.Equal(got[it.Key], it.Value) {
			t.Fatalf("List: value of %s: got %x, want %x", it.Key, got[it.Key], it.Value)
		}
	}
	if got := listAll(t, s, long[:maxKeyLen-1], false); len(got) != 3 {
		t.Fatalf("List of a 511-byte prefix: got %q, want 3 keys", sortedKeys(got))
	}
	for _, key := range []string{long, "~", "-", "all/" + keyChars} {
		if err := s.Create(ctxFor(t), key, []byte("new")); !errors.Is(err, store.ErrExists) {
			t.Fatalf("Create %s: got %v, want ErrExists", key, err)
		}
	}
	mustDelete(t, s, keys[:len(keys)/2]...)
	for _, key := range keys[:len(keys)/2] {
		wantMissing(t, s, key)
	}
	for _, it := range items[len(keys)/2:] {
		wantValue(t, s, it.Key, it.Value)
	}
	if err := s.Create(ctxFor(t), keys[0], []byte("again")); err != nil {
		t.Fatalf("Create %s after Delete: %v", keys[0], err)
	}
}

// returns runs call and fails the test if it does not return within callTimeout.
func returns(t *testing.T, name string, call func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- call() }()
	select {
	case err := <-done:
		return err
	case <-time.After(callTimeout):
		t.Fatalf("%s with a cancelled context: did not return within %v", name, callTimeout)
		return nil
	}
}

func testCancelled(t *testing.T, s store.Store) {
	mustPut(t, s, store.Item{Key: "v/x", Value: []byte("x")})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name string
		call func() error
	}{
		{"Get", func() error { _, err := s.Get(ctx, "v/x"); return err }},
		{"Put", func() error { return s.Put(ctx, []store.Item{{Key: "v/y", Value: []byte("y")}}) }},
		{"Create", func() error { return s.Create(ctx, "v/z", []byte("z")) }},
		{"Delete", func() error { return s.Delete(ctx, []string{"v/x"}) }},
		{"List", func() error {
			return s.List(ctx, "v/", true, func(string, []byte) error { return nil })
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := returns(t, tt.name, tt.call)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("%s with a cancelled context: got %v, want an error wrapping context.Canceled", tt.name, err)
			}
		})
	}
	// The store still works with a live context.
	if _, err := s.Get(ctxFor(t), "v/x"); err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get after cancelled calls: %v", err)
	}
}

func testCancelledDuringList(t *testing.T, s store.Store) {
	const n = 2000
	items := make([]store.Item, n)
	for i := range items {
		items[i] = store.Item{Key: fmt.Sprintf("v/c/%05d", i), Value: []byte("v")}
	}
	mustPut(t, s, items...)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	calls := 0
	err := returns(t, "List", func() error {
		return s.List(ctx, "v/c/", true, func(string, []byte) error {
			calls++
			cancel()
			return nil
		})
	})
	// A backend may finish a listing it already holds in memory; if it stops, it says why.
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("List cancelled from fn: got %v, want nil or an error wrapping context.Canceled", err)
	}
	if err == nil && calls < n {
		t.Fatalf("List cancelled from fn returned nil after %d of %d keys", calls, n)
	}
}

func testTooLarge(t *testing.T, s store.Store) {
	l, ok := s.(store.Limiter)
	if !ok {
		t.Skip("store has no value size limit")
	}
	limit := l.MaxValueSize()
	if limit <= 0 {
		t.Fatalf("MaxValueSize: %d, want > 0", limit)
	}
	if limit > 1<<30 {
		t.Skipf("MaxValueSize %d is too large to test", limit)
	}
	over := make([]byte, limit+1)
	tests := []struct {
		name string
		call func() error
	}{
		{"Put", func() error { return s.Put(ctxFor(t), []store.Item{{Key: "v/big", Value: over}}) }},
		{"Create", func() error { return s.Create(ctxFor(t), "v/big", over) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if !errors.Is(err, store.ErrTooLarge) {
				t.Fatalf("%s of %d bytes with limit %d: got %v, want ErrTooLarge", tt.name, len(over), limit, err)
			}
			var tl *store.TooLargeError
			if !errors.As(err, &tl) {
				t.Fatalf("%s too large: %v is no *TooLargeError", tt.name, err)
			}
			if tl.Key != "v/big" || tl.Size != limit+1 || tl.Limit != limit {
				t.Fatalf("%s too large: got %+v, want {Key:v/big Size:%d Limit:%d}", tt.name, *tl, limit+1, limit)
			}
			wantMissing(t, s, "v/big")
		})
	}
	if limit <= 8<<20 {
		t.Run("AtLimit", func(t *testing.T) {
			want := value("v/limit", limit)
			mustPut(t, s, store.Item{Key: "v/limit", Value: want})
			wantValue(t, s, "v/limit", want)
		})
	}
}
