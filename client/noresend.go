package client

import (
	"io"
	"net/http"
	"strings"

	"github.com/aft-shim/aft/api"
)

// NoResend returns an http.RoundTripper that sends each request through base (nil:
// http.DefaultTransport) at most once. Every hop that carries a transaction id (client to
// shim, middleware to function, plugin to provider, a function calling another) must use
// it: a request that reached its server and was resent would run a second time in the same
// transaction, and its effects would commit twice. A failed request is an error to the
// caller; a retry is a new attempt with a new transaction, the middleware's to make.
//
// Why it is needed: http.Transport resends a request on a kept-alive connection that broke
// before the answer (the server may have run it) when the request is "replayable": its
// method is GET, HEAD, OPTIONS or TRACE, or it carries an Idempotency-Key or
// X-Idempotency-Key header, and it has no body or a body it can rewind (GetBody). NoResend
// sends a copy of the request that is not replayable; what a server gets is the same
// request:
//
//   - GetBody is cleared: a body cannot be rewound, so it is never sent twice.
//   - A GET, HEAD, OPTIONS or TRACE without body gets an empty body that is not nil. The
//     transport reads it as it writes the request, finds it empty and sends no body,
//     Content-Length or Transfer-Encoding, as for no body at all; but a body-less TRACE
//     goes out with an empty chunked body (the transport probes bodies of GET, HEAD,
//     DELETE, OPTIONS, PROPFIND and SEARCH only).
//   - Another method without body whose request carries Idempotency-Key or
//     X-Idempotency-Key sends those headers with their names in lower case, which the
//     transport does not look for: header names are case-insensitive (RFC 9110), so the
//     server sees the same header, and the request keeps its Content-Length: 0.
//
// The transport may still send a body-less POST, PUT, PATCH or DELETE again on another
// connection when not a byte of it was written: the server cannot have run it. The
// request given to RoundTrip is not modified.
func NoResend(base http.RoundTripper) http.RoundTripper {
	switch base.(type) {
	case noResend, *Transport: // Transport sends nothing twice
		return base
	}
	if base == nil {
		base = http.DefaultTransport
	}
	return noResend{base}
}

// NoResendClient returns a copy of hc (nil: a zero http.Client) whose transport is
// NoResend of hc's.
func NoResendClient(hc *http.Client) *http.Client {
	out := &http.Client{}
	if hc != nil {
		*out = *hc
	}
	out.Transport = NoResend(out.Transport)
	return out
}

type noResend struct{ base http.RoundTripper }

// idemHeaders are the headers that make http.Transport take a request as replayable.
var idemHeaders = []string{api.HeaderIdempotencyKey, "X-Idempotency-Key"}

func (n noResend) RoundTrip(req *http.Request) (*http.Response, error) {
	out := *req // a shallow copy, as req.WithContext makes
	out.GetBody = nil
	if out.Body == nil || out.Body == http.NoBody {
		switch out.Method {
		case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
			out.Body = emptyBody{}
		default:
			out.Header = lowerIdemHeaders(out.Header)
		}
	}
	return n.base.RoundTrip(&out)
}

// lowerIdemHeaders returns h, or a copy of it with the names of the headers that make a
// request replayable in lower case.
func lowerIdemHeaders(h http.Header) http.Header {
	var out http.Header
	for _, k := range idemHeaders {
		if vs, ok := h[k]; ok {
			if out == nil {
				out = h.Clone()
			}
			delete(out, k)
			out[strings.ToLower(k)] = vs
		}
	}
	if out == nil {
		return h
	}
	return out
}

// emptyBody is a body without bytes that the transport does not take for no body.
type emptyBody struct{}

func (emptyBody) Read([]byte) (int, error) { return 0, io.EOF }
func (emptyBody) Close() error             { return nil }
