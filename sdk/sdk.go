// Package sdk is what a function written in Go uses to read and write through the aft shim
// inside the transaction that the aft middleware began for its invocation.
//
// The middleware (spec/middleware.md) begins a transaction per invocation and hands the
// function two headers: X-Aft-Txn-Id (api.HeaderTxnID), the transaction id of this
// attempt, and X-Aft-Shim (api.HeaderShim), the base URL of the shim holding it. FromRequest reads them; the returned Txn reads and
// writes keys in that transaction. The function never commits or aborts: the middleware
// commits when the function answers 2xx and aborts (and maybe retries) otherwise, so a
// function that meets a shim error should answer 5xx.
//
// A function calling another function passes X-Aft-Txn-Id on, so that the callee joins the
// caller's transaction instead of beginning its own: Txn.Call sends a request with the
// headers set, and Txn.Header returns them for other HTTP clients.
//
// A read of a key without a visible version returns an error matching ErrNotFound:
//
//	v, err := t.Get(ctx, "accounts/alice")
//	if errors.Is(err, sdk.ErrNotFound) {
//		// no such key
//	}
//
// Other errors of the shim are *client.Error values (errors.As) with the shim's status
// and stable code, and match the client package's sentinels, such as client.ErrFenced.
//
// The middleware relays a function's calls to the shim and presents its own token, so a
// function behind it needs none. A program that reaches a shim run with --auth-file
// directly presents a token (WithToken, WithTokenFile, or the environment's
// AFT_SHIM_TOKEN or AFT_SHIM_TOKEN_FILE), and trusts the CA of an https:// shim (WithCA or
// AFT_SHIM_CA); a missing or unknown token gets errors matching ErrUnauthorized.
package sdk

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/aft-shim/aft/api"
	"github.com/aft-shim/aft/client"
)

// Errors to match with errors.Is.
var (
	// ErrNotFound is returned by Get for a key with no visible version. It is the client
	// package's ErrKeyNotFound, so either sentinel matches.
	ErrNotFound = client.ErrKeyNotFound

	// ErrNoTxn is returned by FromRequest when a header of the middleware is missing:
	// the function is not running under the aft middleware.
	ErrNoTxn = errors.New("not running under the aft middleware")
)

// defaultHTTP sends the requests of every Txn that was not given its own client: one
// connection pool for all invocations of the function, not one per invocation. Like every
// client of a Txn it never sends a call twice: client.Transport (plain HTTP) sends each
// request once, and its fallback (https, proxies) is http.Transport through client.NoResend.
var defaultHTTP = &http.Client{Transport: &client.Transport{MaxIdlePerHost: 64}, Timeout: 60 * time.Second}

// Txn is the transaction of one function invocation. It is safe for concurrent use.
type Txn struct {
	id     string
	shim   string
	c      *client.Client
	hc     *http.Client // of Call, and of the shim but for an https:// shim with a CA (auth.go)
	access access       // WithToken, WithTokenFile, WithCA
	// tokenFrom says where the token came from, for error messages ("AFT_SHIM_TOKEN");
	// "" when the Txn presents none.
	tokenFrom string
}

// Option configures a Txn.
type Option func(*Txn)

// WithHTTPClient makes the Txn send its requests, to the shim and by Call, with hc
// (default: a client shared by all Txns, with a 60 s timeout per request), through
// client.NoResend of its transport: a request that carries the transaction is never sent
// twice.
func WithHTTPClient(hc *http.Client) Option { return func(t *Txn) { t.hc = hc } }

// FromRequest returns the transaction of the invocation r, named by its X-Aft-Txn-Id and
// X-Aft-Shim headers. Without them it returns an error matching ErrNoTxn.
func FromRequest(r *http.Request, opts ...Option) (*Txn, error) {
	return FromHeader(r.Header, opts...)
}

// FromHeader is FromRequest for the headers of a request.
func FromHeader(h http.Header, opts ...Option) (*Txn, error) {
	id, shim := h.Get(api.HeaderTxnID), h.Get(api.HeaderShim)
	switch {
	case id == "" && shim == "":
		return nil, fmt.Errorf("aft: no %s and %s headers: %w", api.HeaderTxnID, api.HeaderShim, ErrNoTxn)
	case id == "":
		return nil, fmt.Errorf("aft: no %s header: %w", api.HeaderTxnID, ErrNoTxn)
	case shim == "":
		return nil, fmt.Errorf("aft: no %s header: %w", api.HeaderShim, ErrNoTxn)
	}
	return New(shim, id, opts...)
}

// New returns transaction id of the shim at shimURL, for a function that learned them
// other than from its request's headers.
//
// A caller that reaches the shim directly, not through the middleware, may need a token
// and, for an https:// shim, a CA bundle: WithToken, WithTokenFile and WithCA give them,
// else the environment (AFT_SHIM_TOKEN, AFT_SHIM_TOKEN_FILE, AFT_SHIM_CA). New fails when a
// token file or CA bundle does not read.
func New(shimURL, id string, opts ...Option) (*Txn, error) {
	if id == "" {
		return nil, errors.New("aft: empty transaction id")
	}
	u, err := url.Parse(shimURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("aft: shim URL %q is not an http(s) URL", shimURL)
	}
	t := &Txn{id: id, shim: shimURL}
	for _, o := range opts {
		o(t)
	}
	own := t.hc != nil
	if own {
		t.hc = client.NoResendClient(t.hc)
	} else {
		t.hc = defaultHTTP
	}
	copts, from, err := shimAccess(shimURL, t.access, os.Getenv, t.hc, own)
	if err != nil {
		return nil, err
	}
	t.tokenFrom = from
	t.c = client.New(shimURL, copts...)
	return t, nil
}

// ID returns the transaction id.
func (t *Txn) ID() string { return t.id }

// Shim returns the base URL of the shim.
func (t *Txn) Shim() string { return t.shim }

// Client returns the client of the shim that t uses, for calls the SDK does not wrap.
func (t *Txn) Client() *client.Client { return t.c }

// Get reads key in the transaction: its own latest write, or a committed version that
// keeps the transaction's reads atomic. A key with no visible version returns an error
// matching ErrNotFound.
func (t *Txn) Get(ctx context.Context, key string) ([]byte, error) {
	v, err := t.c.Get(ctx, t.id, key)
	if err != nil {
		return nil, t.explain(err)
	}
	return v.Bytes, nil
}

// Put writes value as key in the transaction; others see it once the transaction commits.
func (t *Txn) Put(ctx context.Context, key string, value []byte) error {
	if err := t.c.Put(ctx, t.id, key, value); err != nil {
		return t.explain(err)
	}
	return nil
}

// Delete deletes key in the transaction.
func (t *Txn) Delete(ctx context.Context, key string) error {
	if err := t.c.Delete(ctx, t.id, key); err != nil {
		return t.explain(err)
	}
	return nil
}

// Header returns new headers that make a called function join this transaction: its
// X-Aft-Txn-Id and X-Aft-Shim.
func (t *Txn) Header() http.Header {
	h := http.Header{}
	h.Set(api.HeaderTxnID, t.id)
	h.Set(api.HeaderShim, t.shim)
	return h
}

// Call sends req, a request to another function, with the headers that make the callee
// join this transaction, and returns its response (whatever its status, as http.Client.Do
// does). req itself is not changed; the request sent is a copy bound to ctx. The caller
// closes the response body.
func (t *Txn) Call(ctx context.Context, req *http.Request) (*http.Response, error) {
	r := req.Clone(ctx)
	if r.Header == nil {
		r.Header = http.Header{}
	}
	for k, vs := range t.Header() {
		r.Header[k] = vs
	}
	resp, err := t.hc.Do(r)
	if err != nil {
		return nil, fmt.Errorf("aft: call: %w", err)
	}
	return resp, nil
}
