package anomaly

import (
	"strings"
	"testing"
)

// doc returns a Doc whose trail is tags (REQUEST@ATTEMPT), written by the last of them.
func doc(tags ...string) Doc {
	d := Doc{Log: tags, N: int64(len(tags))}
	if len(tags) > 0 {
		d.By = tags[len(tags)-1]
	}
	return d
}

// state returns a snapshot that read keys a and b with the given documents (nil: none).
func state(a, b *Doc) Snapshot {
	s := Snapshot{Keys: []string{"a", "b"}, Docs: map[string]Doc{}}
	if a != nil {
		s.Docs["a"] = *a
	}
	if b != nil {
		s.Docs["b"] = *b
	}
	return s
}

func ptr(d Doc) *Doc { return &d }

// req is a request over keys a and b.
func req(id string, acked bool) Request {
	return Request{ID: id, Keys: []string{"a", "b"}, Acked: acked}
}

func TestCheck(t *testing.T) {
	done := map[string]bool{"1": true, "2": true, "3": true}
	both := state(ptr(doc("r1@1", "r2@2")), ptr(doc("r1@1", "r2@2")))
	tests := []struct {
		name string
		h    History
		want Counts
	}{
		{
			name: "clean history",
			h: History{
				Requests:  []Request{req("r1", true), req("r2", true)},
				Completed: done,
				Snapshots: []Snapshot{state(nil, nil), state(ptr(doc("r1@1")), ptr(doc("r1@1"))), both},
				OwnReads:  []OwnRead{{Key: "a", Want: "r1@1", Got: "r1@1"}},
				Final:     both,
			},
		},
		{
			name: "fractured: half of a write in progress",
			h: History{
				Requests:  []Request{req("r1", true)},
				Completed: done,
				Snapshots: []Snapshot{state(ptr(doc("r1@1")), nil), state(ptr(doc("r1@1")), nil), state(nil, ptr(doc("r1@1")))},
				Final:     state(ptr(doc("r1@1")), ptr(doc("r1@1"))),
			},
			want: Counts{Fractured: 1},
		},
		{
			name: "a request left half by a lost update is lost, not fractured",
			h: History{
				Requests:  []Request{req("r1", true), req("r2", true)},
				Completed: done,
				Snapshots: []Snapshot{state(ptr(doc("r1@1", "r2@2")), ptr(doc("r1@1")))},
				Final:     state(ptr(doc("r1@1", "r2@2")), ptr(doc("r1@1"))),
			},
			want: Counts{Lost: 1},
		},
		{
			name: "partial: a crashed attempt's first write seen, then retried",
			h: History{
				Requests:  []Request{req("r1", true)},
				Completed: map[string]bool{"2": true},
				Snapshots: []Snapshot{state(ptr(doc("r1@1")), nil), state(ptr(doc("r1@1")), nil)},
				Final:     state(ptr(doc("r1@1", "r1@2")), ptr(doc("r1@2"))),
			},
			want: Counts{Partial: 1, Duplicate: 1},
		},
		{
			name: "partial: a failed request left half in the final state",
			h: History{
				Requests:  []Request{req("r1", false)},
				Completed: done,
				Final:     state(ptr(doc("r1@1")), nil),
			},
			want: Counts{Partial: 1},
		},
		{
			name: "failed request without effect is no anomaly",
			h: History{
				Requests: []Request{req("r1", false), req("r2", true)},
				Final:    state(ptr(doc("r2@2")), ptr(doc("r2@2"))),
			},
		},
		{
			name: "duplicate: applied twice, seen by a reader only",
			h: History{
				Requests:  []Request{req("r1", true)},
				Completed: done,
				Snapshots: []Snapshot{state(ptr(doc("r1@1", "r1@2")), ptr(doc("r1@1", "r1@2")))},
				Final:     state(ptr(doc("r1@2")), ptr(doc("r1@2"))),
			},
			want: Counts{Duplicate: 1},
		},
		{
			name: "duplicate: the same attempt applied twice counts once per request",
			h: History{
				Requests:  []Request{req("r1", true), req("r2", true)},
				Completed: done,
				Final:     state(ptr(doc("r1@1", "r1@1", "r2@2", "r2@3")), ptr(doc("r1@1", "r2@2", "r2@3", "r1@1"))),
			},
			want: Counts{Duplicate: 2},
		},
		{
			name: "lost: a zombie's stale write overwrote acknowledged requests",
			h: History{
				Requests:  []Request{req("r1", true), req("r2", true), req("r3", true)},
				Completed: done,
				Final:     state(ptr(doc("r1@1")), ptr(doc("r1@1", "r2@2"))),
			},
			want: Counts{Lost: 2},
		},
		{
			name: "ryw: a function read another attempt's version of its own write",
			h: History{
				OwnReads: []OwnRead{{Key: "a", Want: "r1@1", Got: "r1@2"}, {Key: "a", Want: "r1@2", Got: "r1@2"}, {Key: "b", Want: "r3@3", Got: ""}},
			},
			want: Counts{RYW: 2},
		},
		{
			name: "keys not read are not judged",
			h: History{
				Requests:  []Request{req("r1", true)},
				Snapshots: []Snapshot{{Keys: []string{"a"}, Docs: map[string]Doc{"a": doc("r1@9")}}},
				Final:     Snapshot{Keys: []string{"b"}},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep := Check(tc.h)
			if rep.Counts != tc.want {
				t.Errorf("counts %v, want %v\nexamples: %v", rep.Counts, tc.want, rep.Examples)
			}
			for _, k := range Kinds() {
				if n := len(rep.Examples[k]); (rep.Counts.Get(k) > 0) != (n > 0) || n > DefaultMaxExamples {
					t.Errorf("%s: %d examples for a count of %d", k, n, rep.Counts.Get(k))
				}
			}
		})
	}
}

func TestExamplesName(t *testing.T) {
	rep := Check(History{
		Requests:  []Request{req("order-7", true)},
		Snapshots: []Snapshot{state(ptr(doc("order-7@a3")), nil)},
		Final:     state(ptr(doc("order-7@a3")), nil),
	})
	for _, want := range []string{"order-7", "a3", "[b]"} {
		if !strings.Contains(strings.Join(rep.Examples[Partial], " "), want) {
			t.Errorf("partial examples %q lack %q", rep.Examples[Partial], want)
		}
	}
	if rep.Counts != (Counts{Partial: 1, Lost: 1}) {
		t.Errorf("counts %v", rep.Counts)
	}
}

func TestTagAndDoc(t *testing.T) {
	tests := []struct {
		in string
		ok bool
		t  Tag
	}{
		{"r1@a2", true, Tag{"r1", "a2"}},
		{"s@x@a2", true, Tag{"s@x", "a2"}},
		{"@a", false, Tag{}},
		{"r@", false, Tag{}},
		{"r", false, Tag{}},
	}
	for _, tc := range tests {
		got, ok := ParseTag(tc.in)
		if ok != tc.ok || got != tc.t {
			t.Errorf("ParseTag(%q) = %v, %v", tc.in, got, ok)
		}
		if ok && got.String() != tc.in {
			t.Errorf("String() = %q, want %q", got.String(), tc.in)
		}
	}
	d := Doc{N: 10}.Apply(Tag{"r1", "a1"}, -3)
	d2 := d.Apply(Tag{"r2", "a2"}, -3)
	back, err := DecodeDoc(d2.Encode())
	if err != nil || back.N != 4 || back.By != "r2@a2" || len(back.Log) != 2 || len(d.Log) != 1 {
		t.Errorf("round trip %+v (first %+v), %v", back, d, err)
	}
	if z, err := DecodeDoc(nil); err != nil || z.N != 0 || z.Log != nil {
		t.Errorf("DecodeDoc(nil) = %+v, %v", z, err)
	}
	if _, err := DecodeDoc([]byte("{")); err == nil {
		t.Error("DecodeDoc accepted bad JSON")
	}
}

func TestCounts(t *testing.T) {
	var c Counts
	for i, k := range Kinds() {
		c.Add(k, i+1)
	}
	if c.Total() != 15 || c.Get(Lost) != 5 || c.String() != "fractured=1 ryw=2 partial=3 duplicate=4 lost=5" {
		t.Errorf("%+v total %d: %s", c, c.Total(), c)
	}
	if (Counts{}).String() != "none" {
		t.Error(Counts{}.String())
	}
}
