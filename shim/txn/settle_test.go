package txn

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aft-shim/aft/shim/record"
	"github.com/aft-shim/aft/shim/store"
	"github.com/aft-shim/aft/shim/store/bolt"
	"github.com/aft-shim/aft/shim/store/mem"
)

// landing makes its next record writes (Create, or PutCreate on the one-step path) land in
// the store and report failure all the same: at once, or, with delay, a while after the
// failure was reported (a request the store goes on with after its caller gave up). With
// loseNext they fail without writing instead.
type landing struct {
	store.Store
	mu    sync.Mutex
	fails int
	lose  bool
	delay time.Duration
	wg    sync.WaitGroup
}

// failNext makes the next n record writes land and fail.
func (l *landing) failNext(n int, delay time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fails, l.delay, l.lose = n, delay, false
}

// loseNext makes the next n record writes fail without writing anything.
func (l *landing) loseNext(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fails, l.delay, l.lose = n, 0, true
}

func (l *landing) write(do func(context.Context) error) error {
	l.mu.Lock()
	fail, delay, lose := l.fails > 0, l.delay, l.lose
	if fail {
		l.fails--
	}
	l.mu.Unlock()
	if !fail {
		return do(context.Background())
	}
	if lose {
		return errors.New("injected: connection reset (nothing written)")
	}
	if delay > 0 {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			time.Sleep(delay)
			do(context.Background())
		}()
		return errors.New("injected: timeout (the request goes on in the store)")
	}
	if err := do(context.Background()); err != nil {
		return err
	}
	return errors.New("injected: timeout after the write landed")
}

func (l *landing) Create(_ context.Context, key string, value []byte) error {
	return l.write(func(ctx context.Context) error { return l.Store.Create(ctx, key, value) })
}

// landingOneStep is a landing store that writes a commit in one step.
type landingOneStep struct{ *landing }

func (l landingOneStep) PutCreate(_ context.Context, items []store.Item, key string, value []byte) error {
	return l.write(func(ctx context.Context) error {
		return l.Store.(store.Committer).PutCreate(ctx, items, key, value)
	})
}

// bothPaths runs fn over a landing store on the one-step and on the two-step commit path.
func bothPaths(t *testing.T, fn func(t *testing.T, l *landing, st store.Store)) {
	t.Run("one-step", func(t *testing.T) {
		l := &landing{Store: mem.New()}
		fn(t, l, landingOneStep{l})
	})
	t.Run("two-step", func(t *testing.T) {
		l := &landing{Store: mem.New()}
		fn(t, l, l)
	})
}

// fakeClock is a settable Config.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// readFresh reads key in a new transaction of m.
func readFresh(t *testing.T, m *Manager, key string) string {
	t.Helper()
	return readString(t, m, begin(t, m, ""), key)
}

// Issue 15, item 1: once a commit was tried, the write set is frozen, and a retried commit
// applies exactly the record in the store.
func TestCommitTryFreezesTheWriteSet(t *testing.T) {
	bothPaths(t, func(t *testing.T, l *landing, st store.Store) {
		m := newManager(t, st, Config{SettleTime: time.Millisecond})
		id := begin(t, m, "req")
		mustWrite(t, m, id, "k", "first")
		l.failNext(1, 0)
		if _, err := m.Commit(ctx, id, []byte("result-1")); !errors.Is(err, ErrStore) {
			t.Fatalf("commit whose record landed but failed: %v, want ErrStore", err)
		}
		if err := m.Write(id, "k", []byte("second")); !errors.Is(err, ErrCommitTried) {
			t.Errorf("write after a commit try = %v, want ErrCommitTried", err)
		}
		if err := m.Delete(id, "other"); !errors.Is(err, ErrCommitTried) {
			t.Errorf("delete after a commit try = %v, want ErrCommitTried", err)
		}
		if _, err := m.Commit(ctx, id, []byte("result-2")); err != nil {
			t.Fatalf("retried commit: %v", err)
		}
		if got := readFresh(t, m, "k"); got != "first" {
			t.Errorf("read k = %q, want first (what the store holds)", got)
		}
		info, err := m.Begin(ctx, BeginOptions{IdemKey: "req"})
		if err != nil || info.Status != Committed || string(info.Result) != "result-1" {
			t.Errorf("begin with the committed key = %+v, %v; want committed with result-1 (the stored record)", info, err)
		}
		m.Close()
		m2 := newManager(t, st, Config{})
		if got := readFresh(t, m2, "k"); got != "first" {
			t.Errorf("after restart read k = %q, want first", got)
		}
	})
}

// Issue 15, item 2: a commit retried past half the orphan grace on the two-step path checks
// whether an earlier try's record landed before it gives up, and never removes data that a
// landed record names.
func TestLateCommitRetryFindsTheLandedRecord(t *testing.T) {
	bothPaths(t, func(t *testing.T, l *landing, st store.Store) {
		clock := newFakeClock()
		m := newManager(t, st, Config{Now: clock.Now, SettleTime: time.Millisecond})
		id := begin(t, m, "")
		mustWrite(t, m, id, "k", "v")
		l.failNext(1, 0)
		if _, err := m.Commit(ctx, id, nil); !errors.Is(err, ErrStore) {
			t.Fatalf("commit: %v, want ErrStore", err)
		}
		clock.advance(m.cfg.OrphanGrace/2 + time.Second)
		info, err := m.Commit(ctx, id, nil)
		if err != nil || info.Status != Committed {
			t.Fatalf("late retry of a commit whose record landed = %+v, %v; want committed", info, err)
		}
		if got := readFresh(t, m, "k"); got != "v" {
			t.Errorf("read k = %q, want v", got)
		}
		m.Close()
		m2 := newManager(t, st, Config{Now: clock.Now})
		if got := readFresh(t, m2, "k"); got != "v" {
			t.Errorf("after restart read k = %q, want v", got)
		}
	})
}

// Issue 15, item 2: a late retry whose earlier try did not land aborts and removes its data.
func TestLateCommitRetryWithoutRecordAborts(t *testing.T) {
	clock := newFakeClock()
	st := &landing{Store: mem.New()}
	m := newManager(t, st, Config{Now: clock.Now, SettleTime: time.Millisecond})
	id := begin(t, m, "")
	mustWrite(t, m, id, "k", "v")
	st.loseNext(1)
	if _, err := m.Commit(ctx, id, nil); !errors.Is(err, ErrStore) {
		t.Fatalf("commit: %v, want ErrStore", err)
	}
	clock.advance(m.cfg.OrphanGrace/2 + time.Second)
	if _, err := m.Commit(ctx, id, nil); !errors.Is(err, ErrAborted) {
		t.Fatalf("late retry with no landed record: %v, want ErrAborted", err)
	}
	if n := countKeys(t, st, record.VersionPrefix); n != 0 {
		t.Errorf("%d data versions left after the abort, want 0", n)
	}
}

// Issue 15, item 2: an abort racing a record write still in flight in the store waits for it
// to settle, and answers committed when it lands; the data stays readable.
func TestAbortWaitsForARecordStillInFlight(t *testing.T) {
	bothPaths(t, func(t *testing.T, l *landing, st store.Store) {
		// The abort waits the whole SettleTime, by which the write must have landed: 2s
		// is room for a slow machine to run the write's goroutine after its 50 ms.
		const delay = 50 * time.Millisecond
		m := newManager(t, st, Config{SettleTime: 2 * time.Second})
		id := begin(t, m, "")
		mustWrite(t, m, id, "k", "v")
		l.failNext(1, delay)
		if _, err := m.Commit(ctx, id, nil); !errors.Is(err, ErrStore) {
			t.Fatalf("commit: %v, want ErrStore", err)
		}
		if _, err := m.Abort(ctx, id); !errors.Is(err, ErrCommitted) {
			t.Errorf("abort while the record was in flight = %v, want ErrCommitted once it landed", err)
		}
		l.wg.Wait()
		if got := readFresh(t, m, "k"); got != "v" {
			t.Errorf("read k = %q, want v", got)
		}
		m.Close()
		m2 := newManager(t, st, Config{})
		if got := readFresh(t, m2, "k"); got != "v" {
			t.Errorf("after restart read k = %q, want v", got)
		}
	})
}

// Issue 15, item 3: a begin that finds its key's record in the store makes the record's
// writes visible, even when the attempt that wrote it never heard that it landed.
func TestBeginAppliesALandedRecord(t *testing.T) {
	bothPaths(t, func(t *testing.T, l *landing, st store.Store) {
		m := newManager(t, st, Config{SettleTime: time.Millisecond})
		id := begin(t, m, "req")
		mustWrite(t, m, id, "k", "v")
		l.failNext(1, 0)
		if _, err := m.Commit(ctx, id, []byte("res")); !errors.Is(err, ErrStore) {
			t.Fatalf("commit: %v, want ErrStore", err)
		}
		info, err := m.Begin(ctx, BeginOptions{IdemKey: "req"})
		if err != nil || info.Status != Committed || info.ID != id {
			t.Fatalf("begin with the key = %+v, %v; want committed by %s", info, err, id)
		}
		if got := readFresh(t, m, "k"); got != "v" {
			t.Errorf("read k after begin answered committed = %q, want v", got)
		}
		if s, err := m.Status(ctx, id); err != nil || s.Status != Committed {
			t.Errorf("status of the attempt = %+v, %v; want committed", s, err)
		}
	})
}

// Issue 15, item 3: on the embedded store, a caller that drops its connection mid-commit
// (its context ends) no longer makes the commit's outcome unknown: the commit runs to its end.
func TestCommitOutlivesItsCaller(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "aft.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m := newManager(t, st, Config{})
	id := begin(t, m, "req")
	mustWrite(t, m, id, "k", "v")
	gone, cancel := context.WithCancel(ctx)
	cancel()
	if info, err := m.Commit(gone, id, nil); err != nil || info.Status != Committed {
		t.Fatalf("commit of a caller that left = %+v, %v; want committed", info, err)
	}
	if got := readFresh(t, m, "k"); got != "v" {
		t.Errorf("read k = %q, want v", got)
	}
}

// Issue 15, item 4: a commit record over the store's item limit is refused before anything
// is written, with the limit named, and the transaction may still commit a smaller result.
func TestCommitRecordOverTheStoreLimit(t *testing.T) {
	const limit = 400 << 10 // DynamoDB's item limit
	for _, path := range []string{"one-step", "two-step"} {
		t.Run(path, func(t *testing.T) {
			var st store.Store = mem.NewWithOptions(mem.Options{MaxValueSize: limit})
			if path == "two-step" {
				st = plainLimited{plainStore{st}, limit}
			}
			m := newManager(t, st, Config{})
			id := begin(t, m, "req")
			mustWrite(t, m, id, "k", "v")
			var le *LimitError
			_, err := m.Commit(ctx, id, make([]byte, MaxResultSize))
			if !errors.As(err, &le) || le.What != "commit_record" || le.Limit != limit {
				t.Fatalf("commit with a 1 MiB result on a 400 KiB store = %v, want a commit_record LimitError naming %d", err, limit)
			}
			if !strings.Contains(err.Error(), "409600") {
				t.Errorf("error %q does not name the limit", err)
			}
			if n := countKeys(t, st, ""); n != 0 {
				t.Errorf("the refused commit left %d keys in the store, want 0", n)
			}
			mustWrite(t, m, id, "k2", "v2") // not frozen: nothing was tried
			if _, err := m.Commit(ctx, id, []byte("small")); err != nil {
				t.Fatalf("commit with a small result: %v", err)
			}
			if got := readFresh(t, m, "k2"); got != "v2" {
				t.Errorf("read k2 = %q", got)
			}
		})
	}
	// Many keys: the write set alone is over the limit.
	m := newManager(t, mem.NewWithOptions(mem.Options{MaxValueSize: 64 << 10}), Config{})
	id := begin(t, m, "")
	for i := 0; i < 10_000; i++ {
		mustWrite(t, m, id, fmt.Sprintf("key-%05d", i), "")
	}
	var le *LimitError
	if _, err := m.Commit(ctx, id, nil); !errors.As(err, &le) || le.What != "commit_record" {
		t.Errorf("commit of 10k keys over a 64 KiB store = %v, want a commit_record LimitError", err)
	}
}

// Issue 15, item 9: the sweep must not remove the data of a one-step commit whose version was
// fixed long before its record landed (the commit was retried late), nor of any transaction
// still running here.
func TestSweepSparesACommitInFlight(t *testing.T) {
	bothPaths(t, func(t *testing.T, l *landing, st store.Store) {
		clock := newFakeClock()
		m := newManager(t, st, Config{Now: clock.Now, SettleTime: time.Millisecond})
		id := begin(t, m, "")
		mustWrite(t, m, id, "k", "v")
		l.failNext(1, 0)
		if _, err := m.Commit(ctx, id, nil); !errors.Is(err, ErrStore) {
			t.Fatalf("commit: %v, want ErrStore", err)
		}
		clock.advance(2 * m.cfg.OrphanGrace)
		if err := m.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if info, err := m.Commit(ctx, id, nil); err != nil || info.Status != Committed {
			t.Fatalf("retried commit = %+v, %v; want committed", info, err)
		}
		if got := readFresh(t, m, "k"); got != "v" {
			t.Errorf("read k after the sweep = %q, want v", got)
		}
		m.Close()
		m2 := newManager(t, st, Config{Now: clock.Now}) // no cache: the store must hold the data
		if got := readFresh(t, m2, "k"); got != "v" {
			t.Errorf("after restart read k = %q, want v", got)
		}
	})
}

func countKeys(t *testing.T, st store.Store, prefix string) int {
	t.Helper()
	n := 0
	if err := st.List(ctx, prefix, false, func(string, []byte) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// plainLimited is a two-step store with a value limit, as the S3 and Redis cluster ones are.
type plainLimited struct {
	plainStore
	max int
}

func (p plainLimited) MaxValueSize() int { return p.max }

// The sweep does not release (and so remove under its key) the record of a transaction
// still settling here, however old: settling applies it first.
func TestSweepKeepsTheRecordOfACommitSettling(t *testing.T) {
	bothPaths(t, func(t *testing.T, l *landing, st store.Store) {
		clock := newFakeClock()
		m := newManager(t, st, Config{Now: clock.Now, SettleTime: time.Millisecond, ResultRetention: time.Hour})
		id := begin(t, m, "req")
		mustWrite(t, m, id, "k", "v")
		l.failNext(1, 0)
		if _, err := m.Commit(ctx, id, []byte("res")); !errors.Is(err, ErrStore) {
			t.Fatalf("commit: %v, want ErrStore", err)
		}
		clock.advance(2 * time.Hour)
		if err := m.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if info, err := m.Commit(ctx, id, nil); err != nil || info.Status != Committed {
			t.Fatalf("retried commit after the sweep = %+v, %v; want committed", info, err)
		}
		if got := readFresh(t, m, "k"); got != "v" {
			t.Errorf("read k = %q, want v", got)
		}
	})
}
