package txn

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aft-shim/aft/shim/ra"
	"github.com/aft-shim/aft/shim/record"
	"github.com/aft-shim/aft/shim/store"
	"github.com/aft-shim/aft/shim/store/faults"
	"github.com/aft-shim/aft/shim/store/mem"
)

// sharedConfig is a configuration for nodes on one store, with short times. The lease is
// renewed every second: 6s lets a renewal be starved for seconds on a busy machine before
// the node loses its lease and closes. No test here needs a lease to run out by itself
// (TestSharedExpiredLeaseStops moves a fake clock).
func sharedConfig(node string) Config {
	return Config{Node: node, SyncInterval: 10 * time.Millisecond, CommitTimeout: time.Second, SettleTime: 100 * time.Millisecond,
		OrphanGrace: 10 * time.Second, LeaseTime: 6 * time.Second, GCInterval: 10 * time.Millisecond}
}

// eventually fails the test unless cond holds within d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSharedNodesLearnEachOthersCommits(t *testing.T) {
	st := mem.New()
	a := newManager(t, st, sharedConfig("a"))
	b := newManager(t, st, sharedConfig("b"))
	if !a.Shared() || !b.Shared() {
		t.Fatal("managers with node ids on a store.Ordered are not shared")
	}
	info := commitAll(t, a, "x", "1", "y", "1")
	eventually(t, 10*time.Second, "node b learns node a's commit", func() bool {
		id := begin(t, b, "")
		defer b.Abort(ctx, id)
		return readString(t, b, id, "x") == "1" && readString(t, b, id, "y") == "1"
	})
	// A begin after the version reads it at once, with no sleeping in between.
	info = commitAll(t, b, "x", "2", "y", "2")
	got, err := a.Begin(ctx, BeginOptions{After: info.Version})
	if err != nil {
		t.Fatalf("Begin after %v on the other node: %v", info.Version, err)
	}
	if x, y := readString(t, a, got.ID, "x"), readString(t, a, got.ID, "y"); x != "2" || y != "2" {
		t.Fatalf("after Aft-After: read x=%s y=%s, want 2 and 2", x, y)
	}
	// A version no node made is not waited for long.
	v := info.Version
	v.Txn = strings.Repeat("e", 32)
	if _, err := a.Begin(ctx, BeginOptions{After: v}); !errors.Is(err, ErrNotCaughtUp) {
		t.Fatalf("Begin after a version that never committed: %v, want ErrNotCaughtUp", err)
	}
}

func TestSharedExactlyOnceAcrossNodes(t *testing.T) {
	st := mem.New()
	a := newManager(t, st, sharedConfig("a"))
	b := newManager(t, st, sharedConfig("b"))
	ia, ib := begin(t, a, "k"), begin(t, b, "k")
	mustWrite(t, a, ia, "c", "a")
	mustWrite(t, b, ib, "c", "b")
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Add(2)
	go func() { defer wg.Done(); _, errs[0] = a.Commit(ctx, ia, []byte("A")) }()
	go func() { defer wg.Done(); _, errs[1] = b.Commit(ctx, ib, []byte("B")) }()
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Fatalf("two attempts of one key on two nodes: commit errors %v and %v, want exactly one to commit", errs[0], errs[1])
	}
	winner, result := ia, "A"
	if errs[0] != nil {
		winner, result = ib, "B"
	}
	for _, m := range []*Manager{a, b} {
		info, err := m.Begin(ctx, BeginOptions{IdemKey: "k"})
		if err != nil || info.Status != Committed || info.ID != winner || string(info.Result) != result {
			t.Fatalf("begin with the committed key: %+v, %v; want the winner %s with result %s", info, err, winner, result)
		}
	}
}

// TestSharedNoFracturedReads overwrites two keys together on two nodes while readers on
// both check that they always read them at one commit, and that each node learns the
// other's commits.
func TestSharedNoFracturedReads(t *testing.T) {
	st, _ := faults.Wrap(mem.New(), faults.Options{Latency: 200 * time.Microsecond})
	nodes := []*Manager{newManager(t, st, sharedConfig("a")), newManager(t, st, sharedConfig("b")), newManager(t, st, sharedConfig("c"))}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	fail := func(s string) {
		mu.Lock()
		failures = append(failures, s)
		mu.Unlock()
	}
	for i, m := range nodes {
		wg.Add(2)
		go func() { // writer
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				v := fmt.Sprintf("%d-%d", i, n)
				info, err := m.Begin(ctx, BeginOptions{})
				if err != nil {
					fail(err.Error())
					return
				}
				_ = m.Write(info.ID, "p", []byte(v))
				_ = m.Write(info.ID, "q", []byte(v))
				if _, err := m.Commit(ctx, info.ID, nil); err != nil {
					fail(err.Error())
					return
				}
			}
		}()
		go func() { // reader
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				info, err := m.Begin(ctx, BeginOptions{})
				if err != nil {
					fail(err.Error())
					return
				}
				p, err1 := m.Read(ctx, info.ID, "p")
				q, err2 := m.Read(ctx, info.ID, "q")
				_, _ = m.Abort(ctx, info.ID)
				if err := errors.Join(err1, err2); err != nil {
					fail(err.Error())
					return
				}
				if string(p.Value) != string(q.Value) {
					fail(fmt.Sprintf("node %d fractured read: p=%s q=%s", i, p.Value, q.Value))
				}
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d failures, first: %s", len(failures), failures[0])
	}
	// Once the writes stop, every node reads the same, newest, commit.
	eventually(t, 10*time.Second, "the nodes converge on one value", func() bool {
		var vals []string
		for _, m := range nodes {
			id := begin(t, m, "")
			vals = append(vals, readString(t, m, id, "p")+"/"+readString(t, m, id, "q"))
			_, _ = m.Abort(ctx, id)
		}
		return vals[0] == vals[1] && vals[1] == vals[2]
	})
}

// TestSharedGarbageWaitsForEveryNode checks that a version superseded on one node stays
// in the store while another node's transaction may read it, and goes once it ended.
func TestSharedGarbageWaitsForEveryNode(t *testing.T) {
	st := mem.New()
	a := newManager(t, st, sharedConfig("a"))
	b := newManager(t, st, sharedConfig("b"))
	first := commitAll(t, a, "g", "old")
	eventually(t, 10*time.Second, "b learns the first commit", func() bool { return b.idx.Has(first.Version.Txn) })
	reader := begin(t, b, "") // holds its horizon: may read "old"
	second := commitAll(t, a, "g", "new")
	oldKey := record.VersionKey("g", first.Version)
	// Long enough for several collections and publications.
	time.Sleep(3 * time.Second)
	if _, err := st.Get(ctx, oldKey); err != nil {
		t.Fatalf("the superseded version was removed while a transaction on another node could read it: %v", err)
	}
	if got := readString(t, b, reader, "g"); got != "old" && got != "new" {
		t.Fatalf("read %q", got)
	}
	if _, err := b.Abort(ctx, reader); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the superseded version leaves the store once no node can read it", func() bool {
		_, err := st.Get(ctx, oldKey)
		return errors.Is(err, store.ErrNotFound)
	})
	_ = second
}

// On a shared store, one identity runs once: a node that starts with the identity of a
// live one is taken for it, restarted, and the old process stops at its next renewal.
func TestSharedNodeIdentityOnce(t *testing.T) {
	st := mem.New()
	a1 := newManager(t, st, sharedConfig("a"))
	newManager(t, st, sharedConfig("a"))
	a1.renewLease()
	select {
	case <-a1.Lost():
	default:
		t.Fatal("the older process of node a did not stop when a newer one took its lease")
	}
	b := newManager(t, st, sharedConfig("b"))
	eventually(t, 10*time.Second, "b sees both nodes live", func() bool { return len(b.Nodes()) == 2 })
}

// A node that finds its lease expired when it renews it (it was paused, or cut off from
// the store, for longer than the lease) stops taking transactions: the others may have
// removed what it could read.
func TestSharedExpiredLeaseStops(t *testing.T) {
	clk := newFakeClock()
	cfg := sharedConfig("a")
	cfg.Now = clk.Now
	m := newManager(t, mem.New(), cfg)
	clk.advance(cfg.LeaseTime + time.Second)
	m.renewLease()
	select {
	case <-m.Lost():
	default:
		t.Fatal("Lost not closed after the lease expired unrenewed")
	}
	if _, err := m.Begin(ctx, BeginOptions{}); !errors.Is(err, ErrClosed) {
		t.Errorf("begin after the lease expired: %v, want ErrClosed", err)
	}
}

// The leading node trims the commit log once every live node has settled past it, and
// marks how far; commits keep flowing between the nodes after it.
func TestSharedLogTrimmed(t *testing.T) {
	st := mem.New()
	a := newManager(t, st, sharedConfig("a"))
	b := newManager(t, st, sharedConfig("b"))
	commitAll(t, a, "t", "1")
	logKeys := func() int {
		n := 0
		_ = st.List(ctx, record.LogPrefix, false, func(k string, _ []byte) error {
			if !strings.HasPrefix(k, record.NodesDir) {
				n++
			}
			return nil
		})
		return n
	}
	if logKeys() == 0 {
		t.Fatal("a commit on a shared store wrote no log key")
	}
	eventually(t, 20*time.Second, "the log of the first commit is trimmed", func() bool { return logKeys() == 0 })
	if _, err := st.Get(ctx, record.TrimKey); err != nil {
		t.Fatalf("no trim mark: %v", err)
	}
	info := commitAll(t, b, "t", "2")
	if _, err := a.Begin(ctx, BeginOptions{After: info.Version}); err != nil {
		t.Fatalf("after a trim, a commit still reaches the other node: %v", err)
	}
}

// Session order is causal: a transaction begun after V2 sees V2 and the commits its
// session saw before, even on a node that learnt V2 by a push and the earlier one not at
// all (its pusher died, say).
func TestSharedAfterIsCausal(t *testing.T) {
	st := mem.New()
	slow := func(node string) Config {
		c := sharedConfig(node)
		c.SyncInterval = time.Hour // no poll unless a begin asks for one
		return c
	}
	a, b, c := newManager(t, st, slow("a")), newManager(t, st, slow("b")), newManager(t, st, slow("c"))
	v1 := commitAll(t, a, "x", "1").Version
	info, err := b.Begin(ctx, BeginOptions{After: v1})
	if err != nil {
		t.Fatal(err)
	}
	if got := readString(t, b, info.ID, "x"); got != "1" {
		t.Fatalf("b after v1 reads x=%s", got)
	}
	mustWrite(t, b, info.ID, "y", "2")
	v2 := mustCommit(t, b, info.ID).Version
	// c learns v2 as a push would bring it, and nothing else.
	rec, err := st.Get(ctx, record.RecordKey("", v2.Txn))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Learn(ctx, rec, v2.TS); err != nil {
		t.Fatal(err)
	}
	got, err := c.Begin(ctx, BeginOptions{After: v2})
	if err != nil {
		t.Fatal(err)
	}
	if x, y := readString(t, c, got.ID, "x"), readString(t, c, got.ID, "y"); x != "1" || y != "2" {
		t.Fatalf("c, begun after v2 (which b committed having read v1), reads x=%s y=%s, want 1 and 2", x, y)
	}
}

// A read-only commit stores nothing, so no node can learn it from the store: a begin on
// another node after its version waits for one read of the commit log (which brings the
// commits it read), not for the log to settle past it, minutes with the default grace.
func TestSharedAfterReadOnly(t *testing.T) {
	st := mem.New()
	a, b := newManager(t, st, sharedConfig("a")), newManager(t, st, sharedConfig("b"))
	v1 := commitAll(t, a, "x", "1").Version
	info, err := b.Begin(ctx, BeginOptions{After: v1})
	if err != nil {
		t.Fatal(err)
	}
	if got := readString(t, b, info.ID, "x"); got != "1" {
		t.Fatalf("b after v1 reads x=%s", got)
	}
	ro := mustCommit(t, b, info.ID)
	if st, err := b.Status(ctx, info.ID); err != nil || st.Version != ro.Version {
		t.Errorf("status of the read-only commit: %+v %v, want the version its commit answered, %v", st, err, ro.Version)
	}
	c := newManager(t, st, sharedConfig("c"))
	got, err := c.Begin(ctx, BeginOptions{After: ro.Version})
	if err != nil {
		t.Fatalf("Begin on another node after a read-only commit's version %v: %v", ro.Version, err)
	}
	if x := readString(t, c, got.ID, "x"); x != "1" {
		t.Fatalf("c, begun after a read-only commit that read x=1, reads x=%s", x)
	}
	// The mark of a read-only version does not make a version no node made pass.
	forged := ro.Version
	forged.Txn = strings.Repeat("e", 32)
	if _, err := c.Begin(ctx, BeginOptions{After: forged}); !errors.Is(err, ErrNotCaughtUp) {
		t.Fatalf("Begin after a version that never committed: %v, want ErrNotCaughtUp", err)
	}
}

// On a shared store the leading node (the smallest id) sweeps the data versions that no
// record names, whichever node wrote them; the other nodes leave the sweep to it.
func TestSharedLeaderSweepsOrphans(t *testing.T) {
	st := mem.New()
	a := newManager(t, st, sharedConfig("a"))
	b := newManager(t, st, sharedConfig("b"))
	eventually(t, 10*time.Second, "both nodes know who leads", func() bool { return len(a.Nodes()) == 2 && len(b.Nodes()) == 2 })
	// A data version of a commit that never wrote its record: its node died half way.
	old := uint64(time.Now().Add(-time.Hour).UnixNano())
	orphan := record.VersionKey("o", ra.Version{TS: old, Txn: strings.Repeat("d", 32)})
	if err := st.Put(ctx, []store.Item{{Key: orphan, Value: []byte("half")}}); err != nil {
		t.Fatal(err)
	}
	kept := commitAll(t, b, "k", "v") // a commit of the other node: not an orphan
	if err := b.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, orphan); err != nil {
		t.Fatalf("the node that does not lead swept: %v", err)
	}
	if err := a.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, orphan); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the leading node left the orphan: %v", err)
	}
	if _, err := st.Get(ctx, record.VersionKey("k", kept.Version)); err != nil {
		t.Fatalf("the sweep removed another node's committed version: %v", err)
	}
}
