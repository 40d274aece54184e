package txn

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aft-shim/aft/shim/lease"
	"github.com/aft-shim/aft/shim/record"
	"github.com/aft-shim/aft/shim/store"
	"github.com/aft-shim/aft/shim/store/faults"
	"github.com/aft-shim/aft/shim/store/mem"
)

// failFirst fails the first lists Lists and gets Gets with an injected fault, as a store
// that is restarting does, and counts every List.
type failFirst struct {
	store.Store
	lists, gets atomic.Int64 // failures left
	listed      atomic.Int64
	onList      func() // called at each List, before it fails or runs
}

func (f *failFirst) List(ctx context.Context, prefix string, withValues bool, fn func(string, []byte) error) error {
	f.listed.Add(1)
	if f.onList != nil {
		f.onList()
	}
	if f.lists.Add(-1) >= 0 {
		return faults.ErrInjected
	}
	return f.Store.List(ctx, prefix, withValues, fn)
}

func (f *failFirst) Get(ctx context.Context, key string) ([]byte, error) {
	if f.gets.Add(-1) >= 0 {
		return nil, faults.ErrInjected
	}
	return f.Store.Get(ctx, key)
}

// logBuffer is a slog logger into a buffer, safe for concurrent use.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// Recovery outlasts a store that fails its first calls, and says what it waits for.
func TestNewRetriesTransientStoreErrors(t *testing.T) {
	inner := mem.New()
	m0 := newManager(t, inner, Config{})
	commitAll(t, m0, "k", "v")
	m0.Close()

	st := &failFirst{Store: inner}
	st.lists.Store(3)
	var log logBuffer
	m := newManager(t, st, Config{Log: log.logger()})
	if got := readString(t, m, begin(t, m, ""), "k"); got != "v" {
		t.Errorf("after recovery read k = %q, want v", got)
	}
	if n := st.listed.Load(); n != 4 {
		t.Errorf("recovery listed %d times, want 3 failures and 1 success", n)
	}
	out := log.String()
	for _, want := range []string{"list commit records (recovery)", "next try in", faults.ErrInjected.Error(), "try=3"} {
		if !strings.Contains(out, want) {
			t.Errorf("log does not say %q:\n%s", want, out)
		}
	}
}

// The lease's store calls are retried too.
func TestLeaseAcquireRetriesTransientStoreErrors(t *testing.T) {
	inner := mem.New()
	if _, err := lease.Acquire(ctx, inner, lease.Options{Node: "n1"}); err != nil { // left by a crash
		t.Fatal(err)
	}
	st := &failFirst{Store: inner}
	st.gets.Store(2)
	newManager(t, st, Config{Node: "n1"})
}

// What waiting cannot fix fails at once.
func TestNewFailsAtOnceOnDamagedRecord(t *testing.T) {
	st := &failFirst{Store: mem.New()}
	st.Put(ctx, []store.Item{{Key: record.RecordKey("", "00000000000000000000000000000001"), Value: []byte("garbage")}})
	_, err := New(ctx, st, Config{})
	if err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("New over a damaged record: %v, want an error naming it", err)
	}
	if n := st.listed.Load(); n != 1 {
		t.Errorf("listed %d times, want 1: a damaged record is not retried", n)
	}
}

// Retries end with the context (SIGTERM), with the last store error in the answer.
func TestNewGivesUpWhenContextEnds(t *testing.T) {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st := &failFirst{Store: mem.New()}
	st.lists.Store(1 << 30)
	st.onList = func() {
		if st.listed.Load() == 2 {
			cancel()
		}
	}
	_, err := New(cctx, st, Config{})
	if !errors.Is(err, context.Canceled) || !errors.Is(err, faults.ErrInjected) {
		t.Fatalf("New with the context cancelled while retrying: %v, want context.Canceled and the store's error", err)
	}
}

// A second node on a store is refused, naming the first; the first, restarted after a
// crash, gets in at once; another node gets in once the lease expired, or at once after
// the holder's Close.
func TestLeaseOneNodePerStore(t *testing.T) {
	st := solo{mem.New()} // a store no other node can share: see shared_test.go for those
	clk := newFakeClock()
	m1, err := New(ctx, st, Config{Node: "node-1", NodeAddr: "10.0.0.1:7654", Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	commitAll(t, m1, "k", "v")

	_, err = New(ctx, st, Config{Node: "node-2", Now: clk.Now})
	var held *lease.HeldError
	if !errors.As(err, &held) || !errors.Is(err, lease.ErrHeld) {
		t.Fatalf("second node: %v, want lease.ErrHeld", err)
	}
	for _, want := range []string{`"node-1"`, "10.0.0.1:7654", "holds its lease until", "in 15s"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not say %q", err, want)
		}
	}

	// kill -9 of node-1: its lease stays. Stop its loops without releasing it.
	close(m1.stop)
	m1.wg.Wait()
	if _, err := st.Get(ctx, record.LeaseKey); err != nil {
		t.Fatalf("lease record after the crash: %v", err)
	}
	m1b, err := New(ctx, st, Config{Node: "node-1", Now: clk.Now})
	if err != nil {
		t.Fatalf("node-1 restarted after a crash: %v, want in at once", err)
	}
	if got := readString(t, m1b, begin(t, m1b, ""), "k"); got != "v" {
		t.Errorf("restarted node reads k = %q", got)
	}
	// Crash again; another node waits for the lease to expire.
	close(m1b.stop)
	m1b.wg.Wait()
	if _, err := New(ctx, st, Config{Node: "node-2", Now: clk.Now}); !errors.Is(err, lease.ErrHeld) {
		t.Fatalf("node-2 before the lease expired: %v, want ErrHeld", err)
	}
	clk.advance(lease.DefaultTime + time.Second)
	m2 := newManager(t, st, Config{Node: "node-2", Now: clk.Now})
	if got := readString(t, m2, begin(t, m2, ""), "k"); got != "v" {
		t.Errorf("node-2 reads k = %q", got)
	}
	// A clean stop releases the lease: the next node needs no wait.
	m2.Close()
	newManager(t, st, Config{Node: "node-3", Now: clk.Now})
}

// A node whose lease another node took over stops: no begin, no deletion.
func TestLeaseLost(t *testing.T) {
	st := solo{mem.New()} // a store no other node can share: see shared_test.go for those
	m := newManager(t, st, Config{Node: "node-1"})
	// node-2 took the lease over while node-1 was cut off from the store.
	if _, err := lease.Acquire(ctx, st, lease.Options{Node: "node-2", Now: func() time.Time { return time.Now().Add(time.Hour) }}); err != nil {
		t.Fatal(err)
	}
	m.renewLease()
	select {
	case <-m.Lost():
	default:
		t.Fatal("Lost not closed after the lease was taken over")
	}
	if _, err := m.Begin(ctx, BeginOptions{}); !errors.Is(err, ErrClosed) {
		t.Errorf("begin after the lease was lost: %v, want ErrClosed", err)
	}
	if err := m.Sweep(ctx); err == nil {
		t.Error("sweep ran after the lease was lost")
	}
	m.Close()
	b, err := st.Get(ctx, record.LeaseKey)
	if err != nil || !strings.Contains(string(b), "node-2") {
		t.Errorf("Close removed the lease of the node that took it over: %q, %v", b, err)
	}
}

// The sweep and recovery leave the lease record alone.
func TestSweepKeepsLease(t *testing.T) {
	st := solo{mem.New()} // a store no other node can share: see shared_test.go for those
	clk := newFakeClock()
	m := newManager(t, st, Config{Node: "node-1", Now: clk.Now, OrphanGrace: time.Minute, CommitTimeout: time.Second})
	commitAll(t, m, "k", "v")
	clk.advance(10 * time.Second) // within the lease; far past nothing else
	if err := m.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, record.LeaseKey); err != nil {
		t.Errorf("lease after the sweep: %v", err)
	}
}

func TestMaxRunning(t *testing.T) {
	m := newManager(t, mem.New(), Config{MaxRunning: 3})
	ids := []string{begin(t, m, ""), begin(t, m, "a"), begin(t, m, "")}
	if _, err := m.Begin(ctx, BeginOptions{}); !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "--max-running") {
		t.Fatalf("begin past the cap: %v, want ErrBusy naming --max-running", err)
	}
	mustCommit(t, m, ids[0])
	begin(t, m, "")
}

func TestMaxIdemKeys(t *testing.T) {
	m := newManager(t, mem.New(), Config{MaxRunning: 10, MaxIdemKeys: 2})
	a := begin(t, m, "a")
	begin(t, m, "b")
	if _, err := m.Begin(ctx, BeginOptions{IdemKey: "c"}); !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "--max-idem-keys") {
		t.Fatalf("begin with a third key: %v, want ErrBusy naming --max-idem-keys", err)
	}
	if info, err := m.Begin(ctx, BeginOptions{IdemKey: "a"}); err != nil || info.Attempt != 2 {
		t.Fatalf("another attempt of a tracked key: %+v, %v", info, err)
	}
	m.Abort(ctx, a)
	// "a" still has its second attempt running: still full.
	if _, err := m.Begin(ctx, BeginOptions{IdemKey: "c"}); !errors.Is(err, ErrBusy) {
		t.Fatalf("begin with a third key, all keys running: %v, want ErrBusy", err)
	}
	for _, id := range m.runningOf("a") {
		m.Abort(ctx, id)
	}
	begin(t, m, "c") // "a" has no running attempt: forgotten to make room
	if n := len(m.keys); n != 2 {
		t.Errorf("%d keys tracked, want 2", n)
	}
}

// runningOf returns the running attempts of idempotency key k.
func (m *Manager) runningOf(k string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ids []string
	for id := range m.keys[k].running {
		ids = append(ids, id)
	}
	return ids
}

// A transaction kept alive by calls is aborted once older than MaxLifetime, but never in
// the middle of a call such as a commit.
func TestMaxLifetime(t *testing.T) {
	clk := newFakeClock()
	m := newManager(t, mem.New(), Config{IdleTimeout: time.Minute, MaxLifetime: 5 * time.Minute, Now: clk.Now})
	id := begin(t, m, "")
	busy := begin(t, m, "")
	for range 5 * 60 {
		clk.advance(time.Second)
		if _, err := m.Read(ctx, id, "k"); err != nil {
			t.Fatalf("read at %v: %v", clk.Now(), err)
		}
		m.Read(ctx, busy, "k")
		m.expire()
	}
	if s, _ := m.Status(ctx, id); s.Status != Running {
		t.Fatalf("status at the lifetime = %v, want running", s.Status)
	}
	m.mu.Lock()
	bt := m.running[busy]
	m.mu.Unlock()
	bt.mu.Lock() // a call in progress on busy
	clk.advance(time.Second)
	m.Read(ctx, id, "k")
	m.expire()
	if _, err := m.Read(ctx, id, "k"); !errors.Is(err, ErrAborted) {
		t.Errorf("read past the lifetime: %v, want ErrAborted", err)
	}
	if s, _ := m.Status(ctx, busy); s.Status != Running {
		t.Errorf("transaction in a call was aborted: %v", s.Status)
	}
	bt.mu.Unlock()
	m.expire()
	if s, _ := m.Status(ctx, busy); s.Status != Aborted {
		t.Errorf("after its call ended: %v, want aborted", s.Status)
	}
}

// solo hides every optional interface of a store, store.Ordered included: a store only
// one node may use.
type solo struct{ store.Store }
