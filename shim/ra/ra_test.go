package ra

import (
	"fmt"
	"iter"
	"maps"
	"math/rand"
	"sort"
	"testing"
)

// naiveHistory is a deliberately simple history: a list of transactions and their write sets.
type naiveHistory struct {
	txns []naiveTxn
}

type naiveTxn struct {
	v      Version
	writes map[string]bool
}

func (h *naiveHistory) Versions(key string) []Version {
	var vs []Version
	for _, t := range h.txns {
		if t.writes[key] {
			vs = append(vs, t.v)
		}
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i].Less(vs[j]) })
	return vs
}

func (h *naiveHistory) Writes(v Version) iter.Seq[string] {
	for _, t := range h.txns {
		if t.v == v {
			return maps.Keys(t.writes)
		}
	}
	return func(func(string) bool) {}
}

// Wrote reports whether v's transaction wrote key.
func (h *naiveHistory) Wrote(v Version, key string) bool {
	for _, t := range h.txns {
		if t.v == v {
			return t.writes[key]
		}
	}
	return false
}

// naiveChoose is the rule written out literally from its definition, over every
// transaction, with no shortcuts.
func naiveChoose(h *naiveHistory, reads map[string]Version, key string) (Version, bool) {
	var lb Version
	for _, t := range h.txns {
		if !t.writes[key] {
			continue
		}
		for _, rv := range reads {
			if rv == t.v && lb.Less(t.v) {
				lb = t.v
			}
		}
	}
	var best Version
	for _, t := range h.txns {
		if !t.writes[key] || t.v.Less(lb) {
			continue
		}
		ok := true
		for l := range t.writes {
			if rv, read := reads[l]; read && rv.Less(t.v) {
				ok = false
			}
		}
		if ok && best.Less(t.v) {
			best = t.v
		}
	}
	if !best.IsZero() {
		return best, true
	}
	if !lb.IsZero() {
		return lb, true
	}
	return Version{}, false
}

func TestChooseCases(t *testing.T) {
	v := func(ts uint64) Version { return Version{TS: ts, Txn: fmt.Sprintf("t%d", ts)} }
	// t1 wrote a,b; t2 wrote a,b; t3 wrote b only.
	h := &naiveHistory{txns: []naiveTxn{
		{v(1), map[string]bool{"a": true, "b": true}},
		{v(2), map[string]bool{"a": true, "b": true}},
		{v(3), map[string]bool{"b": true}},
	}}
	tests := []struct {
		name  string
		reads map[string]Version
		key   string
		want  Choice
	}{
		{"first read takes newest", nil, "b", Choice{Version: v(3), Found: true}},
		{"unknown key", nil, "z", Choice{}},
		{"read a at t1: t2 of b would fracture", map[string]Version{"a": v(1)}, "b", Choice{Version: v(3), Found: true}},
		{"read b at t1: lower bound t1 and t2 invalid", map[string]Version{"b": v(1)}, "a", Choice{Version: v(1), Found: true, Skipped: 1}},
		{"read b at t3: t2 of a is valid", map[string]Version{"b": v(3)}, "a", Choice{Version: v(2), Found: true}},
		{"found nothing for b: every a is invalid", map[string]Version{"b": {}}, "a", Choice{Skipped: 2}},
		{"read b at t2: a at t2", map[string]Version{"b": v(2)}, "a", Choice{Version: v(2), Found: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Choose(h, readsOf(tt.reads), tt.key)
			if got != tt.want {
				t.Errorf("Choose(%v, %q) = %+v, want %+v", tt.reads, tt.key, got, tt.want)
			}
		})
	}
}

// TestChooseMatchesNaive compares Choose with the literal definition on random histories
// and random read sets.
func TestChooseMatchesNaive(t *testing.T) {
	all := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}
	for seed := int64(0); seed < 5000; seed++ {
		rng := rand.New(rand.NewSource(seed))
		keys := all[:2+rng.Intn(len(all)-1)]
		h := randomHistory(rng, keys, 1+rng.Intn(3*len(keys)))
		reads := map[string]Version{}
		for _, k := range keys {
			switch rng.Intn(3) {
			case 0: // unread
			case 1:
				reads[k] = Version{}
			default:
				if vs := h.Versions(k); len(vs) > 0 {
					reads[k] = vs[rng.Intn(len(vs))]
				}
			}
		}
		for _, k := range keys {
			if _, read := reads[k]; read {
				continue
			}
			got := Choose(h, readsOf(reads), k)
			wantV, wantFound := naiveChoose(h, reads, k)
			if got.Version != wantV || got.Found != wantFound {
				t.Fatalf("seed %d: Choose(%v, %q) = %+v, naive = %v %v", seed, reads, k, got, wantV, wantFound)
			}
		}
	}
}

// TestChooseNeverFractures runs readers through the rule while transactions keep
// committing between their reads, and checks every finished read set is atomic: if a read
// came from transaction T and T also wrote another key the reader read, that read is not
// older than T.
func TestChooseNeverFractures(t *testing.T) {
	keys := []string{"a", "b", "c", "d", "e", "f"}
	for seed := int64(0); seed < 2000; seed++ {
		rng := rand.New(rand.NewSource(seed))
		h := randomHistory(rng, keys, rng.Intn(4))
		next := uint64(len(h.txns) + 1)
		reads := map[string]Version{}
		var rs Reads
		for _, i := range rng.Perm(len(keys)) {
			for n := rng.Intn(3); n > 0; n-- { // concurrent commits between reads
				h.txns = append(h.txns, randomTxn(rng, keys, next))
				next++
			}
			c := Choose(h, &rs, keys[i])
			reads[keys[i]] = c.Version
			rs.Add(keys[i], c.Version)
		}
		for k, rv := range reads {
			if rv.IsZero() {
				continue
			}
			for l, lv := range reads {
				if l != k && h.Wrote(rv, l) && lv.Less(rv) {
					t.Fatalf("seed %d: fractured: read %s at %v, which also wrote %s, but read %s at %v", seed, k, rv, l, l, lv)
				}
			}
		}
	}
}

// readsOf returns m as Reads.
func readsOf(m map[string]Version) *Reads {
	var r Reads
	for k, v := range m {
		r.Add(k, v)
	}
	return &r
}

func randomHistory(rng *rand.Rand, keys []string, n int) *naiveHistory {
	h := &naiveHistory{}
	for i := 1; i <= n; i++ {
		h.txns = append(h.txns, randomTxn(rng, keys, uint64(i)))
	}
	// Commit order differs from version order: shuffle timestamps.
	rng.Shuffle(len(h.txns), func(i, j int) { h.txns[i].v, h.txns[j].v = h.txns[j].v, h.txns[i].v })
	return h
}

func randomTxn(rng *rand.Rand, keys []string, ts uint64) naiveTxn {
	w := map[string]bool{}
	for len(w) == 0 {
		for _, k := range keys {
			if rng.Intn(3) == 0 {
				w[k] = true
			}
		}
	}
	return naiveTxn{v: Version{TS: ts, Txn: fmt.Sprintf("t%03d", ts)}, writes: w}
}

func TestVersionStringOrder(t *testing.T) {
	vs := []Version{{1, "b"}, {1, "a"}, {255, "a"}, {16, "z"}, {1 << 62, "a"}}
	for _, a := range vs {
		for _, b := range vs {
			if got, want := a.String() < b.String(), a.Less(b); got != want {
				t.Errorf("%v < %v as strings = %v, as versions = %v", a, b, got, want)
			}
		}
		p, err := ParseVersion(a.String())
		if err != nil || p != a {
			t.Errorf("ParseVersion(%q) = %v, %v; want %v", a.String(), p, err, a)
		}
	}
	for _, bad := range []string{"", "x", "0000000000000000.a", "zzzzzzzzzzzzzzzz.a", "00000000000000010a"} {
		if _, err := ParseVersion(bad); err == nil {
			t.Errorf("ParseVersion(%q) succeeded, want error", bad)
		}
	}
}
