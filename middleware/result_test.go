package middleware

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestResultEncoding(t *testing.T) {
	fp := Fingerprint{Function: "f", Method: "POST", Path: "/p", BodySHA256: "ab"}
	h := http.Header{"Content-Type": {"text/plain"}, "X-A": {"1", "2"}, "Date": {"today"}, "Connection": {"close"},
		"X-Aft-Attempts": {"9"}, "Content-Length": {"5"}, "Set-Cookie": {"s=1"}}
	for _, tc := range []struct {
		name        string
		body        []byte
		header      http.Header
		wantOmitted bool
		wantHeader  http.Header
	}{
		{"small", []byte("hello\nworld"), h, false, http.Header{"Content-Type": {"text/plain"}, "X-A": {"1", "2"}, "Set-Cookie": {"s=1"}}},
		{"empty", nil, nil, false, nil},
		{"body over the limit", bytes.Repeat([]byte("x"), MaxResultBytes), h, true, http.Header{"Content-Type": {"text/plain"}, "X-A": {"1", "2"}, "Set-Cookie": {"s=1"}}},
		{"headers over the limit", []byte("b"), http.Header{"Content-Type": {"a/b"}, "X-Big": {string(bytes.Repeat([]byte("h"), MaxResultBytes))}},
			true, http.Header{"Content-Type": {"a/b"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newResult(201, tc.header, tc.body, 2, fp)
			b, err := encodeResult(r, MaxResultBytes)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) > MaxResultBytes {
				t.Errorf("%d bytes, over the limit", len(b))
			}
			var got Result
			if err := got.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			want := r
			want.Header = tc.wantHeader
			want.BodyOmitted = tc.wantOmitted
			if tc.wantOmitted || len(tc.body) == 0 {
				want.Body = nil
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("decoded (-want +got):\n%s", diff)
			}
		})
	}
	for _, bad := range []string{"", "hello", "AFT-RESULT 1\n", "AFT-RESULT 1\n{nope}\n", "AFT-RESULT 1\n{\"status\":0}\n", "AFT-RESULT 2\n{}\n"} {
		var r Result
		if err := r.UnmarshalBinary([]byte(bad)); !errors.Is(err, ErrNotResult) {
			t.Errorf("UnmarshalBinary(%q) = %v, want ErrNotResult", bad, err)
		}
	}
}

func TestIdempotencyKey(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header http.Header
		key    string
		from   Identity
		bad    bool
	}{
		{"idempotency key", http.Header{"Idempotency-Key": {"k"}, "X-Call-Id": {"c"}}, "k", FromIdempotencyKey, false},
		{"call id", http.Header{"X-Call-Id": {"c"}, "Ce-Source": {"s"}, "Ce-Id": {"1"}}, "c", FromCallID, false},
		{"cloudevent", http.Header{"Ce-Source": {"/s"}, "Ce-Id": {"1"}}, "/s 1", FromCloudEvent, false},
		{"tab inside", http.Header{"Idempotency-Key": {"a\tb"}}, "a\tb", FromIdempotencyKey, false},
		{"control byte", http.Header{"Idempotency-Key": {"a\x00b"}}, "", FromIdempotencyKey, true},
		{"del", http.Header{"Idempotency-Key": {"a\x7f"}}, "", FromIdempotencyKey, true},
		{"two cloudevent ids", http.Header{"Ce-Source": {"/s"}, "Ce-Id": {"1", "2"}}, "", FromCloudEvent, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, from, err := IdempotencyKey(&http.Request{Header: tc.header})
			if (err != nil) != tc.bad || from != tc.from || !tc.bad && key != tc.key {
				t.Errorf("got %q %s %v, want %q %s bad=%v", key, from, err, tc.key, tc.from, tc.bad)
			}
		})
	}
	k1, from, _ := IdempotencyKey(&http.Request{Header: http.Header{}})
	k2, _, _ := IdempotencyKey(&http.Request{Header: http.Header{}})
	if from != FromRandom || k1 == k2 || len(k1) > MaxKeyBytes {
		t.Errorf("random keys %q %q from %s", k1, k2, from)
	}
}

// TestFingerprintQuery: the query is part of a fingerprint; one stored without a "query"
// field (before it was) matches any query, but nothing else that differs.
func TestFingerprintQuery(t *testing.T) {
	req := Fingerprint{Function: "f", Method: "GET", Path: "/p", Query: "a=1", BodySHA256: "ab"}
	for _, tc := range []struct {
		name, stored string
		want         bool
	}{
		{"same query", `{"function":"f","method":"GET","path":"/p","query":"a=1","body_sha256":"ab"}`, true},
		{"another query", `{"function":"f","method":"GET","path":"/p","query":"a=2","body_sha256":"ab"}`, false},
		{"stored without query", `{"function":"f","method":"GET","path":"/p","query":"","body_sha256":"ab"}`, false},
		{"stored before the query was kept", `{"function":"f","method":"GET","path":"/p","body_sha256":"ab"}`, true},
		{"before, another path", `{"function":"f","method":"GET","path":"/q","body_sha256":"ab"}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var fp Fingerprint
			if err := json.Unmarshal([]byte(tc.stored), &fp); err != nil {
				t.Fatal(err)
			}
			if got := fp.matches(req); got != tc.want {
				t.Errorf("%s matches %v = %v, want %v", tc.stored, req, got, tc.want)
			}
		})
	}
}
