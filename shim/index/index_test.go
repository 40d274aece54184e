package index

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/aft-shim/aft/shim/ra"
	"github.com/aft-shim/aft/shim/record"
)

func rec(ts uint64, keys ...string) *record.Record {
	r := &record.Record{Version: ra.Version{TS: ts, Txn: fmt.Sprintf("t%03d", ts)}}
	for _, k := range keys {
		tomb := false
		if k[0] == '-' {
			k, tomb = k[1:], true
		}
		r.Writes = append(r.Writes, record.Write{Key: k, Tombstone: tomb})
	}
	record.SortWrites(r.Writes)
	return r
}

func TestApplyChoose(t *testing.T) {
	x := New()
	for _, r := range []*record.Record{rec(1, "a", "b"), rec(3, "a", "-b"), rec(2, "b")} {
		if !x.Apply(r) {
			t.Fatalf("Apply(%v) = false", r.Version)
		}
	}
	if x.Apply(rec(1, "a", "b")) {
		t.Error("second Apply of one txn = true, want false")
	}
	tests := []struct {
		name     string
		reads    map[string]ra.Version
		key      string
		wantTS   uint64
		wantTomb bool
	}{
		{"newest of b is a delete", nil, "b", 3, true},
		{"a after reading b at 2", map[string]ra.Version{"b": rec(2).Version}, "a", 1, false},
		{"b after reading a at 1", map[string]ra.Version{"a": rec(1).Version}, "b", 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := x.Choose(readsOf(tt.reads), tt.key)
			if !c.Found || c.Version.TS != tt.wantTS || c.Tombstone != tt.wantTomb {
				t.Errorf("Choose = %+v, want ts %d tombstone %v", c, tt.wantTS, tt.wantTomb)
			}
		})
	}
}

// readsOf returns m as ra.Reads.
func readsOf(m map[string]ra.Version) *ra.Reads {
	var r ra.Reads
	for k, v := range m {
		r.Add(k, v)
	}
	return &r
}

// TestCollectNeverDropsWhatAReaderNeeds interleaves commits (deletes among them),
// readers and collections at random, and checks every read against an index that never
// collects: both must answer the same, and a chosen version must still be in the collecting
// index. The one allowed difference: a key whose last version, a delete, the collecting
// index removed is not found there with no version, where the reference finds the delete.
func TestCollectNeverDropsWhatAReaderNeeds(t *testing.T) {
	keys := []string{"a", "b", "c", "d", "e", "f"}
	removed := 0
	for seed := int64(0); seed < 1000; seed++ {
		rng := rand.New(rand.NewSource(seed))
		gc, ref := New(), New()
		type reader struct {
			begin       uint64
			got, refGot ra.Reads            // what it read from each index
			from        map[ra.Version]bool // the versions it read (from the reference)
		}
		var readers []*reader
		dropped := map[string]bool{} // key + version
		const lag = 11               // how much older than the newest a commit's version may be
		ts := uint64(2 * lag)
		for step := 0; step < 300; step++ {
			switch op := rng.Intn(10); {
			case op < 4: // commit, sometimes with an older timestamp than the newest
				ts += 2
				v := ts
				if rng.Intn(4) == 0 {
					v -= uint64(1 + rng.Intn(lag))
				}
				var ws []string
				for _, i := range rng.Perm(len(keys))[:1+rng.Intn(3)] {
					if rng.Intn(3) == 0 {
						ws = append(ws, "-"+keys[i]) // a delete
					} else {
						ws = append(ws, keys[i])
					}
				}
				r := rec(v, ws...)
				r.Version.Txn = fmt.Sprintf("t%d-%d", v, step)
				gc.Apply(r)
				ref.Apply(r)
			case op < 5:
				readers = append(readers, &reader{begin: gc.Seq() + 1, from: map[ra.Version]bool{}})
			case op < 8 && len(readers) > 0:
				rd := readers[rng.Intn(len(readers))]
				k := keys[rng.Intn(len(keys))]
				if _, done := rd.got.Get(k); done {
					continue
				}
				got, want := gc.Choose(&rd.got, k), ref.Choose(&rd.refGot, k)
				// A key may read as never written only to a reader that read no write of a
				// transaction that wrote it: to any other, that would look fractured.
				named := false
				for v := range rd.from {
					if found, _ := ref.txns[v.Txn].wrote(k); found {
						named = true
					}
				}
				if got != want && !(!got.Found && got.Skipped == want.Skipped && want.Tombstone && !named) {
					t.Fatalf("seed %d step %d: collecting index chose %+v, reference %+v", seed, step, got, want)
				}
				if got != want {
					removed++
				}
				if got.Found && dropped[k+"@"+got.Version.String()] {
					t.Fatalf("seed %d: chose dropped version %v", seed, got.Version)
				}
				rd.got.Add(k, got.Version)
				rd.refGot.Add(k, want.Version)
				if want.Found {
					rd.from[want.Version] = true
				}
			case op < 9 && len(readers) > 0:
				i := rng.Intn(len(readers))
				readers = append(readers[:i], readers[i+1:]...)
			default:
				horizon := gc.Seq() + 1
				for _, rd := range readers {
					horizon = min(horizon, rd.begin)
				}
				// Commits to come have versions of ts+2-lag or newer.
				for _, d := range gc.Collect(horizon, ts+2-lag).Versions {
					dropped[d.Key+"@"+d.Version.String()] = true
				}
			}
		}
	}
	t.Logf("%d reads of a removed key", removed)
	if removed == 0 {
		t.Error("no read found a key the collecting index removed: the test does not exercise deletes")
	}
}

func TestCollectFreesSupersededTxns(t *testing.T) {
	x := New()
	for ts := uint64(1); ts <= 1000; ts++ {
		x.Apply(rec(ts, fmt.Sprintf("k%d", ts%10), fmt.Sprintf("k%d", (ts+1)%10)))
	}
	g := x.Collect(x.Seq()+1, 0)
	// Transaction 1000 is the newest of both k0 and k1, so nine transactions stay.
	if got, want := x.Stats(), (Stats{Txns: 9, Keys: 10, Versions: 10}); got != want {
		t.Errorf("after Collect: %+v, want %+v", got, want)
	}
	if len(g.Txns) != 991 || len(g.Versions) != 1990 {
		t.Errorf("Collect dropped %d txns and %d versions, want 991 and 1990", len(g.Txns), len(g.Versions))
	}
	// A reader begun early holds everything applied after it.
	y := New()
	y.Apply(rec(1, "a"))
	begin := y.Seq() + 1
	y.Apply(rec(2, "a"))
	y.Apply(rec(3, "a"))
	if g := y.Collect(begin, 0); len(g.Versions) != 0 {
		t.Errorf("Collect(%d) dropped %v, want nothing: the reader may still read version 1", begin, g.Versions)
	}
	if g := y.Collect(y.Seq()+1, 0); len(g.Versions) != 2 {
		t.Errorf("Collect with no reader dropped %d versions, want 2", len(g.Versions))
	}
}

func TestCache(t *testing.T) {
	c := NewCache(4 * (100 + cacheOverhead + 2))
	for i := 0; i < 10; i++ {
		c.Add(fmt.Sprintf("k%d", i), make([]byte, 100))
	}
	if n, size := c.Size(); n != 4 || size > c.max {
		t.Errorf("Size = %d entries, %d bytes; want 4 entries within %d", n, size, c.max)
	}
	if _, ok := c.Get("k0"); ok {
		t.Error("oldest entry survived eviction")
	}
	if _, ok := c.Get("k9"); !ok {
		t.Error("newest entry missing")
	}
	c.Remove("k9")
	if _, ok := c.Get("k9"); ok {
		t.Error("removed entry still cached")
	}
}

func TestKeys(t *testing.T) {
	x := New()
	x.Apply(rec(1, "dlq/a", "dlq/b", "other"))
	x.Apply(rec(2, "-dlq/b", "dlq/c"))
	tests := []struct {
		prefix, after string
		limit         int
		want          string
	}{
		{"dlq/", "", 0, "dlq/a dlq/c"},
		{"dlq/", "dlq/a", 0, "dlq/c"},
		{"", "", 2, "dlq/a dlq/c"},
		{"", "", 0, "dlq/a dlq/c other"},
		{"nope", "", 0, ""},
	}
	for _, tt := range tests {
		if got := strings.Join(x.Keys(tt.prefix, tt.after, tt.limit), " "); got != tt.want {
			t.Errorf("Keys(%q, %q, %d) = %q, want %q", tt.prefix, tt.after, tt.limit, got, tt.want)
		}
	}
}

// all is a settled timestamp above every version of these tests.
const all = ^uint64(0)

func TestDeletedKeyLeaves(t *testing.T) {
	x := New()
	x.Apply(rec(1, "k"))
	x.Apply(rec(2, "-k"))
	g := x.Collect(x.Seq()+1, all)
	if got := x.Stats(); got != (Stats{}) {
		t.Errorf("after Collect with no reader: %+v, want an empty index", got)
	}
	want := []Dropped{{Key: "k", Version: rec(1).Version}, {Key: "k", Version: rec(2).Version, Tombstone: true}}
	if fmt.Sprint(g.Versions) != fmt.Sprint(want) || len(g.Txns) != 2 {
		t.Errorf("Collect dropped %v and %d txns, want %v and 2", g.Versions, len(g.Txns), want)
	}
	if c := x.Choose(&ra.Reads{}, "k"); c.Found {
		t.Errorf("Choose(k) = %+v after its delete left, want not found", c)
	}
	// Written again, it is back.
	x.Apply(rec(3, "k"))
	if c := x.Choose(&ra.Reads{}, "k"); !c.Found || c.Tombstone || c.Version.TS != 3 {
		t.Errorf("Choose(k) = %+v, want version 3", c)
	}
}

func TestDeleteStaysWhileSomeoneMayNeedIt(t *testing.T) {
	x := New()
	x.Apply(rec(1, "k", "l"))
	begin := x.Seq() + 1 // a reader begun before the delete, which read l at 1
	var reads ra.Reads
	reads.Add("l", x.Choose(&reads, "l").Version)
	x.Apply(rec(2, "-k", "l"))
	x.Collect(begin, all)
	if c := x.Choose(&reads, "k"); !c.Found || c.Tombstone || c.Version.TS != 1 {
		t.Errorf("reader begun before the delete: Choose(k) = %+v, want version 1", c)
	}
	x.Apply(rec(3, "l"))
	// Not settled: a commit older than the delete may still be applied.
	x.Collect(x.Seq()+1, 2)
	if got := x.Stats(); got != (Stats{Txns: 2, Keys: 2, Versions: 2}) {
		t.Errorf("delete not older than settled: %+v, want it kept", got)
	}
	x.Collect(x.Seq()+1, 3)
	if got := x.Stats(); got != (Stats{Txns: 1, Keys: 1, Versions: 1}) {
		t.Errorf("delete settled: %+v, want only l at 3", got)
	}
}

// TestDeleteOfAPartlyReadTxn: a reader that read another write of the delete's
// transaction gets the delete itself, with its version, however often Collect runs.
func TestDeleteOfAPartlyReadTxn(t *testing.T) {
	x := New()
	x.Apply(rec(1, "k"))
	x.Apply(rec(2, "-k", "m"))
	x.Collect(x.Seq()+1, all)
	var reads ra.Reads
	m := x.Choose(&reads, "m")
	reads.Add("m", m.Version)
	x.Apply(rec(3, "m")) // m of txn 2 superseded, but the reader holds the horizon
	x.Collect(x.Seq(), all)
	if c := x.Choose(&reads, "k"); !c.Found || !c.Tombstone || c.Version != m.Version {
		t.Errorf("Choose(k) after reading m at %v = %+v, want the delete at that version", m.Version, c)
	}
	x.Collect(x.Seq()+1, all) // the reader is done: txn 2 and key k go
	if got := x.Stats(); got != (Stats{Txns: 1, Keys: 1, Versions: 1}) {
		t.Errorf("after the reader: %+v, want only m at 3", got)
	}
}

// TestDeleteStaysWhileItsKeyIsNamed: a delete stays while a transaction in the index wrote
// its key: a reader that read that transaction's other write gets the delete, with its
// version, not "never written".
func TestDeleteStaysWhileItsKeyIsNamed(t *testing.T) {
	x := New()
	x.Apply(rec(1, "k", "l"))
	x.Apply(rec(2, "-k"))
	x.Collect(x.Seq()+1, all)
	var reads ra.Reads
	l := x.Choose(&reads, "l")
	reads.Add("l", l.Version)
	if c := x.Choose(&reads, "k"); !c.Found || !c.Tombstone || c.Version.TS != 2 {
		t.Errorf("Choose(k) after reading l at %v = %+v, want the delete at 2", l.Version, c)
	}
	x.Apply(rec(3, "l"))
	x.Collect(x.Seq()+1, all) // txn 1 leaves, and so can the delete
	if got := x.Stats(); got != (Stats{Txns: 1, Keys: 1, Versions: 1}) {
		t.Errorf("after txn 1 left: %+v, want only l at 3", got)
	}
}

// TestCollectAtAStalledHorizon: a long transaction holds the horizon while versions pile up
// above it; a collection at that horizon looks at nothing, instead of walking them all under
// the index lock.
func TestCollectAtAStalledHorizon(t *testing.T) {
	x := New()
	x.Apply(rec(1, "k"))
	horizon := x.Seq() + 1
	const n = 10_000
	for ts := uint64(2); ts < n; ts++ {
		x.Apply(rec(ts, "k", fmt.Sprintf("k%d", ts%100)))
	}
	x.Collect(horizon, all)
	before := x.visited
	if g := x.Collect(horizon, all); len(g.Versions) != 0 {
		t.Fatalf("Collect at the stalled horizon dropped %d versions", len(g.Versions))
	}
	if v := x.visited - before; v > 0 {
		t.Errorf("a second Collect at the stalled horizon looked at %d entries, want 0", v)
	}
	before = x.visited
	g := x.Collect(x.Seq()+1, all)
	if v := x.visited - before; v > 8*n {
		t.Errorf("Collect of %d versions looked at %d entries, want O(versions)", len(g.Versions), v)
	}
	if got := x.Stats(); got != (Stats{Txns: 100, Keys: 101, Versions: 101}) {
		t.Errorf("after the horizon moved: %+v", got)
	}
}
