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
			c := x.Choose(tt.reads, tt.key)
			if !c.Found || c.Version.TS != tt.wantTS || c.Tombstone != tt.wantTomb {
				t.Errorf("Choose = %+v, want ts %d tombstone %v", c, tt.wantTS, tt.wantTomb)
			}
		})
	}
}

// TestCollectNeverDropsWhatAReaderNeeds interleaves commits, readers and collections at
// random, and checks every read against an index that never collects: both must choose
// the same version, and a chosen version must still be in the collecting index.
func TestCollectNeverDropsWhatAReaderNeeds(t *testing.T) {
	keys := []string{"a", "b", "c", "d"}
	for seed := int64(0); seed < 300; seed++ {
		rng := rand.New(rand.NewSource(seed))
		gc, ref := New(), New()
		type reader struct {
			begin uint64
			reads map[string]ra.Version
		}
		var readers []*reader
		dropped := map[string]bool{} // key + version
		ts := uint64(0)
		for step := 0; step < 300; step++ {
			switch op := rng.Intn(10); {
			case op < 4: // commit, sometimes with an older timestamp than the newest
				ts += 2
				v := ts
				if rng.Intn(4) == 0 && v > 3 {
					v -= 3
				}
				var ws []string
				for _, k := range keys {
					if rng.Intn(2) == 0 {
						ws = append(ws, k)
					}
				}
				if len(ws) == 0 {
					ws = []string{"a"}
				}
				r := rec(v, ws...)
				r.Version.Txn = fmt.Sprintf("t%d-%d", v, step)
				gc.Apply(r)
				ref.Apply(r)
			case op < 5:
				readers = append(readers, &reader{begin: gc.Seq() + 1, reads: map[string]ra.Version{}})
			case op < 8 && len(readers) > 0:
				rd := readers[rng.Intn(len(readers))]
				k := keys[rng.Intn(len(keys))]
				if _, done := rd.reads[k]; done {
					continue
				}
				got, want := gc.Choose(rd.reads, k), ref.Choose(rd.reads, k)
				if got != want {
					t.Fatalf("seed %d step %d: collecting index chose %+v, reference %+v", seed, step, got, want)
				}
				if got.Found && dropped[k+"@"+got.Version.String()] {
					t.Fatalf("seed %d: chose dropped version %v", seed, got.Version)
				}
				rd.reads[k] = got.Version
			case op < 9 && len(readers) > 0:
				i := rng.Intn(len(readers))
				readers = append(readers[:i], readers[i+1:]...)
			default:
				horizon := gc.Seq() + 1
				for _, rd := range readers {
					horizon = min(horizon, rd.begin)
				}
				for _, d := range gc.Collect(horizon).Versions {
					dropped[d.Key+"@"+d.Version.String()] = true
				}
			}
		}
	}
}

func TestCollectFreesSupersededTxns(t *testing.T) {
	x := New()
	for ts := uint64(1); ts <= 1000; ts++ {
		x.Apply(rec(ts, fmt.Sprintf("k%d", ts%10), fmt.Sprintf("k%d", (ts+1)%10)))
	}
	g := x.Collect(x.Seq() + 1)
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
	if g := y.Collect(begin); len(g.Versions) != 0 {
		t.Errorf("Collect(%d) dropped %v, want nothing: the reader may still read version 1", begin, g.Versions)
	}
	if g := y.Collect(y.Seq() + 1); len(g.Versions) != 2 {
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
