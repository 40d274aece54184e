package txn

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aft-shim/aft/shim/ra"
	"github.com/aft-shim/aft/shim/record"
	"github.com/aft-shim/aft/shim/store"
	"github.com/aft-shim/aft/shim/store/mem"
)

var ctx = context.Background()

func newManager(t *testing.T, st store.Store, cfg Config) *Manager {
	t.Helper()
	m, err := New(ctx, st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func begin(t *testing.T, m *Manager, idem string) string {
	t.Helper()
	info, err := m.Begin(ctx, BeginOptions{IdemKey: idem})
	if err != nil || info.Status != Running {
		t.Fatalf("Begin(%q) = %+v, %v", idem, info, err)
	}
	return info.ID
}

func mustWrite(t *testing.T, m *Manager, id, key, val string) {
	t.Helper()
	if err := m.Write(id, key, []byte(val)); err != nil {
		t.Fatalf("Write(%s, %q): %v", id, key, err)
	}
}

func mustCommit(t *testing.T, m *Manager, id string) Info {
	t.Helper()
	info, err := m.Commit(ctx, id, nil)
	if err != nil {
		t.Fatalf("Commit(%s): %v", id, err)
	}
	return info
}

// readString returns the value read, or "<none>".
func readString(t *testing.T, m *Manager, id, key string) string {
	t.Helper()
	r, err := m.Read(ctx, id, key)
	if err != nil {
		t.Fatalf("Read(%s, %q): %v", id, key, err)
	}
	if !r.Found {
		return "<none>"
	}
	return string(r.Value)
}

func commitAll(t *testing.T, m *Manager, kv ...string) Info {
	t.Helper()
	id := begin(t, m, "")
	for i := 0; i < len(kv); i += 2 {
		mustWrite(t, m, id, kv[i], kv[i+1])
	}
	return mustCommit(t, m, id)
}

func testConcurrentAttemptsExactlyOneCommits(t *testing.T, st store.Store) {
	m := newManager(t, st, Config{})
	const n = 32
	var wg sync.WaitGroup
	var mu sync.Mutex
	winners := map[string]bool{}
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			info, err := m.Begin(ctx, BeginOptions{IdemKey: "one"})
			if err != nil || info.Status != Running {
				return
			}
			m.Write(info.ID, "counter", []byte(fmt.Sprint(i)))
			if _, err := m.Commit(ctx, info.ID, nil); err == nil {
				mu.Lock()
				winners[info.ID] = true
				mu.Unlock()
			} else if !errors.Is(err, ErrFenced) {
				t.Errorf("commit: %v", err)
			}
		}(i)
	}
	wg.Wait()
	if len(winners) != 1 {
		t.Errorf("%d attempts committed, want exactly 1", len(winners))
	}
}

func TestIdleExpiry(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	m := newManager(t, mem.New(), Config{IdleTimeout: time.Minute, Now: clock})
	id := begin(t, m, "")
	mustWrite(t, m, id, "k", "v")
	if m.buffered.Load() == 0 {
		t.Fatal("nothing buffered")
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	m.expire()
	if s, err := m.Status(ctx, id); err != nil || s.Status != Aborted {
		t.Errorf("status after idle timeout = %+v, %v; want aborted", s, err)
	}
	if got := m.buffered.Load(); got != 0 {
		t.Errorf("buffered bytes after expiry = %d, want 0", got)
	}
}

func TestLimits(t *testing.T) {
	m := newManager(t, mem.New(), Config{MaxValueSize: 10, MaxTxnBytes: 30, MaxBufferedBytes: 30})
	id := begin(t, m, "")
	var le *LimitError
	if err := m.Write(id, "k", make([]byte, 11)); !errors.As(err, &le) || le.What != "value" || le.Limit != 10 {
		t.Errorf("oversized value: %v", err)
	}
	mustWrite(t, m, id, "a", "0123456789")
	mustWrite(t, m, id, "b", "0123456789")
	if err := m.Write(id, "c", make([]byte, 10)); !errors.As(err, &le) || le.What != "transaction" {
		t.Errorf("transaction over its buffer: %v", err)
	}
	mustWrite(t, m, id, "a", "01") // overwriting shrinks the buffer
	id2 := begin(t, m, "")
	mustWrite(t, m, id2, "x", "0123456789")
	if err := m.Write(id2, "y", make([]byte, 10)); !errors.Is(err, ErrBusy) {
		t.Errorf("all buffers full: %v, want ErrBusy", err)
	}
	if _, err := m.Commit(ctx, id, make([]byte, MaxResultSize+1)); !errors.As(err, &le) || le.What != "result" {
		t.Errorf("oversized result: %v", err)
	}
	if err := m.Write(id, strings.Repeat("k", MaxKeySize+1), nil); !errors.Is(err, ErrBadKey) {
		t.Errorf("key over MaxKeySize: %v, want ErrBadKey", err)
	}
	if _, err := m.Begin(ctx, BeginOptions{IdemKey: strings.Repeat("i", MaxIdemKeySize+1)}); !errors.Is(err, ErrBadIdemKey) {
		t.Errorf("idempotency key over MaxIdemKeySize: %v, want ErrBadIdemKey", err)
	}
}

func testRecoveryAndOrphanSweep(t *testing.T, st store.Store) {
	now := time.Now()
	m, err := New(ctx, st, Config{})
	if err != nil {
		t.Fatal(err)
	}
	committed := commitAll(t, m, "k", "committed", "j", "j1")
	m.Close()
	// A crash between the data versions and the record of another commit:
	orphan := record.VersionKey("k", committed.Version)
	orphan = strings.Replace(orphan, committed.Version.Txn, "ffffffffffffffffffffffffffffffff", 1)
	st.Put(ctx, []store.Item{{Key: orphan, Value: []byte("never committed")}})

	m2 := newManager(t, st, Config{Now: func() time.Time { return now.Add(time.Hour) }})
	r := begin(t, m2, "")
	if got := readString(t, m2, r, "k"); got != "committed" {
		t.Errorf("after restart read k = %q, want committed", got)
	}
	if s, err := m2.Status(ctx, committed.ID); err != nil || s.Status != Committed {
		t.Errorf("after restart status = %+v, %v", s, err)
	}
	if err := m2.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, orphan); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("orphan version survived the sweep: %v", err)
	}
	if _, err := st.Get(ctx, record.VersionKey("k", committed.Version)); err != nil {
		t.Errorf("committed version removed by the sweep: %v", err)
	}
}

func testGarbageCollection(t *testing.T, st store.Store) {
	m := newManager(t, st, Config{})
	commitAll(t, m, "k0", "first", "k1", "first")
	// A long reader that has read k1 at "first" must keep reading k0 at "first": every newer
	// k0 was written together with a newer k1.
	keep := begin(t, m, "")
	if got := readString(t, m, keep, "k1"); got != "first" {
		t.Fatalf("read k1 = %q", got)
	}
	for i := 0; i < 500; i++ {
		commitAll(t, m, "k0", fmt.Sprint(i), "k1", fmt.Sprint(i), fmt.Sprintf("k%d", 2+i%3), fmt.Sprint(i))
	}
	m.collect()
	if got := readString(t, m, keep, "k0"); got != "first" {
		t.Errorf("long reader reads k0 = %q after collection, want first", got)
	}
	mustCommit(t, m, keep)
	m.collect()
	if s := m.idx.Stats(); s.Versions != 5 || s.Txns > 5 {
		t.Errorf("index after collection: %+v, want 5 versions", s)
	}
	var versions, records int
	st.List(ctx, "", false, func(k string, _ []byte) error {
		if strings.HasPrefix(k, record.VersionPrefix) {
			versions++
		} else {
			records++
		}
		return nil
	})
	if versions != 5 || records > 5 {
		t.Errorf("store holds %d versions and %d records, want 5 and at most 5", versions, records)
	}
}

func TestValuesAreCopiedIntoCommits(t *testing.T) {
	m := newManager(t, mem.New(), Config{})
	id := begin(t, m, "")
	val := []byte("hello")
	m.Write(id, "k", val)
	mustCommit(t, m, id)
	r := begin(t, m, "")
	got, _ := m.Read(ctx, r, "k")
	if !bytes.Equal(got.Value, []byte("hello")) {
		t.Errorf("read %q", got.Value)
	}
}

// plainStore hides the optional store.Committer, so that the manager writes data versions
// and the commit record in two steps.
type plainStore struct{ store.Store }

// TestBothCommitPaths runs the protocol tests over a store that writes a commit in one
// atomic step and over one that needs Put then Create.
func TestBothCommitPaths(t *testing.T) {
	paths := map[string]func() store.Store{
		"one-step": func() store.Store { return mem.New() },
		"two-step": func() store.Store { return plainStore{mem.New()} },
	}
	tests := map[string]func(*testing.T, store.Store){
		"RecoveryAndOrphanSweep":              testRecoveryAndOrphanSweep,
		"GarbageCollection":                   testGarbageCollection,
		"ConcurrentAttemptsExactlyOneCommits": testConcurrentAttemptsExactlyOneCommits,
	}
	for pname, open := range paths {
		for name, fn := range tests {
			t.Run(pname+"/"+name, func(t *testing.T) { fn(t, open()) })
		}
	}
}

func TestReadOnlyKeyedResultExpires(t *testing.T) {
	st := mem.New()
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	m := newManager(t, st, Config{ResultRetention: time.Hour, Now: clock})
	id := begin(t, m, "read-only")
	readString(t, m, id, "k")
	if _, err := m.Commit(ctx, id, []byte("answer")); err != nil {
		t.Fatal(err)
	}
	if b, _ := m.Begin(ctx, BeginOptions{IdemKey: "read-only"}); b.Status != Committed || string(b.Result) != "answer" {
		t.Fatalf("begin after read-only commit = %+v", b)
	}
	m.Sweep(ctx)
	if b, _ := m.Begin(ctx, BeginOptions{IdemKey: "read-only"}); b.Status != Committed {
		t.Errorf("result swept before its retention: %+v", b)
	}
	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()
	m.Sweep(ctx)
	if b, _ := m.Begin(ctx, BeginOptions{IdemKey: "read-only"}); b.Status != Running {
		t.Errorf("result kept past its retention: %+v", b)
	}
}

func TestFinishedSetBounded(t *testing.T) {
	f := newFinishedSet(3)
	var ids []string
	for i := 0; i < 5; i++ {
		id := newID()
		ids = append(ids, id)
		f.add(id, finishedTxn{status: Committed, version: rversion(uint64(i+1), id)})
	}
	f.add(ids[4], finishedTxn{status: Committed, version: rversion(5, ids[4])}) // again: no eviction
	for i, id := range ids {
		got, ok := f.get(id)
		if want := i >= 2; ok != want {
			t.Errorf("id %d remembered = %v, want %v", i, ok, want)
		}
		if ok && (got.status != Committed || got.version != rversion(uint64(i+1), id)) {
			t.Errorf("id %d = %+v", i, got)
		}
	}
	if len(f.m) != 3 {
		t.Errorf("set holds %d, want 3", len(f.m))
	}
	f.add("not-an-id", finishedTxn{status: Aborted})
	if _, ok := f.get("not-an-id"); ok {
		t.Error("a malformed id was remembered")
	}
}

func rversion(ts uint64, id string) ra.Version { return ra.Version{TS: ts, Txn: id} }
