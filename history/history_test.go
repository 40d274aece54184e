package history

import (
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRecorder(t *testing.T) {
	var r Recorder
	const clients, each = 16, 100
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			buf := make([]byte, 8)
			for n := range each {
				copy(buf, fmt.Sprintf("%02d/%04d", c, n))
				r.Add(Txn{ID: fmt.Sprintf("c%d-%d", c, n), Ops: []Op{{Kind: Write, Key: "k", Value: buf}}, Outcome: Committed})
				if n%10 == 0 {
					_ = r.History() // reads while others write
				}
			}
		})
	}
	wg.Wait()
	if got := r.Len(); got != clients*each {
		t.Fatalf("Len() = %d, want %d", got, clients*each)
	}
	h := r.History()
	seen := map[string]bool{}
	for _, txn := range h {
		seen[string(txn.Ops[0].Value)] = true
	}
	if len(seen) != clients*each {
		t.Errorf("%d distinct values recorded, want %d: Add must copy values", len(seen), clients*each)
	}
	if rep := Check(h); !rep.OK() {
		t.Errorf("Check: %s", rep)
	}
}

func TestRecorderHistoryIsACopy(t *testing.T) {
	var r Recorder
	r.Add(Txn{ID: "a"})
	h := r.History()
	h[0].ID = "changed"
	r.Add(Txn{ID: "b"})
	want := []string{"a", "b"}
	var got []string
	for _, txn := range r.History() {
		got = append(got, txn.ID)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
}

func TestStrings(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{Read.String(), "read"},
		{Delete.String(), "delete"},
		{OpKind(9).String(), "OpKind(9)"},
		{Committed.String(), "committed"},
		{Outcome(9).String(), "Outcome(9)"},
		{put("k", "v").String(), `write "k"="v"`},
		{nf("k", "", 1).String(), `read "k"=not-found@""`},
		{rd("k", "v", v1, 1).String(), `read "k"="v"@"0001.w1"`},
	} {
		if tc.got != tc.want {
			t.Errorf("got %s, want %s", tc.got, tc.want)
		}
	}
}

func ExampleCheck() {
	h := []Txn{
		{ID: "w0", Outcome: Committed, Version: "0000.w0", Ops: []Op{
			{Kind: Write, Key: "a", Value: []byte("a0")},
			{Kind: Write, Key: "b", Value: []byte("b0")},
		}},
		{ID: "w1", Outcome: Committed, Version: "0001.w1", Ops: []Op{
			{Kind: Write, Key: "a", Value: []byte("a1")},
			{Kind: Write, Key: "b", Value: []byte("b1")},
		}},
		{ID: "r", Outcome: Committed, Ops: []Op{
			{Kind: Read, Key: "a", Found: true, Value: []byte("a1"), Version: "0001.w1"},
			{Kind: Read, Key: "b", Found: true, Value: []byte("b0"), Version: "0000.w0"},
		}},
	}
	rep := Check(h)
	fmt.Println(rep.Counts)
	fmt.Println(rep.Anomalies[0].Txns, rep.Anomalies[0].Keys)
	// Output:
	// map[fractured:1]
	// [r w1 w0] [a b]
}
