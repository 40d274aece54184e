package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/aft-shim/aft/shim/store"
)

// committer returns s as a store.Committer, or skips the test for stores without it (an
// optional interface: such stores get Put then Create from the shim).
func committer(t *testing.T, s store.Store) store.Committer {
	c, ok := s.(store.Committer)
	if !ok {
		t.Skipf("%T does not implement the optional store.Committer", s)
	}
	return c
}

func testPutCreate(t *testing.T, s store.Store) {
	c := committer(t, s)
	ctx := ctxFor(t)
	items := []store.Item{{Key: "v/a/1", Value: value("a", 10)}, {Key: "v/b/1", Value: value("b", 0)}}
	if err := c.PutCreate(ctx, items, "r/k/1", value("rec", 20)); err != nil {
		t.Fatalf("PutCreate: %v", err)
	}
	wantValue(t, s, "v/a/1", value("a", 10))
	wantValue(t, s, "v/b/1", value("b", 0))
	wantValue(t, s, "r/k/1", value("rec", 20))

	// A second PutCreate of the same record key writes nothing at all.
	err := c.PutCreate(ctx, []store.Item{{Key: "v/a/2", Value: value("a2", 5)}, {Key: "v/a/1", Value: value("over", 3)}}, "r/k/1", value("rec2", 4))
	if !errors.Is(err, store.ErrExists) {
		t.Fatalf("PutCreate of an existing key: %v, want ErrExists", err)
	}
	wantMissing(t, s, "v/a/2")
	wantValue(t, s, "v/a/1", value("a", 10))
	wantValue(t, s, "r/k/1", value("rec", 20))

	// No items: a plain Create.
	if err := c.PutCreate(ctx, nil, "r/k/2", value("only", 1)); err != nil {
		t.Fatalf("PutCreate without items: %v", err)
	}
	wantValue(t, s, "r/k/2", value("only", 1))
}

func testPutCreateConcurrent(t *testing.T, s store.Store) {
	c := committer(t, s)
	ctx := ctxFor(t)
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = c.PutCreate(ctx, []store.Item{{Key: fmt.Sprintf("v/x/%02d", i), Value: value("x", i)}}, "r/one", value("r", i))
		}(i)
	}
	wg.Wait()
	winners := 0
	for i, err := range errs {
		switch {
		case err == nil:
			winners++
			wantValue(t, s, fmt.Sprintf("v/x/%02d", i), value("x", i))
			wantValue(t, s, "r/one", value("r", i))
		case errors.Is(err, store.ErrExists):
			wantMissing(t, s, fmt.Sprintf("v/x/%02d", i))
		default:
			t.Errorf("PutCreate %d: %v", i, err)
		}
	}
	if winners != 1 {
		t.Errorf("%d concurrent PutCreates of one key succeeded, want exactly 1", winners)
	}
}
