package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/aft-shim/aft/shim/store"
)

// RunReopen checks that a durable store keeps what was written across Close and a reopen:
// open opens the store kept in dir (the same dir every time) and must not close it. Every
// write is made through Put, Create and Delete, then the store is closed and reopened, twice.
func RunReopen(t *testing.T, open func(t *testing.T, dir string) store.Store) {
	t.Helper()
	dir := t.TempDir()
	want := make(map[string][]byte)

	// First life: Put, Create, overwrite, Delete.
	s := openTracked(t, open, dir)
	var items []store.Item
	for i := range 300 {
		key := fmt.Sprintf("v/re/%03d", i)
		items = append(items, store.Item{Key: key, Value: value(key, i)})
	}
	big := store.Item{Key: "v/re/big", Value: value("v/re/big", maxValue(s.Store, 1<<20))}
	items = append(items, big, store.Item{Key: "v/re/empty", Value: []byte{}})
	mustPut(t, s, items...)
	for _, it := range items {
		want[it.Key] = it.Value
	}
	for i := range 10 {
		key := fmt.Sprintf("r/re/%d", i)
		if err := s.Create(ctxFor(t), key, []byte(key)); err != nil {
			t.Fatalf("Create %s: %v", key, err)
		}
		want[key] = []byte(key)
	}
	mustPut(t, s, store.Item{Key: "v/re/000", Value: []byte("overwritten")})
	want["v/re/000"] = []byte("overwritten")
	var deleted []string
	for i := 1; i < 300; i += 7 {
		deleted = append(deleted, fmt.Sprintf("v/re/%03d", i))
	}
	deleted = append(deleted, "r/re/3")
	mustDelete(t, s, deleted...)
	for _, key := range deleted {
		delete(want, key)
	}
	s.close(t)

	// Second life: everything is there; write some more.
	s = openTracked(t, open, dir)
	checkContents(t, s, want, deleted)
	if err := s.Create(ctxFor(t), "r/re/0", []byte("again")); !errors.Is(err, store.ErrExists) {
		t.Fatalf("Create r/re/0 after reopen: got %v, want ErrExists", err)
	}
	if err := s.Create(ctxFor(t), "r/re/3", []byte("recreated")); err != nil {
		t.Fatalf("Create of deleted r/re/3 after reopen: %v", err)
	}
	want["r/re/3"] = []byte("recreated")
	deleted = slices.DeleteFunc(deleted, func(k string) bool { return k == "r/re/3" })
	mustDelete(t, s, "v/re/empty")
	delete(want, "v/re/empty")
	deleted = append(deleted, "v/re/empty")
	mustPut(t, s, store.Item{Key: "w/second", Value: []byte("second life")})
	want["w/second"] = []byte("second life")
	s.close(t)

	// Third life: the second life's writes are there too.
	s = openTracked(t, open, dir)
	checkContents(t, s, want, deleted)
	s.close(t)
}

// tracked is a store the test closes itself, or, should the test stop early, its cleanup.
type tracked struct {
	store.Store
	closed bool
}

func openTracked(t *testing.T, open func(t *testing.T, dir string) store.Store, dir string) *tracked {
	t.Helper()
	s := &tracked{Store: open(t, dir)}
	t.Cleanup(func() {
		if !s.closed {
			s.Store.Close()
		}
	})
	return s
}

func (s *tracked) close(t *testing.T) {
	t.Helper()
	s.closed = true
	if err := s.Store.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// checkContents fails the test unless s holds exactly want, and none of deleted.
func checkContents(t *testing.T, s store.Store, want map[string][]byte, deleted []string) {
	t.Helper()
	for key, v := range want {
		wantValue(t, s, key, v)
	}
	for _, key := range deleted {
		wantMissing(t, s, key)
	}
	got := listAll(t, s, "", true)
	if keys, wantKeys := sortedKeys(got), sortedKeys(want); !slices.Equal(keys, wantKeys) {
		t.Fatalf("List after reopen: got %d keys, want %d", len(keys), len(wantKeys))
	}
	for key, v := range want {
		if !slices.Equal(got[key], v) {
			t.Fatalf("List after reopen: value of %s: got %d bytes, want %d", key, len(got[key]), len(v))
		}
	}
}
