package peer

import (
	"bytes"
	"errors"
	"testing"
)

func TestWireRoundTrip(t *testing.T) {
	in := []Commit{{Stamp: 1, Record: []byte("a")}, {Stamp: 1 << 62, Record: nil}, {Stamp: 7, Record: bytes.Repeat([]byte{9}, 300)}}
	var b []byte
	for _, c := range in {
		b = Append(b, c)
	}
	out, err := Decode(b)
	if err != nil || len(out) != len(in) {
		t.Fatalf("Decode: %d commits, %v", len(out), err)
	}
	for i := range in {
		if out[i].Stamp != in[i].Stamp || !bytes.Equal(out[i].Record, in[i].Record) {
			t.Errorf("commit %d: got %+v, want %+v", i, out[i], in[i])
		}
	}
	for _, bad := range [][]byte{{0}, {1}, {1, 5, 'a'}, {0x80}} {
		if _, err := Decode(bad); !errors.Is(err, ErrBadBody) {
			t.Errorf("Decode(%x): %v, want ErrBadBody", bad, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(Append(Append(nil, Commit{Stamp: 3, Record: []byte("rec")}), Commit{Stamp: 4}))
	f.Fuzz(func(t *testing.T, b []byte) {
		cs, err := Decode(b)
		if err != nil {
			return
		}
		var again []byte
		for _, c := range cs {
			again = Append(again, c)
		}
		if _, err := Decode(again); err != nil {
			t.Fatalf("re-encoded commits do not decode: %v", err)
		}
	})
}
