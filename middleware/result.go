package middleware

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aft-shim/aft/api"
)

// MaxResultBytes is the largest result a commit may store (http-api.md: 1 MiB).
const MaxResultBytes = 1 << 20

// resultMagic starts every stored result the middleware writes.
const resultMagic = "AFT-RESULT 1\n"

// ErrNotResult is returned by Result.UnmarshalBinary for bytes the middleware did not
// write (a commit of another client under the same idempotency key).
var ErrNotResult = errors.New("not a stored result of the middleware")

// Fingerprint identifies a request, to tell a retry of it from another request that reuses
// its idempotency key: the function, the method, the path, the query and the SHA-256 of
// the body.
type Fingerprint struct {
	Function string `json:"function"`
	Method   string `json:"method"`
	Path     string `json:"path"`
	// Query is the raw query as sent (without "?"), "" for none: "a=1&b=2" and "b=2&a=1"
	// are different requests, as a function may read them differently.
	Query      string `json:"query"`
	BodySHA256 string `json:"body_sha256"` // hex

	// AnyQuery marks a fingerprint stored before the query was part of it (its JSON has
	// no "query" field): it matches a request whatever its query, as it did when it was
	// stored. Such results expire with the shim's --result-retention (24h by default),
	// so after that every stored fingerprint holds its query. Refusing them instead would
	// answer 422 to an honest retry, across an upgrade, of a request that committed.
	AnyQuery bool `json:"-"`
}

// UnmarshalJSON decodes a fingerprint, setting AnyQuery when it has no "query" field.
func (f *Fingerprint) UnmarshalJSON(b []byte) error {
	type plain Fingerprint // without this method
	var x struct {
		plain
		Query *string `json:"query"`
	}
	if err := json.Unmarshal(b, &x); err != nil {
		return err
	}
	*f = Fingerprint(x.plain)
	f.Query, f.AnyQuery = "", x.Query == nil
	if x.Query != nil {
		f.Query = *x.Query
	}
	return nil
}

// matches reports whether req, the fingerprint of a request, is the request that f, a
// stored fingerprint, was taken of.
func (f Fingerprint) matches(req Fingerprint) bool {
	if f.AnyQuery {
		f.Query, f.AnyQuery = req.Query, req.AnyQuery
	}
	return f == req
}

// String names the request f was taken of, for error messages.
func (f Fingerprint) String() string {
	q := ""
	if f.Query != "" {
		q = "?" + f.Query
	}
	return fmt.Sprintf("%s %s%s (body sha256 %.12s…) to function %q", f.Method, f.Path, q, f.BodySHA256, f.Function)
}

// fingerprint returns the fingerprint of r with body to function.
func fingerprint(function string, r *http.Request, body []byte) Fingerprint {
	sum := sha256.Sum256(body)
	return Fingerprint{Function: function, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, BodySHA256: hex.EncodeToString(sum[:])}
}

// Result is the answer of a committed attempt, stored with its commit (the shim keeps it
// with the idempotency key, and begin returns it) so that a duplicate gets it again.
//
// Encoded, a Result is the line "AFT-RESULT 1", then one line of JSON with every field but
// Body, then the body's raw bytes: compact (no base64) and readable with a glance.
type Result struct {
	Status int         `json:"status"`
	Header http.Header `json:"header,omitempty"` // the function's headers, less hop-by-hop ones, Date, Content-Length and X-Aft-*
	// Attempts is the number of the attempt that committed, as counted by the middleware
	// that ran it.
	Attempts int `json:"attempts"`
	// Request is the fingerprint of the request answered.
	Request Fingerprint `json:"request"`
	// BodyOmitted says that the body did not fit in MaxResultBytes: the first caller got
	// it, but it is not stored, and a duplicate gets the status and headers with an empty
	// body and X-Aft-Body-Omitted: true. BodyBytes and BodySHA256 describe the body.
	BodyOmitted bool   `json:"body_omitted,omitempty"`
	BodyBytes   int64  `json:"body_bytes"`
	BodySHA256  string `json:"body_sha256"`
	Body        []byte `json:"-"`
}

// MarshalBinary encodes r.
func (r Result) MarshalBinary() ([]byte, error) {
	head, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode result: %w", err)
	}
	b := make([]byte, 0, len(resultMagic)+len(head)+1+len(r.Body))
	b = append(b, resultMagic...)
	b = append(b, head...)
	b = append(b, '\n')
	return append(b, r.Body...), nil
}

// UnmarshalBinary decodes what MarshalBinary encoded; bytes of another format give an
// error matching ErrNotResult.
func (r *Result) UnmarshalBinary(b []byte) error {
	rest, ok := bytes.CutPrefix(b, []byte(resultMagic))
	if !ok {
		return ErrNotResult
	}
	head, body, ok := bytes.Cut(rest, []byte{'\n'})
	if !ok {
		return fmt.Errorf("decode result: %w: no end of the header line", ErrNotResult)
	}
	var x Result
	if err := json.Unmarshal(head, &x); err != nil {
		return fmt.Errorf("decode result: %w: %v", ErrNotResult, err)
	}
	if x.Status < 100 || x.Status > 999 {
		return fmt.Errorf("decode result: %w: status %d", ErrNotResult, x.Status)
	}
	if len(body) > 0 {
		x.Body = body
	}
	*r = x
	return nil
}

// newResult returns the result of a response.
func newResult(status int, h http.Header, body []byte, attempts int, fp Fingerprint) Result {
	sum := sha256.Sum256(body)
	return Result{Status: status, Header: storedHeader(h), Attempts: attempts, Request: fp,
		BodyBytes: int64(len(body)), BodySHA256: hex.EncodeToString(sum[:]), Body: body}
}

// encodeResult encodes r in at most limit bytes: with its body if that fits, else
// without it (BodyOmitted), else also without the headers but Content-Type.
func encodeResult(r Result, limit int) ([]byte, error) {
	b, err := r.MarshalBinary()
	if err != nil || len(b) <= limit {
		return b, err
	}
	r.Body, r.BodyOmitted = nil, true
	if b, err = r.MarshalBinary(); err != nil || len(b) <= limit {
		return b, err
	}
	h := http.Header{}
	if ct := r.Header.Values("Content-Type"); len(ct) > 0 {
		h["Content-Type"] = ct[:1]
	}
	r.Header = h
	if b, err = r.MarshalBinary(); err != nil || len(b) <= limit {
		return b, err
	}
	return nil, fmt.Errorf("encode result: %d bytes without body and headers, limit %d", len(b), limit)
}

// hopHeaders are not stored nor replayed: they describe one connection or one message.
var hopHeaders = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Proxy-Authenticate": true,
	"Proxy-Authorization": true, "Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"Content-Length": true, "Date": true,
}

// storedHeader returns the headers of a function's answer that are stored and answered:
// all but hop-by-hop ones, Content-Length, Date and the middleware's own X-Aft-*.
func storedHeader(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for k, vs := range h {
		ck := http.CanonicalHeaderKey(k)
		if hopHeaders[ck] || strings.HasPrefix(ck, api.HeaderPrefix) || len(vs) == 0 {
			continue
		}
		out[ck] = append([]string(nil), vs...)
	}
	return out
}
