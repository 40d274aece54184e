package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/aft-shim/aft/shim/store"
)

// prefixKeys are stored by testListPrefix; they include keys that share a prefix with
// one another ("v/a" is a prefix of "v/ab") and keys on both sides of every prefix listed.
var prefixKeys = []string{
	"r/", "r/a", "r/ab", "s",
	"v", "v/", "v/-", "v/A", "v/a", "v/a/1", "v/a/2", "v/ab", "v/ab/1", "v/ac", "v/b", "v/~", "v~",
	"w/a",
}

func testListPrefix(t *testing.T, s store.Store) {
	items := make([]store.Item, len(prefixKeys))
	for i, key := range prefixKeys {
		items[i] = store.Item{Key: key, Value: value(key, 1+i)}
	}
	mustPut(t, s, items...)

	tests := []struct {
		prefix string
		want   []string
	}{
		{"v/a", []string{"v/a", "v/a/1", "v/a/2", "v/ab", "v/ab/1", "v/ac"}},
		{"v/ab", []string{"v/ab", "v/ab/1"}},
		{"v/a/", []string{"v/a/1", "v/a/2"}},
		{"v/ab/1", []string{"v/ab/1"}},
		{"v/", []string{"v/", "v/-", "v/A", "v/a", "v/a/1", "v/a/2", "v/ab", "v/ab/1", "v/ac", "v/b", "v/~"}},
		{"v", []string{"v", "v/", "v/-", "v/A", "v/a", "v/a/1", "v/a/2", "v/ab", "v/ab/1", "v/ac", "v/b", "v/~", "v~"}},
		{"v~", []string{"v~"}},
		{"v/~", []string{"v/~"}},
		{"r/", []string{"r/", "r/a", "r/ab"}},
		{"r", []string{"r/", "r/a", "r/ab"}},
		{"", prefixKeys},
		{"v/abc", nil},
		{"q", nil},
		{"x/", nil},
		{"~", nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.prefix), func(t *testing.T) {
			got := listAll(t, s, tt.prefix, true)
			if keys, want := sortedKeys(got), sorted(tt.want); !slices.Equal(keys, want) {
				t.Fatalf("List %q: got %q, want %q", tt.prefix, keys, want)
			}
			for key, v := range got {
				if want := value(key, 1+slices.Index(prefixKeys, key)); !slices.Equal(v, want) {
					t.Errorf("List %q: value of %s: got %x, want %x", tt.prefix, key, v, want)
				}
			}
		})
	}
}

func sorted(keys []string) []string {
	out := slices.Clone(keys)
	slices.Sort(out)
	return out
}

func testListWithoutValues(t *testing.T, s store.Store) {
	mustPut(t, s,
		store.Item{Key: "v/1", Value: []byte("one")},
		store.Item{Key: "v/2", Value: []byte{}},
		store.Item{Key: "v/3", Value: value("v/3", maxValue(s, 10000))},
	)
	got := listAll(t, s, "v/", false)
	if keys := sortedKeys(got); !slices.Equal(keys, []string{"v/1", "v/2", "v/3"}) {
		t.Fatalf("List without values: got keys %q", keys)
	}
	for key, v := range got {
		if v != nil {
			t.Errorf("List without values: %s came with a value of %d bytes, want nil", key, len(v))
		}
	}
}

func testListStop(t *testing.T, s store.Store) {
	items := make([]store.Item, 100)
	for i := range items {
		items[i] = store.Item{Key: fmt.Sprintf("v/stop/%03d", i), Value: []byte{byte(i)}}
	}
	mustPut(t, s, items...)
	errStop := errors.New("stop here")
	for _, withValues := range []bool{false, true} {
		t.Run(fmt.Sprint("withValues=", withValues), func(t *testing.T) {
			calls := 0
			err := s.List(ctxFor(t), "v/stop/", withValues, func(key string, value []byte) error {
				calls++
				if calls == 10 {
					return errStop
				}
				return nil
			})
			if !errors.Is(err, errStop) {
				t.Fatalf("List whose fn fails: got %v, want the error of fn", err)
			}
			if calls != 10 {
				t.Fatalf("List whose fn failed on call 10: fn called %d times", calls)
			}
		})
	}
}

func testListMany(t *testing.T, s store.Store) {
	const n = 3000
	items := make([]store.Item, 0, n+2)
	for i := range n {
		key := fmt.Sprintf("v/list/%05d", i)
		items = append(items, store.Item{Key: key, Value: value(key, i%100)})
	}
	items = append(items, store.Item{Key: "v/lisu", Value: nil}, store.Item{Key: "v/lis", Value: nil})
	mustPut(t, s, items...)
	for _, withValues := range []bool{false, true} {
		t.Run(fmt.Sprint("withValues=", withValues), func(t *testing.T) {
			got := listAll(t, s, "v/list/", withValues)
			if len(got) != n {
				t.Fatalf("List of %d keys: got %d", n, len(got))
			}
			for _, it := range items[:n] {
				v, ok := got[it.Key]
				switch {
				case !ok:
					t.Fatalf("List of %d keys: missed %s", n, it.Key)
				case withValues && !slices.Equal(v, it.Value):
					t.Fatalf("List of %d keys: value of %s: got %x, want %x", n, it.Key, v, it.Value)
				}
			}
		})
	}
	t.Run("subprefix", func(t *testing.T) {
		got := listAll(t, s, "v/list/012", false)
		if len(got) != 100 {
			t.Fatalf("List v/list/012: got %d keys, want 100", len(got))
		}
	})
}

// testListCallbackWrites writes and deletes from inside fn, as a sweep does: List must not
// deadlock, must see each key present for the whole listing exactly once, and never a key
// outside the prefix.
func testListCallbackWrites(t *testing.T, s store.Store) {
	const n = 1500
	items := make([]store.Item, n)
	for i := range items {
		items[i] = store.Item{Key: fmt.Sprintf("v/sweep/%04d", i), Value: []byte("old")}
	}
	mustPut(t, s, items...)
	big := value("big", maxValue(s, 64<<10))
	seen := make(map[string]bool)
	var done []string // listed, not yet deleted
	err := s.List(ctxFor(t), "v/sweep/", false, func(key string, _ []byte) error {
		if seen[key] {
			return fmt.Errorf("%s seen twice", key)
		}
		seen[key] = true
		done = append(done, key)
		if len(done) < 100 {
			return nil
		}
		// Delete what was listed and grow the store while the listing is under way.
		if err := s.Delete(t.Context(), done); err != nil {
			return err
		}
		done = done[:0]
		return s.Put(t.Context(), []store.Item{{Key: "w/" + key, Value: big}})
	})
	if err != nil {
		t.Fatalf("List that writes from fn: %v", err)
	}
	mustDelete(t, s, done...)
	if len(seen) != n {
		t.Fatalf("List that deletes from fn: saw %d keys, want %d", len(seen), n)
	}
	if got := listAll(t, s, "v/sweep/", false); len(got) != 0 {
		t.Fatalf("after deleting every key listed: %d keys left", len(got))
	}
	if got := listAll(t, s, "w/", false); len(got) != n/100 {
		t.Fatalf("keys put from fn: got %d, want %d", len(got), n/100)
	}
}
