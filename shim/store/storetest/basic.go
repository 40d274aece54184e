package storetest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/aft-shim/aft/shim/store"
)

func testGetMissing(t *testing.T, s store.Store) {
	wantMissing(t, s, "v/missing")
	mustPut(t, s, store.Item{Key: "v/present", Value: []byte("x")})
	// Neighbours of a present key are still missing.
	for _, key := range []string{"v/presen", "v/present/", "v/presentx", "v/missing"} {
		wantMissing(t, s, key)
	}
}

func testPutGet(t *testing.T, s store.Store) {
	tests := []struct {
		key   string
		value []byte
	}{
		{"v/a", []byte("alpha")},
		{"v/b", []byte{0, 1, 2, 0xff}},
		{"r/c", value("r/c", 100)},
	}
	for _, tt := range tests {
		mustPut(t, s, store.Item{Key: tt.key, Value: tt.value})
	}
	for _, tt := range tests {
		wantValue(t, s, tt.key, tt.value)
	}
}

func testPutOverwrite(t *testing.T, s store.Store) {
	tests := []struct {
		name  string
		value []byte
	}{
		{"first", []byte("one")},
		{"longer", []byte("a longer second value")},
		{"shorter", []byte("3")},
		{"empty", []byte{}},
		{"again", []byte("four")},
	}
	for _, tt := range tests {
		mustPut(t, s, store.Item{Key: "v/k", Value: tt.value})
		wantValue(t, s, "v/k", tt.value)
	}
	// Overwriting within one Put of several items, among other keys.
	mustPut(t, s, store.Item{Key: "v/a", Value: []byte("a")}, store.Item{Key: "v/k", Value: []byte("five")})
	wantValue(t, s, "v/k", []byte("five"))
	wantValue(t, s, "v/a", []byte("a"))
}

func testPutMany(t *testing.T, s store.Store) {
	const n = 500
	items := make([]store.Item, n)
	for i := range items {
		key := fmt.Sprintf("v/many/%04d", i)
		items[i] = store.Item{Key: key, Value: value(key, i%64)}
	}
	mustPut(t, s, items...)
	for _, it := range items {
		wantValue(t, s, it.Key, it.Value)
	}
	if got := listAll(t, s, "v/many/", false); len(got) != n {
		t.Fatalf("List after Put of %d items: got %d keys", n, len(got))
	}
}

func testPutDeleteNothing(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	if err := s.Put(ctx, nil); err != nil {
		t.Errorf("Put of no items: %v", err)
	}
	if err := s.Delete(ctx, nil); err != nil {
		t.Errorf("Delete of no keys: %v", err)
	}
	if got := listAll(t, s, "", false); len(got) != 0 {
		t.Errorf("List of an empty store: got keys %q", sortedKeys(got))
	}
}

func testValueSizes(t *testing.T, s store.Store) {
	tests := []struct {
		name string
		size int
	}{
		{"empty", 0},
		{"one", 1},
		{"page", 4096},
		{"pagePlusOne", 4097},
		{"64KiB", 64 << 10},
		{"1MiB", 1 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.size > maxValue(s, tt.size) {
				t.Skipf("store limit %d is below %d bytes", maxValue(s, tt.size), tt.size)
			}
			key := "v/size/" + tt.name
			want := value(key, tt.size)
			mustPut(t, s, store.Item{Key: key, Value: want})
			wantValue(t, s, key, want)
			got := listAll(t, s, key, true)
			if v, ok := got[key]; !ok || len(got) != 1 || string(v) != string(want) {
				t.Fatalf("List %s: got %d keys (value of %d bytes), want exactly the %d-byte value", key, len(got), len(v), len(want))
			}
			// A value of any size, 0 bytes included, is present: Create must refuse it.
			err := s.Create(ctxFor(t), key, []byte("other"))
			if !errors.Is(err, store.ErrExists) {
				t.Fatalf("Create over a %d-byte value: got %v, want ErrExists", tt.size, err)
			}
			wantValue(t, s, key, want)
		})
	}
	t.Run("CreateEmpty", func(t *testing.T) {
		if err := s.Create(ctxFor(t), "v/size/created", nil); err != nil {
			t.Fatalf("Create of a nil value: %v", err)
		}
		wantValue(t, s, "v/size/created", nil)
	})
}

func testReturnedValuesAreCallers(t *testing.T, s store.Store) {
	want := []byte("original")
	mustPut(t, s, store.Item{Key: "v/own", Value: []byte("original")})
	got, err := s.Get(ctxFor(t), "v/own")
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		got[i] = 'X'
	}
	_ = append(got[:0], "overwritten through append"...)
	wantValue(t, s, "v/own", want)

	var kept [][]byte
	err = s.List(ctxFor(t), "v/own", true, func(key string, value []byte) error {
		kept = append(kept, value)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(kept) != 1 || string(kept[0]) != string(want) {
		t.Fatalf("List kept values: got %q, want [%q]", kept, want)
	}
	for i := range kept[0] {
		kept[0][i] = 'Y'
	}
	wantValue(t, s, "v/own", want)
}

func testInputNotRetained(t *testing.T, s store.Store) {
	put := []byte("put value")
	mustPut(t, s, store.Item{Key: "v/put", Value: put})
	for i := range put {
		put[i] = 'X'
	}
	wantValue(t, s, "v/put", []byte("put value"))

	created := []byte("created value")
	if err := s.Create(ctxFor(t), "v/created", created); err != nil {
		t.Fatal(err)
	}
	for i := range created {
		created[i] = 'X'
	}
	wantValue(t, s, "v/created", []byte("created value"))

	items := []store.Item{{Key: "v/items", Value: []byte("item value")}}
	mustPut(t, s, items...)
	items[0].Key = "v/changed"
	items[0].Value = []byte("changed")
	wantValue(t, s, "v/items", []byte("item value"))
	wantMissing(t, s, "v/changed")
}

func testCreate(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	if err := s.Create(ctx, "r/1", []byte("first")); err != nil {
		t.Fatalf("Create of a missing key: %v", err)
	}
	wantValue(t, s, "r/1", []byte("first"))

	err := s.Create(ctx, "r/1", []byte("second"))
	if !errors.Is(err, store.ErrExists) {
		t.Fatalf("Create of a present key: got %v, want ErrExists", err)
	}
	wantValue(t, s, "r/1", []byte("first"))

	// A key written by Put is present for Create too.
	mustPut(t, s, store.Item{Key: "r/2", Value: []byte("put")})
	if err := s.Create(ctx, "r/2", []byte("create")); !errors.Is(err, store.ErrExists) {
		t.Fatalf("Create over Put: got %v, want ErrExists", err)
	}
	wantValue(t, s, "r/2", []byte("put"))

	// Once deleted, the key can be created again.
	mustDelete(t, s, "r/1")
	if err := s.Create(ctx, "r/1", []byte("third")); err != nil {
		t.Fatalf("Create after Delete: %v", err)
	}
	wantValue(t, s, "r/1", []byte("third"))
}

func testDelete(t *testing.T, s store.Store) {
	mustPut(t, s,
		store.Item{Key: "v/d/1", Value: []byte("1")},
		store.Item{Key: "v/d/2", Value: []byte("2")},
		store.Item{Key: "v/d/3", Value: []byte{}},
		store.Item{Key: "v/d/4", Value: []byte("4")},
	)
	tests := []struct {
		name string
		keys []string
	}{
		{"present", []string{"v/d/1"}},
		{"missing", []string{"v/d/never"}},
		{"again", []string{"v/d/1"}},
		{"mixed", []string{"v/d/2", "v/d/gone", "v/d/3"}},
		{"twice in one call", []string{"v/d/x", "v/d/x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustDelete(t, s, tt.keys...)
			for _, key := range tt.keys {
				wantMissing(t, s, key)
			}
		})
	}
	wantValue(t, s, "v/d/4", []byte("4"))
	got := listAll(t, s, "v/d/", true)
	if keys := sortedKeys(got); len(keys) != 1 || keys[0] != "v/d/4" {
		t.Fatalf("List after Delete: got %q, want [v/d/4]", keys)
	}
}
