package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/aft-shim/aft/shim/ra"
	"github.com/google/go-cmp/cmp"
)

func TestRecordRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		rec  Record
	}{
		{"minimal", Record{Version: ra.Version{TS: 1, Txn: "a"}}},
		{"full", Record{
			Version: ra.Version{TS: 1 << 60, Txn: "0123456789abcdef0123456789abcdef"},
			IdemKey: "req-1\x00\xff/", Attempt: 3,
			Writes: []Write{{Key: "\x00a/b"}, {Key: "k", Tombstone: true}, {Key: strings.Repeat("x", 1024)}},
			Result: []byte("{\"ok\":true}"),
		}},
		{"compacted", Record{Version: ra.Version{TS: 7, Txn: "t"}, IdemKey: "k", Attempt: 1, Compacted: true, Result: []byte{0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Unmarshal(tt.rec.Marshal())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(&tt.rec, got); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUnmarshalRejectsDamage(t *testing.T) {
	good := (&Record{Version: ra.Version{TS: 5, Txn: "t1"}, Writes: []Write{{Key: "a"}, {Key: "b"}}}).Marshal()
	for i := range good {
		bad := bytes.Clone(good)
		bad[i] ^= 0x40
		if _, err := Unmarshal(bad); !errors.Is(err, ErrCorrupt) {
			t.Errorf("flipping byte %d: err = %v, want ErrCorrupt", i, err)
		}
	}
	for n := 0; n < len(good); n++ {
		if _, err := Unmarshal(good[:n]); !errors.Is(err, ErrCorrupt) {
			t.Errorf("truncated to %d bytes: err = %v, want ErrCorrupt", n, err)
		}
	}
}

// FuzzUnmarshal explores the decoder in two modes. With sealed, b is the body of a record
// (everything after the magic), and the fuzzer's bytes get the magic in front and a valid
// checksum behind, so that they reach the decoding of the fields rather than stop at the
// checksum; without, b is given to Unmarshal as it is (the header and checksum checks).
// Either way: no panic; an error wraps ErrCorrupt; what decodes re-encodes to the same
// bytes and decodes again to an equal record; and changing any one byte of it, or cutting
// it short, is ErrCorrupt.
func FuzzUnmarshal(f *testing.F) {
	good := (&Record{Version: ra.Version{TS: 5, Txn: "t1"}, IdemKey: "k", Attempt: 2, Writes: []Write{{Key: "a"}, {Key: "b", Tombstone: true}}, Result: []byte("r")}).Marshal()
	compacted := (&Record{Version: ra.Version{TS: 1 << 40, Txn: "t"}, Compacted: true, Result: []byte{0}}).Marshal()
	for _, rec := range [][]byte{good, compacted} {
		f.Add(false, rec)
		f.Add(true, rec[len(magic):len(rec)-4])
	}
	f.Add(false, []byte("AFTR\x01\x00"))
	f.Add(true, []byte("\x01\x00"))
	f.Fuzz(func(t *testing.T, sealed bool, b []byte) {
		if sealed {
			b = seal(b)
		}
		r, err := Unmarshal(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		again := r.Marshal()
		if !bytes.Equal(again, b) {
			t.Fatalf("decoded %+v re-encodes to %x, input %x", r, again, b)
		}
		r2, err := Unmarshal(again)
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if diff := cmp.Diff(r, r2); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
		for i := range b {
			bad := bytes.Clone(b)
			bad[i] ^= 0x5a
			if _, err := Unmarshal(bad); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("byte %d changed: err = %v, want ErrCorrupt", i, err)
			}
		}
		if _, err := Unmarshal(b[:len(b)-1]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("cut short by one byte: err = %v, want ErrCorrupt", err)
		}
	})
}

// seal returns a record made of body: the magic, body and body's checksum.
func seal(body []byte) []byte {
	b := append([]byte(magic), body...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crcTable))
}

func TestLayoutKeys(t *testing.T) {
	v := ra.Version{TS: 42, Txn: "0123456789abcdef0123456789abcdef"}
	keys := []string{"a", "a/b", "/", "..", "\xff\x01", strings.Repeat("k", 300), strings.Repeat("k", 301), strings.Repeat("\xfe", 1024)}
	seen := map[string]string{}
	for _, k := range keys {
		sk := VersionKey(k, v)
		if len(sk) > 512 {
			t.Errorf("VersionKey(%d-byte key) is %d bytes, over 512", len(k), len(sk))
		}
		for _, c := range sk {
			if !strings.ContainsRune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._~/-", c) {
				t.Errorf("VersionKey(%q) = %q holds %q", k, sk, c)
			}
		}
		if other, dup := seen[sk]; dup {
			t.Errorf("keys %q and %q share storage key %q", k, other, sk)
		}
		seen[sk] = k
		got, err := ParseVersionKey(sk)
		if err != nil || got != v {
			t.Errorf("ParseVersionKey(%q) = %v, %v; want %v", sk, got, err, v)
		}
	}
	if a, b := RecordKey("x", "t1"), RecordKey("", "t1"); a == b || len(RecordKey(strings.Repeat("\xff", 256), "")) > 512 {
		t.Errorf("record keys collide or are too long: %q %q", a, b)
	}
}
