package history

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// at returns the time n milliseconds into the test history.
func at(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }

func put(key, val string) Op { return Op{Kind: Write, Key: key, Value: []byte(val)} }
func del(key string) Op      { return Op{Kind: Delete, Key: key} }

// rd is a read of key that found val at version ver, answered at time end.
func rd(key, val, ver string, end int) Op {
	return Op{Kind: Read, Key: key, Value: []byte(val), Found: true, Version: ver, Start: at(end - 1), End: at(end)}
}

// nf is a read of key that found nothing, with version ver ("" for no header).
func nf(key, ver string, end int) Op {
	return Op{Kind: Read, Key: key, Version: ver, Start: at(end - 1), End: at(end)}
}

// own is a read of the transaction's own buffered write.
func own(key, val string) Op { return Op{Kind: Read, Key: key, Value: []byte(val), Found: true} }

func committed(id, ver string, commit int, ops ...Op) Txn {
	return Txn{ID: id, Ops: ops, Outcome: Committed, Version: ver, CommitStart: at(commit)}
}

func failed(id string, commit int, ops ...Op) Txn {
	t := Txn{ID: id, Ops: ops, Outcome: Failed}
	if commit > 0 {
		t.CommitStart = at(commit)
	}
	return t
}

func unknown(id string, commit int, ops ...Op) Txn {
	return Txn{ID: id, Ops: ops, Outcome: Unknown, CommitStart: at(commit)}
}

// reader is a read-only transaction that never asked to commit.
func reader(id string, ops ...Op) Txn { return failed(id, 0, ops...) }

func final(id string, ops ...Op) Txn {
	t := reader(id, ops...)
	t.Final = true
	return t
}

func idem(t Txn, key string) Txn { t.IdemKey = key; return t }

// Versions of the hand-made histories: they sort as their numbers do.
const (
	v0 = "0000.w0"
	v1 = "0001.w1"
	v2 = "0002.w2"
	v3 = "0003.w3"
)

// w0 and w1 are the usual writers: w0 writes a and b, w1 overwrites both later.
var (
	w0 = committed("w0", v0, 5, put("a", "a0"), put("b", "b0"))
	w1 = committed("w1", v1, 10, put("a", "a1"), put("b", "b1"))
)

type checkCase struct {
	name string
	h    []Txn
	opts Options
	want map[Kind]int
	// wantTxns and wantKeys, when set, are those of the first anomaly.
	wantTxns, wantKeys []string
}

func runCases(t *testing.T, cases []checkCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep := CheckWith(tc.h, tc.opts)
			want := tc.want
			if want == nil {
				want = map[Kind]int{}
			}
			if diff := cmp.Diff(want, rep.Counts); diff != "" {
				t.Errorf("counts (-want +got):\n%s\nreport: %s", diff, rep)
			}
			if tc.wantTxns == nil && tc.wantKeys == nil {
				return
			}
			if len(rep.Anomalies) == 0 {
				t.Fatalf("no anomaly stored")
			}
			a := rep.Anomalies[0]
			if diff := cmp.Diff(tc.wantTxns, a.Txns); tc.wantTxns != nil && diff != "" {
				t.Errorf("txns (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantKeys, a.Keys); tc.wantKeys != nil && diff != "" {
				t.Errorf("keys (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFractured(t *testing.T) {
	wa := committed("wa", v1, 10, put("a", "a1")) // writes a only
	wd := committed("wd", v1, 10, put("a", "a1"), del("b"))
	runCases(t, []checkCase{
		{
			name:     "new a then old b",
			h:        []Txn{w0, w1, reader("r", rd("a", "a1", v1, 20), rd("b", "b0", v0, 21))},
			want:     map[Kind]int{KindFractured: 1},
			wantTxns: []string{"r", "w1", "w0"},
			wantKeys: []string{"a", "b"},
		},
		{
			name:     "old b then new a",
			h:        []Txn{w0, w1, reader("r", rd("b", "b0", v0, 20), rd("a", "a1", v1, 21))},
			want:     map[Kind]int{KindFractured: 1},
			wantTxns: []string{"r", "w1", "w0"},
			wantKeys: []string{"a", "b"},
		},
		{
			name:     "not-found b that W wrote",
			h:        []Txn{w1, reader("r", rd("a", "a1", v1, 20), nf("b", "", 21))},
			want:     map[Kind]int{KindFractured: 1},
			wantTxns: []string{"r", "w1"},
			wantKeys: []string{"a", "b"},
		},
		{
			name: "not-found b before W's commit, W wrote b",
			h:    []Txn{w1, reader("r", nf("b", "", 5), rd("a", "a1", v1, 20))},
			want: map[Kind]int{KindFractured: 1},
		},
		{
			name: "old b that W deleted",
			h:    []Txn{w0, wd, reader("r", rd("a", "a1", v1, 20), rd("b", "b0", v0, 21))},
			want: map[Kind]int{KindFractured: 1},
		},
		{
			name: "tombstone read names W, old a",
			h:    []Txn{w0, wd, reader("r", nf("b", v1, 20), rd("a", "a0", v0, 21))},
			want: map[Kind]int{KindFractured: 1},
		},
		{
			name: "W's version from its commit when the read has no header",
			h:    []Txn{w0, w1, reader("r", rd("a", "a1", "", 20), rd("b", "b0", v0, 21))},
			want: map[Kind]int{KindFractured: 1},
		},
		{
			name: "unknown writer seen, its other key old",
			h: []Txn{w0, unknown("u", 10, put("a", "au"), put("b", "bu")),
				reader("r", rd("a", "au", v2, 20), rd("b", "b0", v0, 21))},
			want: map[Kind]int{KindFractured: 1},
		},
		{
			name: "strict tombstones: headerless not-found after W deleted b",
			h:    []Txn{wd, reader("r", rd("a", "a1", v1, 20), nf("b", "", 21))},
			opts: Options{StrictTombstones: true},
			want: map[Kind]int{KindFractured: 1},
		},
		{
			name: "clean: old b when W did not write b",
			h:    []Txn{w0, wa, reader("r", rd("a", "a1", v1, 20), rd("b", "b0", v0, 21))},
		},
		{
			name: "clean: not-found b when W did not write b",
			h:    []Txn{wa, reader("r", nf("b", "", 5), rd("a", "a1", v1, 20))},
		},
		{
			name: "clean: both from W",
			h:    []Txn{w0, w1, reader("r", rd("b", "b1", v1, 20), rd("a", "a1", v1, 21))},
		},
		{
			name: "clean: both old",
			h:    []Txn{w0, w1, reader("r", rd("b", "b0", v0, 20), rd("a", "a0", v0, 21))},
		},
		{
			name: "clean: b newer than W",
			h: []Txn{w0, w1, committed("w2", v2, 15, put("b", "b2")),
				reader("r", rd("a", "a1", v1, 20), rd("b", "b2", v2, 21))},
		},
		{
			name: "clean: b read after own write of b",
			h:    []Txn{w0, w1, reader("r", put("b", "rb"), rd("a", "a1", v1, 20), own("b", "rb"))},
		},
		{
			name: "clean: headerless not-found after W deleted b",
			h:    []Txn{wd, reader("r", rd("a", "a1", v1, 20), nf("b", "", 21))},
		},
		{
			name: "clean: headerless not-found after a later delete of b",
			h: []Txn{w1, committed("w2", v2, 15, del("b")),
				reader("r", rd("a", "a1", v1, 20), nf("b", "", 21))},
		},
		{
			name: "clean: tombstone read at W's version",
			h:    []Txn{wd, reader("r", rd("a", "a1", v1, 20), nf("b", v1, 21))},
		},
	})
}

func TestRYW(t *testing.T) {
	runCases(t, []checkCase{
		{
			name:     "other's value instead of own write",
			h:        []Txn{w0, reader("r", put("a", "ra"), rd("a", "a0", v0, 20))},
			want:     map[Kind]int{KindRYW: 1},
			wantTxns: []string{"r"},
			wantKeys: []string{"a"},
		},
		{
			name: "not-found after own write",
			h:    []Txn{reader("r", put("a", "ra"), nf("a", "", 20))},
			want: map[Kind]int{KindRYW: 1},
		},
		{
			name: "found after own delete",
			h:    []Txn{w0, reader("r", del("a"), rd("a", "a0", v0, 20))},
			want: map[Kind]int{KindRYW: 1},
		},
		{
			name: "older own write",
			h:    []Txn{reader("r", put("a", "r1"), put("a", "r2"), own("a", "r1"))},
			want: map[Kind]int{KindRYW: 1},
		},
		{
			name: "clean: own buffered write without version",
			h:    []Txn{w0, reader("r", put("a", "ra"), own("a", "ra"))},
		},
		{
			name: "clean: latest of two own writes",
			h:    []Txn{reader("r", put("a", "r1"), put("a", "r2"), own("a", "r2"))},
		},
		{
			name: "clean: not-found after own delete",
			h:    []Txn{w0, reader("r", rd("a", "a0", v0, 20), del("a"), nf("a", "", 21))},
		},
		{
			name: "clean: own write after delete",
			h:    []Txn{reader("r", del("a"), put("a", "r1"), own("a", "r1"))},
		},
	})
}

func TestRepeatable(t *testing.T) {
	wa := committed("wa", v1, 10, put("a", "a1"))
	runCases(t, []checkCase{
		{
			name:     "two values",
			h:        []Txn{w0, wa, reader("r", rd("a", "a0", v0, 20), rd("a", "a1", v1, 21))},
			want:     map[Kind]int{KindRepeatable: 1},
			wantTxns: []string{"r"},
			wantKeys: []string{"a"},
		},
		{
			name: "found then not-found",
			h:    []Txn{wa, reader("r", rd("a", "a1", v1, 20), nf("a", "", 21))},
			want: map[Kind]int{KindRepeatable: 1},
		},
		{
			name: "two tombstones",
			h: []Txn{committed("d1", v1, 10, del("a")), committed("d2", v2, 12, del("a")),
				reader("r", nf("a", v1, 20), nf("a", v2, 21))},
			want: map[Kind]int{KindRepeatable: 1},
		},
		{
			name: "clean: same value twice",
			h:    []Txn{w0, wa, reader("r", rd("a", "a1", v1, 20), rd("a", "a1", v1, 21))},
		},
		{
			name: "clean: not-found with and without header",
			h:    []Txn{committed("d1", v1, 10, del("a")), reader("r", nf("a", "", 20), nf("a", v1, 21))},
		},
		{
			name: "clean: own write in between",
			h:    []Txn{w0, reader("r", rd("a", "a0", v0, 20), put("a", "ra"), own("a", "ra"))},
		},
	})
}

func TestAborted(t *testing.T) {
	runCases(t, []checkCase{
		{
			name:     "commit answered aborted",
			h:        []Txn{failed("f", 10, put("a", "af")), reader("r", rd("a", "af", v1, 20))},
			want:     map[Kind]int{KindAborted: 1},
			wantTxns: []string{"r", "f"},
			wantKeys: []string{"a"},
		},
		{
			name: "never asked to commit",
			h:    []Txn{failed("f", 0, put("a", "af")), reader("r", rd("a", "af", v1, 20))},
			want: map[Kind]int{KindAborted: 1},
		},
		{
			name: "clean: unknown-outcome writer",
			h:    []Txn{unknown("u", 10, put("a", "au")), reader("r", rd("a", "au", v1, 20))},
		},
		{
			name: "clean: committed writer",
			h:    []Txn{w1, reader("r", rd("a", "a1", v1, 20))},
		},
	})
}

func TestUnknownValue(t *testing.T) {
	runCases(t, []checkCase{
		{
			name:     "nobody wrote it",
			h:        []Txn{w0, reader("r", rd("a", "zz", v1, 20))},
			want:     map[Kind]int{KindUnknownValue: 1},
			wantTxns: []string{"r"},
			wantKeys: []string{"a"},
		},
		{
			name: "written to another key",
			h:    []Txn{w0, reader("r", rd("a", "b0", v0, 20))},
			want: map[Kind]int{KindUnknownValue: 1},
		},
		{
			name: "own value before writing it",
			h:    []Txn{reader("r", rd("a", "ra", v1, 20), put("a", "ra"))},
			want: map[Kind]int{KindUnknownValue: 1},
		},
		{
			name: "clean: written by another txn to that key",
			h:    []Txn{w0, reader("r", rd("a", "a0", v0, 20))},
		},
	})
}

func TestDirty(t *testing.T) {
	late := committed("w", v1, 30, put("a", "a1"), del("b"))
	runCases(t, []checkCase{
		{
			name:     "read before writer sent commit",
			h:        []Txn{late, reader("r", rd("a", "a1", v1, 20))},
			want:     map[Kind]int{KindDirty: 1},
			wantTxns: []string{"r", "w"},
			wantKeys: []string{"a"},
		},
		{
			name: "tombstone before writer sent commit",
			h:    []Txn{late, reader("r", nf("b", v1, 20))},
			want: map[Kind]int{KindDirty: 1},
		},
		{
			name: "unknown writer",
			h:    []Txn{unknown("u", 30, put("a", "au")), reader("r", rd("a", "au", v1, 20))},
			want: map[Kind]int{KindDirty: 1},
		},
		{
			name: "clean: read answered after commit was sent",
			h:    []Txn{late, reader("r", rd("a", "a1", v1, 31))},
		},
		{
			name: "clean: commit time not recorded",
			h:    []Txn{committed("w", v1, 0, put("a", "a1")), reader("r", rd("a", "a1", v1, 20))},
		},
	})
}

func TestIntermediate(t *testing.T) {
	w := committed("w", v1, 10, put("a", "x1"), put("a", "x2"))
	runCases(t, []checkCase{
		{
			name:     "overwritten value",
			h:        []Txn{w, reader("r", rd("a", "x1", v1, 20))},
			want:     map[Kind]int{KindIntermediate: 1},
			wantTxns: []string{"r", "w"},
			wantKeys: []string{"a"},
		},
		{
			name: "clean: final value",
			h:    []Txn{w, reader("r", rd("a", "x2", v1, 20))},
		},
	})
}

func TestDuplicate(t *testing.T) {
	c1 := idem(committed("c1", v1, 10, put("a", "a1")), "K")
	c2 := idem(committed("c2", v2, 12, put("b", "b2")), "K")
	u1 := idem(unknown("u1", 10, put("a", "u1a")), "K")
	u2 := idem(unknown("u2", 12, put("b", "u2b")), "K")
	f1 := idem(failed("f1", 10, put("a", "f1a")), "K")
	runCases(t, []checkCase{
		{
			name:     "two committed attempts",
			h:        []Txn{c1, c2},
			want:     map[Kind]int{KindDuplicate: 1},
			wantTxns: []string{"c1", "c2"},
		},
		{
			name:     "unknown attempt observed, another committed",
			h:        []Txn{u1, c2, reader("r", rd("a", "u1a", v1, 20))},
			want:     map[Kind]int{KindDuplicate: 1},
			wantTxns: []string{"u1", "c2"},
		},
		{
			name: "two unknown attempts observed",
			h:    []Txn{u1, u2, reader("r", rd("a", "u1a", v1, 20), rd("b", "u2b", v2, 21))},
			want: map[Kind]int{KindDuplicate: 1},
		},
		{
			name: "clean: failed attempt then committed",
			h:    []Txn{f1, c2},
		},
		{
			name: "clean: unknown attempt not observed, another committed",
			h:    []Txn{u1, c2, reader("r", rd("b", "b2", v2, 20))},
		},
		{
			name: "clean: unknown attempt observed only by itself",
			h:    []Txn{idem(unknown("u1", 10, put("a", "u1a"), own("a", "u1a")), "K"), c2},
		},
		{
			name: "clean: unknown attempt observed, others failed",
			h:    []Txn{u1, idem(failed("f2", 12, put("b", "f2b")), "K"), reader("r", rd("a", "u1a", v1, 20))},
		},
		{
			name: "clean: the winner recorded twice",
			h:    []Txn{c1, idem(committed("c1", v1, 10), "K")},
		},
		{
			name: "clean: different keys",
			h:    []Txn{c1, idem(c2, "L")},
		},
	})
}

func TestLost(t *testing.T) {
	wd := committed("wd", v1, 10, del("a"))
	runCases(t, []checkCase{
		{
			name:     "older value",
			h:        []Txn{w0, w1, final("f", rd("a", "a0", v0, 50))},
			want:     map[Kind]int{KindLost: 1},
			wantTxns: []string{"f", "w1"},
			wantKeys: []string{"a"},
		},
		{
			name: "not-found after a committed write",
			h:    []Txn{w1, final("f", nf("a", "", 50))},
			want: map[Kind]int{KindLost: 1},
		},
		{
			name: "old value after a committed delete",
			h:    []Txn{w0, wd, final("f", rd("a", "a0", v0, 50))},
			want: map[Kind]int{KindLost: 1},
		},
		{
			name: "clean: newest value",
			h:    []Txn{w0, w1, final("f", rd("a", "a1", v1, 50), rd("b", "b1", v1, 51))},
		},
		{
			name: "clean: newer value of an unknown writer",
			h:    []Txn{w1, unknown("u", 20, put("a", "au")), final("f", rd("a", "au", v3, 50))},
		},
		{
			name: "clean: old value in a txn that is not final",
			h:    []Txn{w0, w1, reader("r", rd("a", "a0", v0, 50))},
		},
		{
			name: "clean: headerless not-found after committed delete",
			h:    []Txn{w0, wd, final("f", nf("a", "", 50))},
		},
		{
			name: "clean: tombstone of the committed delete",
			h:    []Txn{w0, wd, final("f", nf("a", v1, 50))},
		},
		{
			name: "clean: nothing committed",
			h:    []Txn{failed("x", 10, put("a", "ax")), final("f", nf("a", "", 50))},
		},
	})
}

func TestMaxDetails(t *testing.T) {
	var ops []Op
	for i := range 250 {
		ops = append(ops, rd(fmt.Sprint("k", i), "nobody", "", 20))
	}
	h := []Txn{reader("r", ops...)}
	for _, tc := range []struct {
		max, stored int
	}{{0, DefaultMaxDetails}, {5, 5}, {-1, 0}, {1000, 250}} {
		t.Run(fmt.Sprint(tc.max), func(t *testing.T) {
			rep := CheckWith(h, Options{MaxDetails: tc.max})
			if got := rep.Counts[KindUnknownValue]; got != 250 {
				t.Errorf("count = %d, want 250", got)
			}
			if got := len(rep.Anomalies); got != tc.stored {
				t.Errorf("stored %d anomalies, want %d", got, tc.stored)
			}
		})
	}
}

func TestReport(t *testing.T) {
	if rep := Check(nil); !rep.OK() || rep.String() != "no anomalies" || rep.Counts == nil {
		t.Errorf("Check(nil) = %#v, want OK with non-nil counts", rep)
	}
	rep := Check([]Txn{w0, w1, reader("r", rd("a", "a1", v1, 20), rd("b", "b0", v0, 21))})
	if rep.OK() || rep.Total() != 1 {
		t.Errorf("total = %d, want 1", rep.Total())
	}
	t.Log(rep)
}
