package storetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/aft-shim/aft/shim/store"
)

// ordered returns s as a store.Ordered, or skips the test for stores without it (a store
// only one node uses, like the embedded one).
func ordered(t *testing.T, s store.Store) store.Ordered {
	t.Helper()
	o, ok := s.(store.Ordered)
	if !ok {
		t.Skipf("%T does not implement the optional store.Ordered", s)
	}
	return o
}

// listAfter returns what ListAfter visits, failing the test on an error.
func listAfter(t *testing.T, o store.Ordered, dir, after string, limit int) []string {
	t.Helper()
	var keys []string
	if err := o.ListAfter(ctxFor(t), dir, after, limit, func(key string) error {
		keys = append(keys, key)
		return nil
	}); err != nil {
		t.Fatalf("ListAfter(%q, %q, %d): %v", dir, after, limit, err)
	}
	return keys
}

func testOrdered(t *testing.T, s store.Store) {
	o := ordered(t, s)
	dir := store.OrderedPrefix + "1700000000/"
	// Written out of order, through every write call, next to keys of other directories.
	var keys []string
	for i := range 300 {
		keys = append(keys, fmt.Sprintf("%s%016x.%d", dir, uint64(i)*7919, i))
	}
	shuffled := slices.Clone(keys)
	rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for i := 0; i < len(shuffled); i += 50 {
		var items []store.Item
		for _, k := range shuffled[i : i+50] {
			items = append(items, store.Item{Key: k, Value: []byte{}})
		}
		mustPut(t, s, items...)
	}
	mustPut(t, s,
		store.Item{Key: store.OrderedPrefix + "1699999999/ffff", Value: []byte{}},
		store.Item{Key: store.OrderedPrefix + "17000000000/0000", Value: []byte{}},
		store.Item{Key: "v/" + dir[len(store.OrderedPrefix):] + "x", Value: []byte("x")},
	)
	slices.Sort(keys)

	if got := listAfter(t, o, dir, "", 1000); !slices.Equal(got, keys) {
		t.Fatalf("ListAfter from the start: got %d keys %q..., want the %d keys of the directory in order", len(got), head(got), len(keys))
	}
	if got := listAfter(t, o, dir, keys[99], 1000); !slices.Equal(got, keys[100:]) {
		t.Fatalf("ListAfter %q: got %d keys, want the %d after it", keys[99], len(got), len(keys)-100)
	}
	// after need not be a key that exists.
	if got := listAfter(t, o, dir, keys[99]+"!", 10); !slices.Equal(got, keys[100:110]) {
		t.Fatalf("ListAfter between keys, limit 10: got %q, want %q", got, keys[100:110])
	}
	if got := listAfter(t, o, dir, keys[len(keys)-1], 10); len(got) != 0 {
		t.Fatalf("ListAfter the last key: got %q, want nothing", got)
	}
	// Paging with the limit visits every key once, in order.
	var paged []string
	for after := ""; ; {
		page := listAfter(t, o, dir, after, 7)
		if len(page) > 7 {
			t.Fatalf("ListAfter with limit 7 visited %d keys", len(page))
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		after = page[len(page)-1]
	}
	if !slices.Equal(paged, keys) {
		t.Fatalf("paged ListAfter: got %d keys, want %d in order", len(paged), len(keys))
	}
	// A directory with nothing in it.
	if got := listAfter(t, o, store.OrderedPrefix+"42/", "", 10); len(got) != 0 {
		t.Fatalf("ListAfter of an empty directory: got %q", got)
	}
	// Deleted keys are gone from the order; ordered keys read back like any other key.
	mustDelete(t, s, keys[:150]...)
	if got := listAfter(t, o, dir, "", 1000); !slices.Equal(got, keys[150:]) {
		t.Fatalf("ListAfter after deleting the first half: got %d keys, want %d", len(got), len(keys)-150)
	}
	wantValue(t, s, keys[200], []byte{})
	listed := listAll(t, s, dir, false)
	if len(listed) != len(keys)-150 {
		t.Fatalf("List of the ordered directory: %d keys, want %d", len(listed), len(keys)-150)
	}
	// An error from fn stops the listing.
	stop := fmt.Errorf("stop")
	n := 0
	err := o.ListAfter(ctxFor(t), dir, "", 1000, func(string) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if err != stop || n != 3 {
		t.Fatalf("ListAfter with fn failing at the third key: err %v after %d keys, want the fn's error after 3", err, n)
	}
}

// testOrderedPutCreate checks that an ordered key written with PutCreate is listed, and one
// whose PutCreate found the key taken is not.
func testOrderedPutCreate(t *testing.T, s store.Store) {
	o := ordered(t, s)
	c := committer(t, s)
	dir := store.OrderedPrefix + "5/"
	ctx := ctxFor(t)
	if err := c.PutCreate(ctx, []store.Item{{Key: dir + "a", Value: []byte{}}, {Key: "v/x/1", Value: []byte("1")}}, "r/t/1", []byte("r")); err != nil {
		t.Fatalf("PutCreate: %v", err)
	}
	if err := c.PutCreate(ctx, []store.Item{{Key: dir + "b", Value: []byte{}}}, "r/t/1", []byte("r2")); err == nil {
		t.Fatalf("second PutCreate of r/t/1 succeeded")
	}
	if got := listAfter(t, o, dir, "", 10); !slices.Equal(got, []string{dir + "a"}) {
		t.Fatalf("ListAfter: got %q, want only the key of the PutCreate that created its record", got)
	}
}

// testOrderedConcurrent writes ordered keys from several goroutines and checks that a
// listing started after the writes returned sees all of them.
func testOrderedConcurrent(t *testing.T, s store.Store) {
	o := ordered(t, s)
	dir := store.OrderedPrefix + "9/"
	var wg sync.WaitGroup
	var mu sync.Mutex
	var want []string
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				k := fmt.Sprintf("%s%04d.%d", dir, i, g)
				if err := s.Put(ctxFor(t), []store.Item{{Key: k, Value: []byte{}}}); err != nil {
					t.Errorf("Put %s: %v", k, err)
					return
				}
				mu.Lock()
				want = append(want, k)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	slices.Sort(want)
	if got := listAfter(t, o, dir, "", 1000); !slices.Equal(got, want) {
		t.Fatalf("ListAfter after concurrent Puts: got %d keys, want %d", len(got), len(want))
	}
}

func head(s []string) []string { return s[:min(len(s), 3)] }
