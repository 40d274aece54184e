// Package storetest is the conformance suite every store.Store backend runs.
//
// A backend's test calls Run with a function that opens a fresh, empty store, and, when the
// backend is durable, RunReopen with a function that opens the store kept in a directory.
// Each subtest checks one clause of the contract written in the comments of package store.
// The suite closes every store it opens, so the open functions must not close them.
package storetest

import (
	"context"
	"errors"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/aft-shim/aft/shim/store"
)

// callTimeout bounds every call the suite makes, so a backend that hangs fails its test
// instead of stalling the whole run.
const callTimeout = 20 * time.Second

// Run runs the conformance suite against the backend opened by open. Every subtest opens
// its own store through open, which must return a fresh, empty store; the suite closes it.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"GetMissing", testGetMissing},
		{"PutGet", testPutGet},
		{"PutOverwrite", testPutOverwrite},
		{"PutMany", testPutMany},
		{"PutDeleteNothing", testPutDeleteNothing},
		{"ValueSizes", testValueSizes},
		{"ReturnedValuesAreCallers", testReturnedValuesAreCallers},
		{"InputNotRetained", testInputNotRetained},
		{"Create", testCreate},
		{"CreateConcurrent", testCreateConcurrent},
		{"Delete", testDelete},
		{"ListPrefix", testListPrefix},
		{"ListWithoutValues", testListWithoutValues},
		{"ListStop", testListStop},
		{"ListMany", testListMany},
		{"ListCallbackWrites", testListCallbackWrites},
		{"Keys", testKeys},
		{"Cancelled", testCancelled},
		{"CancelledDuringList", testCancelledDuringList},
		{"TooLarge", testTooLarge},
		{"ConcurrentMixed", testConcurrentMixed},
		{"PutCreate", testPutCreate},
		{"PutCreateConcurrent", testPutCreateConcurrent},
		{"Ordered", testOrdered},
		{"OrderedPutCreate", testOrderedPutCreate},
		{"OrderedConcurrent", testOrderedConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tt.fn(t, s)
		})
	}
}

// ctxFor returns a context bounded by callTimeout and ending with the test.
func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
	t.Cleanup(cancel)
	return ctx
}

// value returns n pseudo-random bytes determined by seed, so that every key can carry a
// value distinct from every other key's.
func value(seed string, n int) []byte {
	h := fnv.New64a()
	h.Write([]byte(seed))
	r := rand.New(rand.NewPCG(h.Sum64(), uint64(n)))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func mustPut(t *testing.T, s store.Store, items ...store.Item) {
	t.Helper()
	if err := s.Put(ctxFor(t), items); err != nil {
		t.Fatalf("Put of %d items: %v", len(items), err)
	}
}

func mustDelete(t *testing.T, s store.Store, keys ...string) {
	t.Helper()
	if err := s.Delete(ctxFor(t), keys); err != nil {
		t.Fatalf("Delete %v: %v", keys, err)
	}
}

// wantValue fails the test unless key holds exactly want.
func wantValue(t *testing.T, s store.Store, key string, want []byte) {
	t.Helper()
	got, err := s.Get(ctxFor(t), key)
	if err != nil {
		t.Fatalf("Get %s: %v, want a value of %d bytes", key, err, len(want))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Get %s: got %d bytes %.16x, want %d bytes %.16x", key, len(got), got, len(want), want)
	}
}

// wantMissing fails the test unless Get of key returns an error wrapping ErrNotFound.
func wantMissing(t *testing.T, s store.Store, key string) {
	t.Helper()
	got, err := s.Get(ctxFor(t), key)
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get %s: got (%d bytes, %v), want an error wrapping ErrNotFound", key, len(got), err)
	}
}

// listAll lists prefix and returns what it saw, failing the test on an error or on a key
// seen twice or not starting with prefix.
func listAll(t *testing.T, s store.Store, prefix string, withValues bool) map[string][]byte {
	t.Helper()
	seen := make(map[string][]byte)
	var bad []string
	err := s.List(ctxFor(t), prefix, withValues, func(key string, value []byte) error {
		if _, dup := seen[key]; dup {
			bad = append(bad, "twice: "+key)
		}
		if len(key) < len(prefix) || key[:len(prefix)] != prefix {
			bad = append(bad, "outside prefix: "+key)
		}
		seen[key] = value
		return nil
	})
	if err != nil {
		t.Fatalf("List %q: %v", prefix, err)
	}
	if len(bad) > 0 {
		t.Fatalf("List %q: bad keys %q", prefix, bad)
	}
	return seen
}

// sortedKeys returns the keys of m in order.
func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// maxValue returns the largest value size the store accepts, or limit when the store has no
// lower limit.
func maxValue(s store.Store, limit int) int {
	if l, ok := s.(store.Limiter); ok && l.MaxValueSize() < limit {
		return l.MaxValueSize()
	}
	return limit
}
