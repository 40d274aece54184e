package api

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"slices"
	"strconv"
)

// The batch bodies carry every value of a transaction in base64, and encoding/json spends
// most of a batch's CPU on them: it scans every byte twice through its state machine and
// reflects over every field. The codecs of this package therefore read and write the plain
// JSON that aft's own encoders produce (and most others: compact or indented objects, fields
// named exactly, strings of printable ASCII) by hand, and hand everything else to
// encoding/json, unchanged. A hand decoder that accepts an input answers exactly what
// encoding/json answers for it, and a hand encoder writes exactly encoding/json's bytes:
// json_test.go checks both by differential fuzzing.

// scanner reads the plain subset of JSON. Any method that meets something outside it (an
// escape, a byte outside printable ASCII, a null, a float, a repeated or unknown field...)
// returns false, and the caller gives the whole input to encoding/json instead.
type scanner struct {
	b []byte
	i int
}

// ws skips white space.
func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// next consumes c, after white space, when it comes next.
func (s *scanner) next(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// end reports whether only white space is left.
func (s *scanner) end() bool {
	s.ws()
	return s.i == len(s.b)
}

// str reads a string of printable ASCII without escapes. The bytes alias the input.
func (s *scanner) str() ([]byte, bool) {
	if !s.next('"') {
		return nil, false
	}
	for start := s.i; s.i < len(s.b); s.i++ {
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], true
		case c < 0x20 || c > 0x7e || c == '\\':
			return nil, false
		}
	}
	return nil, false
}

// base64 reads a string of standard base64 and decodes it, as encoding/json decodes a
// []byte (an empty string is an empty, non-nil slice).
func (s *scanner) base64() ([]byte, bool) {
	if !s.next('"') {
		return nil, false
	}
	n := bytes.IndexByte(s.b[s.i:], '"')
	if n < 0 {
		return nil, false
	}
	src := s.b[s.i : s.i+n]
	// base64 skips CR and LF, which a JSON string cannot hold raw; every other byte that
	// is not base64 (a backslash, a control) fails Decode.
	if bytes.IndexByte(src, '\r') >= 0 || bytes.IndexByte(src, '\n') >= 0 {
		return nil, false
	}
	out := make([]byte, base64.StdEncoding.DecodedLen(n))
	m, err := base64.StdEncoding.Decode(out, src)
	if err != nil {
		return nil, false
	}
	s.i += n + 1
	return out[:m], true
}

// int reads a non-negative integer of at most 9 digits, without a fraction or exponent (the
// caller's next delimiter refuses what follows a longer one, or a fraction).
func (s *scanner) int() (int, bool) {
	s.ws()
	start, n := s.i, 0
	for s.i < len(s.b) && s.i-start < 9 && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		n = n*10 + int(s.b[s.i]-'0')
		s.i++
	}
	if s.i == start || (s.b[start] == '0' && s.i-start > 1) {
		return 0, false
	}
	return n, true
}

// bool reads true or false.
func (s *scanner) bool() (bool, bool) {
	s.ws()
	switch {
	case bytes.HasPrefix(s.b[s.i:], []byte("true")):
		s.i += 4
		return true, true
	case bytes.HasPrefix(s.b[s.i:], []byte("false")):
		s.i += 5
		return false, true
	}
	return false, false
}

// object reads an object, calling field with each member's name and the scanner at its
// value; field reads the value, or returns false to give up.
func (s *scanner) object(field func(name []byte) bool) bool {
	if !s.next('{') {
		return false
	}
	if s.next('}') {
		return true
	}
	for {
		name, ok := s.str()
		if !ok || !s.next(':') || !field(name) {
			return false
		}
		if !s.next(',') {
			return s.next('}')
		}
	}
}

// array reads an array, calling elem with the scanner at each element.
func (s *scanner) array(elem func() bool) bool {
	if !s.next('[') {
		return false
	}
	if s.next(']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		if !s.next(',') {
			return s.next(']')
		}
	}
}

// once records that a field of bit was read, and reports false when it was read before
// (encoding/json lets the last of repeated fields win; the scanner gives those up).
func once(seen *uint, bit uint) bool {
	if *seen&bit != 0 {
		return false
	}
	*seen |= bit
	return true
}

// appendString appends s as encoding/json writes a string.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // escapes, HTML-safe, invalid UTF-8 as U+FFFD
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendBase64 appends v as encoding/json writes a []byte: null when nil.
func appendBase64(b, v []byte) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	b = append(b, '"')
	n := len(b)
	b = slices.Grow(b, base64.StdEncoding.EncodedLen(len(v))+1)[:n+base64.StdEncoding.EncodedLen(len(v))]
	encodeBase64(b[n:], v)
	return append(b, '"')
}

// base64Pairs maps 12 bits to the two characters of standard base64 that encode them.
var base64Pairs = func() (t [4096]uint16) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := range t {
		t[i] = uint16(alphabet[i>>6])<<8 | uint16(alphabet[i&63])
	}
	return t
}()

// encodeBase64 is base64.StdEncoding.Encode(dst, src), about 1.7 times as fast: six bytes
// of src at a time become eight characters by four lookups of twelve bits each. The
// values of a batch are most of its bytes, and their encoding was a fifth of a batched
// transaction's CPU in aft serve. dst holds EncodedLen(len(src)) bytes.
func encodeBase64(dst, src []byte) {
	di, si := 0, 0
	for ; si+8 <= len(src); si += 6 { // an 8-byte load of which 6 bytes are used
		v := binary.BigEndian.Uint64(src[si:])
		binary.BigEndian.PutUint64(dst[di:], uint64(base64Pairs[v>>52])<<48|uint64(base64Pairs[v>>40&0xfff])<<32|
			uint64(base64Pairs[v>>28&0xfff])<<16|uint64(base64Pairs[v>>16&0xfff]))
		di += 8
	}
	base64.StdEncoding.Encode(dst[di:], src[si:])
}

// appendField appends ,"name": (or "name": first in an object, when b ends with '{').
func appendField(b []byte, name string) []byte {
	if b[len(b)-1] != '{' {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, name...)
	return append(b, '"', ':')
}

// appendInt appends n.
func appendInt(b []byte, n int) []byte { return strconv.AppendInt(b, int64(n), 10) }
