package bolt_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aft-shim/aft/shim/store"
	"github.com/aft-shim/aft/shim/store/bolt"
)

// TestGroupCommit checks that concurrent writes share transactions.
func TestGroupCommit(t *testing.T) {
	const (
		writers = 64
		puts    = 50
	)
	s := open(t, t.TempDir(), bolt.Options{})
	defer s.Close()
	before := s.Stats()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range puts {
				key := fmt.Sprintf("v/%02d/%02d", w, i)
				if err := s.Put(t.Context(), []store.Item{{Key: key, Value: make([]byte, 100)}}); err != nil {
					t.Errorf("Put %s: %v", key, err)
					return
				}
			}
		})
	}
	wg.Wait()
	st := s.Stats()
	ops, commits := st.Ops-before.Ops, st.Commits-before.Commits
	t.Logf("%d ops in %d commits (%.1f per commit)", ops, commits, float64(ops)/float64(commits))
	if ops != writers*puts {
		t.Errorf("ops: got %d, want %d", ops, writers*puts)
	}
	// How many ops a commit takes depends on how fast the committer runs beside the
	// writers, which a busy machine skews (dozens here); without group commit there is
	// one commit per op, which half still tells.
	if commits*2 > ops {
		t.Errorf("commits: got %d for %d ops, want at most half", commits, ops)
	}
}

// TestCreateInOneGroup makes many Creates of a few keys, and Puts of other keys, land in
// the same groups: per key exactly one Create succeeds, and the failing ones do not fail the
// other ops of their group.
func TestCreateInOneGroup(t *testing.T) {
	const (
		keys    = 4
		writers = 64
	)
	s := open(t, t.TempDir(), bolt.Options{})
	defer s.Close()
	wins := make([]int, keys)
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			<-start
			k := w % keys
			err := s.Create(t.Context(), fmt.Sprintf("r/%d", k), []byte{byte(w)})
			switch {
			case err == nil:
				mu.Lock()
				wins[k]++
				mu.Unlock()
			case !errors.Is(err, store.ErrExists):
				t.Errorf("Create r/%d: %v", k, err)
			}
			if err := s.Put(t.Context(), []store.Item{{Key: fmt.Sprintf("v/%d", w), Value: nil}}); err != nil {
				t.Errorf("Put v/%d: %v", w, err)
			}
		})
	}
	close(start)
	wg.Wait()
	for k, n := range wins {
		if n != 1 {
			t.Errorf("r/%d: %d Creates succeeded, want 1", k, n)
		}
	}
	st := s.Stats()
	t.Logf("%d ops in %d commits", st.Ops, st.Commits)
	if st.Commits >= st.Ops {
		t.Errorf("no grouping: %d commits for %d ops", st.Commits, st.Ops)
	}
}

// TestCancelWhileQueued cancels writers that wait behind a large group: they return the
// context's error promptly, and the store stays usable.
func TestCancelWhileQueued(t *testing.T) {
	s := open(t, t.TempDir(), bolt.Options{})
	defer s.Close()
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	// Keep the writer busy with a large group while the others queue.
	wg.Go(func() {
		if err := s.Put(t.Context(), []store.Item{{Key: "v/large", Value: make([]byte, 32<<20)}}); err != nil {
			t.Errorf("large Put: %v", err)
		}
	})
	time.Sleep(time.Millisecond)
	errs := make([]error, 32)
	for w := range errs {
		wg.Go(func() {
			errs[w] = s.Put(ctx, []store.Item{{Key: fmt.Sprintf("v/%02d", w), Value: make([]byte, 64<<10)}})
		})
	}
	time.Sleep(2 * time.Millisecond)
	cancel()
	wg.Wait()
	for w, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("writer %d: got %v, want nil or context.Canceled", w, err)
		}
	}
	if err := s.Put(t.Context(), []store.Item{{Key: "v/after", Value: nil}}); err != nil {
		t.Fatalf("Put after cancelled writers: %v", err)
	}
	st := s.Stats()
	t.Logf("stats after cancelling 32 writers: %+v", st)
}
