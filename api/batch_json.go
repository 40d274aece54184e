package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
)

// TxnAnswer is the body of the begin, status, commit and abort answers (http-api.md):
// Version (once committed) and Result (base64 of a committed idempotency key's stored
// result) are additions the README documents.
type TxnAnswer struct {
	ID      string  `json:"id"`
	Status  string  `json:"status"`
	Attempt int     `json:"attempt,omitempty"`
	Version string  `json:"version,omitempty"`
	Result  *string `json:"result,omitempty"`
}

// BeginBatchAnswer is the answer of a begin that carried ops: the begin's fields and one
// result per op. A begin answered with a committed key's winner runs no ops and answers a
// TxnAnswer alone (Results nil).
type BeginBatchAnswer struct {
	TxnAnswer
	Results []BatchResult `json:"results"`
}

// ErrMoreJSON is DecodeBatchRequest's error for a body with more after its object.
var ErrMoreJSON = errors.New("a batch is one JSON object; more follows it")

// DecodeBatchRequest decodes a batch body as a json.Decoder that disallows unknown fields
// would, and refuses more after the object.
func DecodeBatchRequest(body []byte) (BatchRequest, error) {
	if r, ok := scanBatchRequest(body); ok {
		return r, nil
	}
	return strictBatchRequest(body)
}

// strictBatchRequest is DecodeBatchRequest by encoding/json alone.
func strictBatchRequest(body []byte) (BatchRequest, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var r BatchRequest
	if err := dec.Decode(&r); err != nil {
		return BatchRequest{}, err
	}
	if dec.More() {
		return BatchRequest{}, ErrMoreJSON
	}
	return r, nil
}

func scanBatchRequest(body []byte) (BatchRequest, bool) {
	s := &scanner{b: body}
	var r BatchRequest
	var seen uint
	ok := s.object(func(name []byte) bool {
		if string(name) != "ops" || !once(&seen, 1) {
			return false
		}
		r.Ops = make([]BatchOp, 0, bytes.Count(body, []byte(`"op"`)))
		return s.array(func() bool {
			o, ok := scanOp(s)
			r.Ops = append(r.Ops, o)
			return ok
		})
	})
	return r, ok && s.end()
}

func scanOp(s *scanner) (BatchOp, bool) {
	var o BatchOp
	var seen uint
	ok := s.object(func(name []byte) bool {
		var ok bool
		var v []byte
		switch string(name) {
		case "op":
			v, ok = s.str()
			o.Op = string(v)
			return ok && once(&seen, 1)
		case "key":
			v, ok = s.str()
			o.Key = string(v)
			return ok && once(&seen, 2)
		case "value":
			v, ok = s.base64()
			o.Value = &v
			return ok && once(&seen, 4)
		}
		return false
	})
	return o, ok
}

// AppendJSON appends r as json.Marshal writes it.
func (r BatchRequest) AppendJSON(b []byte) []byte {
	b = append(b, `{"ops":`...)
	if r.Ops == nil {
		return append(b, "null}"...)
	}
	b = append(b, '[')
	for i, o := range r.Ops {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"op":`...)
		b = appendString(b, o.Op)
		b = append(b, `,"key":`...)
		b = appendString(b, o.Key)
		if o.Value != nil {
			b = append(b, `,"value":`...)
			b = appendBase64(b, *o.Value)
		}
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// Size is at least the length of r's JSON, to allocate it at once (a string's escapes take
// at most 6 bytes a byte).
func (r BatchRequest) Size() int {
	n := 16
	for _, o := range r.Ops {
		n += 32 + 6*(len(o.Op)+len(o.Key))
		if o.Value != nil {
			n += 12 + base64.StdEncoding.EncodedLen(len(*o.Value))
		}
	}
	return n
}

// AppendJSON appends a as json.Marshal writes it.
func (a BatchAnswer) AppendJSON(b []byte) []byte {
	b = append(b, `{"results":`...)
	b = appendResults(b, a.Results)
	return append(b, '}')
}

// DecodeBatchAnswer decodes a batch's answer as json.Unmarshal would.
func DecodeBatchAnswer(body []byte) (BatchAnswer, error) {
	s := &scanner{b: body}
	var a BatchAnswer
	var seen uint
	ok := s.object(func(name []byte) bool {
		if string(name) != "results" || !once(&seen, 1) {
			return false
		}
		var good bool
		a.Results, good = scanResults(s, body)
		return good
	})
	if ok && s.end() {
		return a, nil
	}
	a = BatchAnswer{}
	err := json.Unmarshal(body, &a)
	return a, err
}

// AppendJSON appends t as json.Marshal writes it.
func (t TxnAnswer) AppendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, t.ID)
	b = append(b, `,"status":`...)
	b = appendString(b, t.Status)
	if t.Attempt != 0 {
		b = append(b, `,"attempt":`...)
		b = appendInt(b, t.Attempt)
	}
	if t.Version != "" {
		b = append(b, `,"version":`...)
		b = appendString(b, t.Version)
	}
	if t.Result != nil {
		b = append(b, `,"result":`...)
		b = appendString(b, *t.Result)
	}
	return append(b, '}')
}

// AppendJSON appends a as json.Marshal writes it.
func (a BeginBatchAnswer) AppendJSON(b []byte) []byte {
	b = a.TxnAnswer.AppendJSON(b)
	b = append(b[:len(b)-1], `,"results":`...)
	b = appendResults(b, a.Results)
	return append(b, '}')
}

// DecodeBeginAnswer decodes the answer of a begin, with or without ops, as json.Unmarshal
// would into a TxnAnswer and a *[]BatchResult (nil when the answer has no results).
func DecodeBeginAnswer(body []byte) (TxnAnswer, *[]BatchResult, error) {
	s := &scanner{b: body}
	var t TxnAnswer
	var results *[]BatchResult
	var seen uint
	ok := s.object(func(name []byte) bool {
		var ok bool
		var v []byte
		switch string(name) {
		case "id":
			v, ok = s.str()
			t.ID = string(v)
			return ok && once(&seen, 1)
		case "status":
			v, ok = s.str()
			t.Status = string(v)
			return ok && once(&seen, 2)
		case "attempt":
			t.Attempt, ok = s.int()
			return ok && once(&seen, 4)
		case "version":
			v, ok = s.str()
			t.Version = string(v)
			return ok && once(&seen, 8)
		case "result":
			v, ok = s.str()
			r := string(v)
			t.Result = &r
			return ok && once(&seen, 16)
		case "results":
			var rs []BatchResult
			rs, ok = scanResults(s, body)
			results = &rs
			return ok && once(&seen, 32)
		}
		return false
	})
	if ok && s.end() {
		return t, results, nil
	}
	var out struct {
		TxnAnswer
		Results *[]BatchResult `json:"results"`
	}
	err := json.Unmarshal(body, &out)
	return out.TxnAnswer, out.Results, err
}

func appendResults(b []byte, rs []BatchResult) []byte {
	if rs == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, r := range rs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"status":`...)
		b = appendInt(b, r.Status)
		if r.Code != "" {
			b = append(b, `,"code":`...)
			b = appendString(b, r.Code)
		}
		if r.Error != "" {
			b = append(b, `,"error":`...)
			b = appendString(b, r.Error)
		}
		if r.Value != nil {
			b = append(b, `,"value":`...)
			b = appendBase64(b, *r.Value)
		}
		if r.Version != "" {
			b = append(b, `,"version":`...)
			b = appendString(b, r.Version)
		}
		if r.OwnWrite {
			b = append(b, `,"own_write":true`...)
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

// ResultsSize is at least the length of the JSON of rs, to allocate it at once.
func ResultsSize(rs []BatchResult) int {
	n := 64
	for _, r := range rs {
		n += 64 + 6*(len(r.Code)+len(r.Error)+len(r.Version))
		if r.Value != nil {
			n += 12 + base64.StdEncoding.EncodedLen(len(*r.Value))
		}
	}
	return n
}

func scanResults(s *scanner, body []byte) ([]BatchResult, bool) {
	rs := make([]BatchResult, 0, bytes.Count(body, []byte(`"status"`)))
	ok := s.array(func() bool {
		r, ok := scanResult(s)
		rs = append(rs, r)
		return ok
	})
	return rs, ok
}

func scanResult(s *scanner) (BatchResult, bool) {
	var r BatchResult
	var seen uint
	ok := s.object(func(name []byte) bool {
		var ok bool
		var v []byte
		switch string(name) {
		case "status":
			r.Status, ok = s.int()
			return ok && once(&seen, 1)
		case "code":
			v, ok = s.str()
			r.Code = string(v)
			return ok && once(&seen, 2)
		case "error":
			v, ok = s.str()
			r.Error = string(v)
			return ok && once(&seen, 4)
		case "value":
			v, ok = s.base64()
			r.Value = &v
			return ok && once(&seen, 8)
		case "version":
			v, ok = s.str()
			r.Version = string(v)
			return ok && once(&seen, 16)
		case "own_write":
			r.OwnWrite, ok = s.bool()
			return ok && once(&seen, 32)
		}
		return false
	})
	return r, ok
}
