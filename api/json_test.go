package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"testing"
)

// The hand codecs are checked against encoding/json, the reference: a hand decoder that
// accepts an input must decode exactly what encoding/json decodes from it, and the hand
// encoders must write encoding/json's bytes.

var requestSeeds = []string{
	`{"ops":[]}`,
	`{"ops":null}`,
	`{}`,
	`{"ops":[{"op":"write","key":"a","value":"aGVsbG8="},{"op":"read","key":"b"},{"op":"delete","key":"c"}]}`,
	"{\"ops\": [{\"op\": \"write\", \"key\": \"a\", \"value\": \"\"},\n  {\"op\": \"read\", \"key\": \"b\"}]}\n",
	`{"ops":[{"op":"write","key":"a","value":null}]}`,
	`{"ops":[{"op":"write","key":"a","value":"aGVsbG8"}]}`,
	`{"ops":[{"op":"write","key":"a","value":"aGVs\nbG8="}]}`,
	`{"ops":[{"op":"write","key":"a","value":"aGVs\/bG8="}]}`,
	`{"ops":[{"OP":"read","Key":"a"}]}`,
	`{"ops":[{"op":"read","key":"a","key":"b"}]}`,
	`{"ops":[{"op":"read","key":"\u00e9"}]}`,
	`{"ops":[{"op":"read","key":"é"}]}`,
	`{"ops":[{"op":"read","key":"a"}],"ops":[]}`,
	`{"ops":[{"op":"read","key":"a","extra":1}]}`,
	`{"ops":[]}]`,
	`{"ops":[]} {"ops":[]}`,
	`{"ops":[{"op":"read","key":"a"},]}`,
	`{"ops":[{"op":1,"key":"a"}]}`,
	`[]`,
	``,
}

func FuzzDecodeBatchRequest(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		want, wantErr := strictBatchRequest(body)
		if fast, ok := scanBatchRequest(body); ok {
			if wantErr != nil {
				t.Fatalf("scanner accepts %q, encoding/json refuses it: %v", body, wantErr)
			}
			if !reflect.DeepEqual(fast, want) {
				t.Fatalf("%q: scanner decodes %#v, encoding/json %#v", body, fast, want)
			}
		}
		got, err := DecodeBatchRequest(body)
		if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
			t.Fatalf("%q: error %v, encoding/json's %v", body, err, wantErr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: decodes %#v, encoding/json %#v", body, got, want)
		}
		if err == nil {
			checkSame(t, "request", got.AppendJSON(nil), want)
		}
	})
}

var answerSeeds = []string{
	`{"results":[]}`,
	`{"results":null}`,
	`{"results":[{"status":204},{"status":200,"value":"aGk=","version":"00000000000000000001-t"},{"status":200,"value":"","own_write":true},{"status":404,"code":"key_not_found","error":"no visible version of the key"}]}`,
	`{"id":"t1","status":"running","attempt":1,"results":[{"status":204}]}`,
	`{"id":"t1","status":"committed","attempt":2,"version":"v","result":"aGk="}`,
	`{"id":"t1","status":"running","attempt":1.5}`,
	`{"id":"t1","status":"running","attempt":012}`,
	`{"id":"t1","status":"running","attempt":1234567890123}`,
	`{"id":"t1","status":"running","attempt":-1}`,
	`{"results":[{"status":200,"own_write":false,"own_write":true}]}`,
	`{"results":[{"status":200,"own_write":tru}]}`,
	`{"id":"t1","Status":"running"}`,
	`{"id":"t1","status":"running","other":[1,2]}`,
	`{"id":"a\"b","status":"x<y"}`,
}

func FuzzDecodeAnswers(f *testing.F) {
	for _, s := range answerSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var want BatchAnswer
		wantErr := json.Unmarshal(body, &want)
		got, err := DecodeBatchAnswer(body)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("%q: batch answer error %v, encoding/json's %v", body, err, wantErr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: batch answer %#v, encoding/json %#v", body, got, want)
		}
		if err == nil {
			checkSame(t, "batch answer", got.AppendJSON(nil), got)
		}

		var wantBegin struct {
			TxnAnswer
			Results *[]BatchResult `json:"results"`
		}
		wantErr = json.Unmarshal(body, &wantBegin)
		txn, results, err := DecodeBeginAnswer(body)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("%q: begin answer error %v, encoding/json's %v", body, err, wantErr)
		}
		if err == nil && (!reflect.DeepEqual(txn, wantBegin.TxnAnswer) || !reflect.DeepEqual(results, wantBegin.Results)) {
			t.Fatalf("%q: begin answer %#v %#v, encoding/json %#v %#v", body, txn, results, wantBegin.TxnAnswer, wantBegin.Results)
		}
		if err == nil {
			checkSame(t, "txn answer", txn.AppendJSON(nil), txn)
			if results != nil {
				a := BeginBatchAnswer{TxnAnswer: txn, Results: *results}
				checkSame(t, "begin answer", a.AppendJSON(nil), a)
			}
		}
	})
}

// FuzzAppend builds values from arbitrary strings and bytes and checks the hand encoders
// against json.Marshal, and that the scanners read their output back.
func FuzzAppend(f *testing.F) {
	f.Add("write", "k", []byte("v"), "00000000000000000001-t", "no visible", 404, true)
	f.Add("read", "a<b>&\"\\\u2028é\xff", []byte{}, "", "", 0, false)
	f.Add("delete", "\x00\x1f\x7f", []byte(nil), "v", "msg \"quoted\"", 1<<40, true)
	f.Fuzz(func(t *testing.T, op, key string, value []byte, version, msg string, status int, flag bool) {
		var v *[]byte
		if flag || value != nil {
			v = &value
		}
		req := BatchRequest{Ops: []BatchOp{{Op: op, Key: key, Value: v}, {Op: key, Key: op}}}
		b := checkSame(t, "request", req.AppendJSON(nil), req)
		if len(b) > req.Size() {
			t.Fatalf("request of %d bytes, Size says %d", len(b), req.Size())
		}
		if plain(op) && plain(key) {
			if _, ok := scanBatchRequest(b); !ok {
				t.Fatalf("the scanner gives up on its own encoding %s", b)
			}
		}
		rs := []BatchResult{{Status: status, Code: key, Error: msg, Value: v, Version: version, OwnWrite: flag}, {}}
		b = checkSame(t, "answer", BatchAnswer{Results: rs}.AppendJSON(nil), BatchAnswer{Results: rs})
		if len(b) > ResultsSize(rs) {
			t.Fatalf("answer of %d bytes, ResultsSize says %d", len(b), ResultsSize(rs))
		}
		if plain(key) && plain(msg) && plain(version) && status >= 0 && status < 1e9 {
			if !scans(b) {
				t.Fatalf("the scanner gives up on its own encoding %s", b)
			}
		}
		r := string(value)
		ta := TxnAnswer{ID: key, Status: op, Attempt: status, Version: version}
		if flag {
			ta.Result = &r
		}
		checkSame(t, "txn answer", ta.AppendJSON(nil), ta)
		checkSame(t, "begin answer", BeginBatchAnswer{TxnAnswer: ta, Results: rs}.AppendJSON(nil), BeginBatchAnswer{TxnAnswer: ta, Results: rs})
		checkSame(t, "begin answer", BeginBatchAnswer{TxnAnswer: ta}.AppendJSON(nil), BeginBatchAnswer{TxnAnswer: ta})
	})
}

func FuzzBase64(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("hello, world"))
	f.Add(bytes.Repeat([]byte{0xff, 0, 0x80}, 100))
	f.Fuzz(func(t *testing.T, src []byte) {
		dst := make([]byte, base64.StdEncoding.EncodedLen(len(src)))
		encodeBase64(dst, src)
		if want := base64.StdEncoding.EncodeToString(src); string(dst) != want {
			t.Fatalf("%x: encodes %s, want %s", src, dst, want)
		}
	})
}

// checkSame fails unless got is json.Marshal's encoding of v, and returns it.
func checkSame(t *testing.T, what string, got []byte, v any) []byte {
	t.Helper()
	want, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: writes\n%s\nencoding/json writes\n%s", what, got, want)
	}
	return got
}

// plain reports whether s is in the scanner's subset: printable ASCII without escapes.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

func scans(b []byte) bool {
	s := &scanner{b: b}
	ok := s.object(func(name []byte) bool {
		var good bool
		_, good = scanResults(s, b)
		return good
	})
	return ok && s.end()
}

// TestScannerTakesCommonForms checks that the fast path serves what aft's clients and the
// usual JSON libraries send: compact, with spaces after separators, indented.
func TestScannerTakesCommonForms(t *testing.T) {
	for _, body := range []string{
		`{"ops":[{"op":"write","key":"a","value":"aGVsbG8="},{"op":"read","key":"b"}]}`,
		`{"ops": [{"op": "write", "key": "a", "value": "aGVsbG8="}, {"op": "read", "key": "b"}]}`,
		"{\n  \"ops\": [\n    {\n      \"op\": \"delete\",\n      \"key\": \"a/b.c~d-e_f\"\n    }\n  ]\n}\n",
	} {
		if _, ok := scanBatchRequest([]byte(body)); !ok {
			t.Errorf("the scanner gives up on %s", body)
		}
	}
	if !scans([]byte(`{"results": [{"status": 200, "value": "aGk=", "version": "v", "own_write": true}, {"status": 404, "code": "key_not_found", "error": "no visible version of the key"}]}`)) {
		t.Error("the scanner gives up on a plain answer")
	}
}

func BenchmarkBase64(b *testing.B) {
	src := bytes.Repeat([]byte("0123456789abcdef"), 256)
	dst := make([]byte, base64.StdEncoding.EncodedLen(len(src)))
	b.SetBytes(int64(len(src)))
	b.Run("std", func(b *testing.B) {
		for b.Loop() {
			base64.StdEncoding.Encode(dst, src)
		}
	})
	b.Run("pairs", func(b *testing.B) {
		for b.Loop() {
			encodeBase64(dst, src)
		}
	})
}

func BenchmarkBatchCodec(b *testing.B) {
	v := bytes.Repeat([]byte("x"), 4096)
	req := BatchRequest{Ops: []BatchOp{{Op: OpWrite, Key: "key-1", Value: &v}, {Op: OpWrite, Key: "key-2", Value: &v}, {Op: OpRead, Key: "key-3"}, {Op: OpRead, Key: "key-4"}}}
	body, _ := json.Marshal(req)
	rs := []BatchResult{{Status: 200, Value: &v, Version: "00000000001764806400000000001-abc"}, {Status: 200, Value: &v, Version: "00000000001764806400000000001-abc"}}
	answer, _ := json.Marshal(BatchAnswer{Results: rs})
	b.Run("request/encoding-json", func(b *testing.B) {
		for b.Loop() {
			json.Marshal(req)
			strictBatchRequest(body)
		}
	})
	b.Run("request/hand", func(b *testing.B) {
		for b.Loop() {
			req.AppendJSON(make([]byte, 0, req.Size()))
			DecodeBatchRequest(body)
		}
	})
	b.Run("answer/encoding-json", func(b *testing.B) {
		for b.Loop() {
			json.Marshal(BatchAnswer{Results: rs})
			var a BatchAnswer
			json.Unmarshal(answer, &a)
		}
	})
	b.Run("answer/hand", func(b *testing.B) {
		for b.Loop() {
			BatchAnswer{Results: rs}.AppendJSON(make([]byte, 0, ResultsSize(rs)))
			DecodeBatchAnswer(answer)
		}
	})
}
