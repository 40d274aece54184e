// Package client is the Go client of the shim's HTTP API (spec/http-api.md). The
// middleware, the workloads and the bench use it; so can functions written in Go.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"strconv"
	"strings"

	"github.com/aft-shim/aft/api"
)

// Client talks to one shim. It is safe for concurrent use.
type Client struct {
	base  string
	hc    *http.Client
	token TokenSource       // WithToken, WithTokenSource: presented on every request; nil for none
	https http.RoundTripper // of https:// shims: WithTLS's, or Credentials' CA bundle (CATransport)
	nodes []*node           // with WithNodes: every node, base first (nodes.go)
	bal   balance
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the client send its requests with hc (default: a client over a
// Transport of its own), through NoResend of its transport: a call in a transaction is
// never sent twice.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithToken makes the client present token (Authorization: Bearer) on every request, as a
// shim run with --auth-file requires (http-api.md, "Callers and tenants"). An empty token
// sends none.
func WithToken(token string) Option {
	if token == "" {
		return WithTokenSource(nil)
	}
	return WithTokenSource(staticToken(token))
}

// TokenSource gives the token a client presents. Token is called for every request, so a
// source may follow a token that changes (FileToken); an empty token presents none.
type TokenSource interface {
	Token() string
}

// WithTokenSource makes the client present the token of src (Authorization: Bearer) on
// every request; nil presents none. Credentials.Options gives a FileToken.
func WithTokenSource(src TokenSource) Option {
	return func(c *Client) { c.token = src }
}

type staticToken string

func (t staticToken) Token() string { return string(t) }

// WithTLS makes the client reach https:// shims with cfg (a CA bundle of its own, a client
// certificate), through an http.Transport that never resends (NoResend). It is ignored
// when WithHTTPClient gives the client.
func WithTLS(cfg *tls.Config) Option {
	return func(c *Client) {
		if cfg != nil {
			c.https = HTTPSTransport(cfg)
		}
	}
}

// New returns a client of the shim at baseURL, such as "http://127.0.0.1:7654".
func New(baseURL string, opts ...Option) *Client {
	c := &Client{base: strings.TrimRight(baseURL, "/")}
	c.nodes = []*node{{base: c.base}}
	for _, o := range opts {
		o(c)
	}
	if c.hc == nil {
		t := &Transport{}
		if c.https != nil {
			t.Fallback = NoResend(c.https)
		}
		c.hc = &http.Client{Transport: t}
	}
	c.hc = NoResendClient(c.hc)
	return c
}

// Txn describes a transaction, as begin, status, commit and abort answer.
type Txn struct {
	ID      string
	Status  string // running, committed, aborted or fenced
	Attempt int
	Version string // commit version, when committed
	Result  []byte // the stored result, when Begin found the idempotency key committed
}

// Committed reports whether the transaction is committed.
func (t Txn) Committed() bool { return t.Status == "committed" }

// BeginOptions are the options of BeginWith.
type BeginOptions struct {
	IdemKey    string // idempotency key of the logical request; "" for none
	FenceOlder bool   // fence running attempts of IdemKey at once
	// After is the Version an earlier commit answered, on any node: the transaction sees
	// that commit (Aft-After; a node that cannot catch up in time answers 503
	// not_caught_up, ErrNotCaughtUp).
	After string
}

// Begin starts a transaction with an optional idempotency key (""). When the key already
// committed, the answer is the winner, with Status "committed" and its stored Result.
func (c *Client) Begin(ctx context.Context, idemKey string) (Txn, error) {
	return c.BeginWith(ctx, BeginOptions{IdemKey: idemKey})
}

// BeginWith starts a transaction with options.
func (c *Client) BeginWith(ctx context.Context, o BeginOptions) (Txn, error) {
	return c.txnCall(ctx, "begin", http.MethodPost, "/v1/txns", o.header(), nil)
}

// header returns the headers of a begin with o.
func (o BeginOptions) header() http.Header {
	h := http.Header{}
	if o.IdemKey != "" {
		h.Set(api.HeaderIdempotencyKey, o.IdemKey)
	}
	if o.FenceOlder {
		h.Set(api.HeaderFenceOlder, "true")
	}
	if o.After != "" {
		h.Set(api.HeaderAfter, o.After)
	}
	return h
}

// Status returns the state of transaction id.
func (c *Client) Status(ctx context.Context, id string) (Txn, error) {
	return c.txnCall(ctx, "status", http.MethodGet, "/v1/txns/"+escape(id), nil, nil)
}

// Commit commits transaction id, storing result (nil for none) with it. A commit that lost
// to another attempt of its idempotency key returns an error matching ErrFenced whose
// *Error names the winner.
func (c *Client) Commit(ctx context.Context, id string, result []byte) (Txn, error) {
	return c.txnCall(ctx, "commit", http.MethodPost, "/v1/txns/"+escape(id)+"/commit", nil, result)
}

// Abort aborts transaction id.
func (c *Client) Abort(ctx context.Context, id string) (Txn, error) {
	return c.txnCall(ctx, "abort", http.MethodPost, "/v1/txns/"+escape(id)+"/abort", nil, nil)
}

// Value is what a read returns.
type Value struct {
	Bytes    []byte
	Version  string // the committed version read; "" for the transaction's own write
	OwnWrite bool   // answered from the transaction's own write buffer
}

// Get reads key in transaction id. A key with no visible version returns an error matching
// ErrKeyNotFound.
func (c *Client) Get(ctx context.Context, id, key string) (Value, error) {
	resp, err := c.do(ctx, http.MethodGet, keyPath(id, key), nil, nil)
	if err != nil {
		return Value{}, fmt.Errorf("read %q: %w", key, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e := decodeError(resp)
		e.Version = resp.Header.Get(api.HeaderVersion)
		return Value{}, fmt.Errorf("read %q: %w", key, e)
	}
	b, err := readAll(resp)
	if err != nil {
		return Value{}, fmt.Errorf("read %q: %w", key, err)
	}
	return Value{Bytes: b, Version: resp.Header.Get(api.HeaderVersion), OwnWrite: resp.Header.Get(api.HeaderOwnWrite) == "true"}, nil
}

// Put writes value as key in transaction id (visible to others once it commits).
func (c *Client) Put(ctx context.Context, id, key string, value []byte) error {
	if value == nil {
		value = []byte{}
	}
	return c.noContent(ctx, "write", http.MethodPut, keyPath(id, key), value, key)
}

// Delete deletes key in transaction id.
func (c *Client) Delete(ctx context.Context, id, key string) error {
	return c.noContent(ctx, "delete", http.MethodDelete, keyPath(id, key), nil, key)
}

func (c *Client) noContent(ctx context.Context, op, method, path string, body []byte, key string) error {
	resp, err := c.do(ctx, method, path, nil, body)
	if err != nil {
		return fmt.Errorf("%s %q: %w", op, key, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("%s %q: %w", op, key, decodeError(resp))
	}
	io.Copy(io.Discard, resp.Body)
	return nil
}

func (c *Client) txnCall(ctx context.Context, op, method, path string, h http.Header, body []byte) (Txn, error) {
	resp, err := c.do(ctx, method, path, h, body)
	if err != nil {
		return Txn{}, fmt.Errorf("%s: %w", op, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		return Txn{}, fmt.Errorf("%s: %w", op, decodeError(resp))
	}
	b, err := readAll(resp)
	if err != nil {
		return Txn{}, fmt.Errorf("%s: read answer: %w", op, err)
	}
	j, _, err := api.DecodeBeginAnswer(b)
	if err != nil {
		return Txn{}, fmt.Errorf("%s: decode answer: %w", op, err)
	}
	t, err := txnOf(j)
	if err != nil {
		return Txn{}, fmt.Errorf("%s: %w", op, err)
	}
	if path == "/v1/txns" {
		c.bind(t.ID, baseOf(resp))
	}
	return t, nil
}

// baseOf returns the base URL of the node that answered resp: the Aft-Node a shim node on a
// shared store names itself by (the begin may have gone through a load balancer), else the
// scheme and host the request went to; "" when neither is known.
func baseOf(resp *http.Response) string {
	if node := resp.Header.Get(api.HeaderNode); node != "" {
		return strings.TrimRight(node, "/")
	}
	if resp.Request == nil || resp.Request.URL == nil {
		return ""
	}
	return resp.Request.URL.Scheme + "://" + resp.Request.URL.Host
}

// txnOf returns the Txn that j describes.
func txnOf(j api.TxnAnswer) (Txn, error) {
	t := Txn{ID: j.ID, Status: j.Status, Attempt: j.Attempt, Version: j.Version}
	if j.Result != nil {
		var err error
		if t.Result, err = base64.StdEncoding.DecodeString(*j.Result); err != nil {
			return Txn{}, fmt.Errorf("decode result: %w", err)
		}
	}
	return t, nil
}

// do sends a request: a begin to a node chosen by the balancing (nodes.go), retried on the
// next node when it could not connect, a transaction's call to the transaction's node.
func (c *Client) do(ctx context.Context, method, path string, h http.Header, body []byte) (*http.Response, error) {
	if path != "/v1/txns" || len(c.nodes) < 2 {
		base := c.base
		if id := txnOfPath(path); id != "" {
			base = c.baseOf(id)
		}
		return c.send(ctx, method, base+path, h, body)
	}
	var err error
	for try := range len(c.nodes) {
		base := c.beginBase(try)
		var resp *http.Response
		if resp, err = c.send(ctx, method, base+path, h, body); err == nil || !unreachable(err) {
			return resp, err
		}
		c.markDown(base)
	}
	return nil, err
}

func (c *Client) send(ctx context.Context, method, url string, h http.Header, body []byte) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, err
	}
	for k, vs := range h {
		req.Header[k] = vs
	}
	c.authorize(req.Header)
	return c.hc.Do(req)
}

// authorize sets the Authorization header of h to the client's token, when it has one.
func (c *Client) authorize(h http.Header) {
	if c.token == nil {
		return
	}
	if t := c.token.Token(); t != "" {
		h.Set("Authorization", "Bearer "+t)
	}
}

// RoundTripper returns an http.RoundTripper that sends a request as the client sends its
// own: through the client's transport (its TLS configuration), at most once (NoResend),
// with the client's token as the Authorization header in place of any the request has.
// The request's URL is used as it is. The middleware's relay passes a function's calls on
// to the shim through it, so that the function never holds the token. An http.Client
// given with WithHTTPClient lends its Transport only: its Timeout does not apply.
func (c *Client) RoundTripper() http.RoundTripper { return relayTransport{c} }

type relayTransport struct{ c *Client }

func (t relayTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	out := *req // a RoundTripper must not change the request it is given
	out.Header = req.Header.Clone()
	if out.Header == nil {
		out.Header = http.Header{}
	}
	out.Header.Del("Authorization")
	t.c.authorize(out.Header)
	return t.c.hc.Transport.RoundTrip(&out)
}

func keyPath(id, key string) string { return "/v1/txns/" + escape(id) + "/keys/" + escape(key) }

// escape percent-encodes every byte but [A-Za-z0-9_~-]: '.' too, so that a key "." or ".."
// never looks like a path step to anything between the client and the shim.
func escape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '~' {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// Keys lists committed keys that start with prefix and sort after after, up to limit (0:
// the shim's default of 1,000), outside any transaction. next is the after of the next
// page, "" when the listing is complete. Keys, after and next are the keys themselves; on
// the wire they travel in base64.
func (c *Client) Keys(ctx context.Context, prefix, after string, limit int) (keys []string, next string, err error) {
	q := neturl.Values{}
	q.Set("prefix", prefix)
	q.Set("after", base64.StdEncoding.EncodeToString([]byte(after)))
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	resp, err := c.do(ctx, http.MethodGet, "/v1/keys?"+q.Encode(), nil, nil)
	if err != nil {
		return nil, "", fmt.Errorf("list keys: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("list keys: %w", decodeError(resp))
	}
	var j struct {
		Keys []string `json:"keys"`
		Next *string  `json:"next"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&j); err != nil {
		return nil, "", fmt.Errorf("list keys: decode answer: %w", err)
	}
	for _, k := range j.Keys {
		b, err := base64.StdEncoding.DecodeString(k)
		if err != nil {
			return nil, "", fmt.Errorf("list keys: decode key: %w", err)
		}
		keys = append(keys, string(b))
	}
	if j.Next != nil {
		b, err := base64.StdEncoding.DecodeString(*j.Next)
		if err != nil {
			return nil, "", fmt.Errorf("list keys: decode next: %w", err)
		}
		next = string(b)
	}
	return keys, next, nil
}

// readAll reads the body of resp in one buffer of its declared length, when it declares
// one (io.ReadAll and json.Decoder would grow theirs from 512 bytes, copying as they go).
func readAll(resp *http.Response) ([]byte, error) {
	if n := resp.ContentLength; n >= 0 && n <= 64<<20 {
		b := make([]byte, n)
		_, err := io.ReadFull(resp.Body, b)
		return b, err
	}
	return io.ReadAll(resp.Body)
}
