package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/aft-shim/aft/shim/store"
)

func testCreateConcurrent(t *testing.T, s store.Store) {
	const (
		rounds  = 4
		writers = 32
	)
	for round := range rounds {
		key := fmt.Sprintf("r/race/%d", round)
		errs := make([]error, writers)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for w := range writers {
			wg.Go(func() {
				<-start
				errs[w] = s.Create(ctxFor(t), key, []byte(fmt.Sprint("writer ", w)))
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for w, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("round %d: writers %d and %d both created %s", round, winner, w, key)
			case err == nil:
				winner = w
			case !errors.Is(err, store.ErrExists):
				t.Fatalf("round %d: writer %d: got %v, want nil or ErrExists", round, w, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: none of %d concurrent Creates of %s succeeded", round, writers, key)
		}
		wantValue(t, s, key, []byte(fmt.Sprint("writer ", winner)))
	}
}

// testConcurrentMixed runs every method from many goroutines at once. Each goroutine owns
// the keys under its own prefix and checks them as it goes; all of them race on shared
// Creates and List the whole store.
func testConcurrentMixed(t *testing.T, s store.Store) {
	const (
		workers = 16
		steps   = 12
	)
	wins := make([]int, steps)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			own := fmt.Sprintf("m/%02d/", w)
			for i := range steps {
				if !mixedStep(t, s, own, i) {
					return
				}
				err := s.Create(ctxFor(t), fmt.Sprintf("m/shared/%02d", i), []byte(own))
				switch {
				case err == nil:
					mu.Lock()
					wins[i]++
					mu.Unlock()
				case !errors.Is(err, store.ErrExists):
					t.Errorf("Create shared %d: %v", i, err)
					return
				}
				if _, err := listAllErr(s, t, "m/"); err != nil {
					t.Errorf("List m/: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for i, n := range wins {
		if n != 1 {
			t.Errorf("shared key %d: %d Creates succeeded, want 1", i, n)
		}
	}
	for w := range workers {
		own := fmt.Sprintf("m/%02d/", w)
		got := listAll(t, s, own, true)
		var want []string
		for i := range steps {
			if i%3 != 0 {
				want = append(want, fmt.Sprintf("%s%02d", own, i))
			}
		}
		if keys := sortedKeys(got); !slices.Equal(keys, want) {
			t.Errorf("worker %d keys: got %q, want %q", w, keys, want)
		}
	}
}

// mixedStep is one step of a worker of testConcurrentMixed on its own keys; it reports
// failures with t.Errorf and returns false after one.
func mixedStep(t *testing.T, s store.Store, own string, i int) bool {
	ctx := ctxFor(t)
	key := fmt.Sprintf("%s%02d", own, i)
	want := value(key, 1+i*37)
	if err := s.Put(ctx, []store.Item{{Key: key, Value: want}, {Key: key + "/tmp", Value: want[:1]}}); err != nil {
		t.Errorf("Put %s: %v", key, err)
		return false
	}
	got, err := s.Get(ctx, key)
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("Get %s after Put: got (%d bytes, %v), want %d bytes", key, len(got), err, len(want))
		return false
	}
	del := []string{key + "/tmp"}
	if i%3 == 0 {
		del = append(del, key)
	}
	if err := s.Delete(ctx, del); err != nil {
		t.Errorf("Delete %v: %v", del, err)
		return false
	}
	if _, err := s.Get(ctx, key+"/tmp"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get %s/tmp after Delete: got %v, want ErrNotFound", key, err)
		return false
	}
	return true
}

// listAllErr is listAll for goroutines other than the test's: it returns the error instead
// of failing the test.
func listAllErr(s store.Store, t *testing.T, prefix string) (int, error) {
	n := 0
	err := s.List(ctxFor(t), prefix, true, func(key string, value []byte) error {
		if len(key) < len(prefix) || key[:len(prefix)] != prefix {
			return fmt.Errorf("key %s outside prefix %s", key, prefix)
		}
		n++
		return nil
	})
	return n, err
}
