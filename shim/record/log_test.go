package record

import (
	"strings"
	"testing"
)

func TestLogKeyRoundTrip(t *testing.T) {
	id := "0123456789abcdef0123456789abcdef"
	long := strings.Repeat("\xff", 256)
	for _, tc := range []struct {
		stamp uint64
		idem  string
	}{{1, ""}, {1_700_000_000_123_456_789, "order-17"}, {^uint64(0), long}, {999_999_999, "a/b c"}} {
		k := LogKey(tc.stamp, id, tc.idem)
		if len(k) > 416 {
			t.Errorf("LogKey is %d bytes, more than the 416 promised", len(k))
		}
		if !strings.HasPrefix(k, LogDir(tc.stamp)) || strings.Contains(k[len(LogDir(tc.stamp)):], "/") {
			t.Errorf("LogKey %q is not directly under its directory %q", k, LogDir(tc.stamp))
		}
		e, err := ParseLogKey(k)
		if err != nil {
			t.Fatalf("ParseLogKey(%q): %v", k, err)
		}
		if want := (LogEntry{Stamp: tc.stamp, Txn: id, RecordKey: RecordKey(tc.idem, id)}); e != want {
			t.Errorf("ParseLogKey(%q) = %+v, want %+v", k, e, want)
		}
		if after := LogAfter(tc.stamp); !(after < k) || after < LogDir(tc.stamp) {
			t.Errorf("LogAfter(%d) = %q does not sort between the directory and the key %q", tc.stamp, after, k)
		}
	}
}

func TestLogKeysSortByStamp(t *testing.T) {
	var keys []string
	for _, s := range []uint64{5_000_000_000, 5_000_000_001, 5_000_000_010, 5_999_999_999} {
		keys = append(keys, LogKey(s, "ffffffffffffffffffffffffffffffff", "zz"), LogKey(s, "00000000000000000000000000000000", ""))
	}
	for i := 2; i < len(keys); i++ {
		if keys[i-2] >= keys[i] {
			t.Errorf("log key of a later stamp %q does not sort after %q", keys[i], keys[i-2])
		}
	}
	// LogAfter(s) sorts below every key of stamp s and above every key of stamp s-1.
	if a, prev := LogAfter(5_000_000_010), LogKey(5_000_000_009, "ffffffffffffffffffffffffffffffff", strings.Repeat("\xff", 256)); !(prev < a) {
		t.Errorf("LogAfter(s) = %q does not sort after a key of stamp s-1 %q", a, prev)
	}
}

func TestParseLogKeyRejects(t *testing.T) {
	for _, k := range []string{
		"", "l/", "l/5/", "v/5/0000000000000001.x.t", "l/5/00000001.x.t", "l/6/000000012a05f200.x.t",
		"l/5/000000012a05f200..t", "l/5/000000012a05f200.x", "l/5/000000012a05f200.x.q", "l/5/000000012a05f200.x.k",
		"l/5/000000012a05f200.x.k!!", "l/0/0000000000000000.x.t",
	} {
		if e, err := ParseLogKey(k); err == nil {
			t.Errorf("ParseLogKey(%q) = %+v, want an error", k, e)
		}
	}
}

func FuzzParseLogKey(f *testing.F) {
	f.Add(LogKey(1_700_000_000_000_000_000, "0123456789abcdef0123456789abcdef", "k"))
	f.Add("l/5/000000012a05f200.x.t")
	f.Fuzz(func(t *testing.T, k string) {
		e, err := ParseLogKey(k)
		if err != nil {
			return
		}
		idem := ""
		if strings.HasPrefix(e.RecordKey, RecordPrefix+"k/") {
			idem = "x" // any: only the tail's kind matters below
		}
		if _, err := ParseLogKey(LogKey(e.Stamp, e.Txn, idem)); err != nil {
			t.Fatalf("a key rebuilt from the parse of %q does not parse: %v", k, err)
		}
	})
}
