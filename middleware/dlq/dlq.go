// Package dlq is the dead-letter queue of the aft middleware, kept in the shim itself: a
// request whose last attempt failed is recorded, in a committed shim transaction, as a
// JSON value under the key Prefix + base64url(idempotency key). Operators list the dead
// requests (`aft dlq list`) and send them again with their idempotency key (`aft dlq
// replay`), which deletes each entry that the target then answers with a 2xx.
package dlq

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aft-shim/aft/api"
	"github.com/aft-shim/aft/client"
)

// Prefix starts the shim key of every dead request.
const Prefix = "aft/dlq/"

// Key returns the shim key of the dead request with idempotency key idemKey.
func Key(idemKey string) string {
	return Prefix + base64.RawURLEncoding.EncodeToString([]byte(idemKey))
}

// ErrNotFound is returned for a key without a dead request.
var ErrNotFound = errors.New("no dead request with this key")

// Entry is one dead request.
type Entry struct {
	Key       string    `json:"key"`        // the idempotency key of the request
	Function  string    `json:"function"`   // the function it was for
	LastError string    `json:"last_error"` // how its last attempt failed
	Attempts  int       `json:"attempts"`   // attempts made
	Time      time.Time `json:"time"`       // when it was recorded
	Request   Request   `json:"request"`
}

// Request is the HTTP request of a dead request, enough to send it again.
type Request struct {
	Method string `json:"method"`
	URL    string `json:"url"` // path and query, as the middleware received them
	// Header holds the request's headers but the hop-by-hop ones and the credentials
	// (Authorization, Proxy-Authorization, Cookie), which are not stored: give them to
	// Replay again when the target needs them.
	Header http.Header `json:"header"`
	Body   []byte      `json:"body"` // base64 in the JSON
	// BodyOmitted says the body was too large for one shim value and is not stored:
	// such an entry cannot be replayed.
	BodyOmitted bool `json:"body_omitted,omitempty"`
}

// notStored are the request headers a dead request does not keep.
var notStored = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Te": true, "Trailer": true,
	"Transfer-Encoding": true, "Upgrade": true, "Content-Length": true,
	"Authorization": true, "Proxy-Authorization": true, "Cookie": true,
}

// StoredHeader returns the headers of h that an Entry keeps: all but the hop-by-hop ones,
// Content-Length, credentials and X-Aft-*.
func StoredHeader(h http.Header) http.Header {
	out := http.Header{}
	for k, vs := range h {
		ck := http.CanonicalHeaderKey(k)
		if notStored[ck] || strings.HasPrefix(ck, api.HeaderPrefix) {
			continue
		}
		out[ck] = append([]string(nil), vs...)
	}
	return out
}

// Put records e, replacing a dead request of the same key, in one committed shim
// transaction. When the shim refuses the value as too large, e is recorded without its
// body (Request.BodyOmitted).
func Put(ctx context.Context, c *client.Client, e Entry) error {
	err := put(ctx, c, e)
	if errors.Is(err, tooLarge) && len(e.Request.Body) > 0 {
		e.Request.Body, e.Request.BodyOmitted = nil, true
		err = put(ctx, c, e)
	}
	if err != nil {
		return fmt.Errorf("dlq put %q: %w", e.Key, err)
	}
	return nil
}

// tooLarge matches the shim's 413 answers (value_too_large, transaction_too_large).
var tooLarge = errors.New("too large")

func put(ctx context.Context, c *client.Client, e Entry) error {
	v, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return update(ctx, c, func(id string) error {
		err := c.Put(ctx, id, Key(e.Key), v)
		var ce *client.Error
		if errors.As(err, &ce) && ce.StatusCode == http.StatusRequestEntityTooLarge {
			return fmt.Errorf("%w: %w", tooLarge, err)
		}
		return err
	})
}

// Delete removes the dead request of idemKey, in one committed shim transaction. Deleting
// a key without one is no error.
func Delete(ctx context.Context, c *client.Client, idemKey string) error {
	if err := update(ctx, c, func(id string) error { return c.Delete(ctx, id, Key(idemKey)) }); err != nil {
		return fmt.Errorf("dlq delete %q: %w", idemKey, err)
	}
	return nil
}

// update runs write in a new shim transaction and commits it, or aborts it when write
// fails.
func update(ctx context.Context, c *client.Client, write func(id string) error) error {
	tx, err := c.Begin(ctx, "")
	if err != nil {
		return err
	}
	if err := write(tx.ID); err != nil {
		c.Abort(context.WithoutCancel(ctx), tx.ID)
		return err
	}
	_, err = c.Commit(ctx, tx.ID, nil)
	return err
}

// Get returns the dead request of idemKey, or an error matching ErrNotFound.
func Get(ctx context.Context, c *client.Client, idemKey string) (Entry, error) {
	es, err := read(ctx, c, []string{Key(idemKey)})
	if err != nil {
		return Entry{}, fmt.Errorf("dlq get %q: %w", idemKey, err)
	}
	if len(es) == 0 {
		return Entry{}, fmt.Errorf("dlq get %q: %w", idemKey, ErrNotFound)
	}
	return es[0], nil
}

// List returns every dead request, in the order of their shim keys.
func List(ctx context.Context, c *client.Client) ([]Entry, error) {
	var keys []string
	for after := ""; ; {
		page, next, err := c.Keys(ctx, Prefix, after, 0)
		if err != nil {
			return nil, fmt.Errorf("dlq list: %w", err)
		}
		keys = append(keys, page...)
		if next == "" {
			break
		}
		after = next
	}
	es, err := read(ctx, c, keys)
	if err != nil {
		return nil, fmt.Errorf("dlq list: %w", err)
	}
	return es, nil
}

// read reads the entries under keys in one read-only transaction (one consistent view);
// keys deleted meanwhile are left out.
func read(ctx context.Context, c *client.Client, keys []string) ([]Entry, error) {
	tx, err := c.Begin(ctx, "")
	if err != nil {
		return nil, err
	}
	defer c.Abort(context.WithoutCancel(ctx), tx.ID)
	var es []Entry
	for _, k := range keys {
		v, err := c.Get(ctx, tx.ID, k)
		if errors.Is(err, client.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var e Entry
		if err := json.Unmarshal(v.Bytes, &e); err != nil {
			return nil, fmt.Errorf("entry %q: %w", k, err)
		}
		es = append(es, e)
	}
	return es, nil
}

// ReplayOptions configure Replay.
type ReplayOptions struct {
	// Client sends the request (nil: http.DefaultClient).
	Client *http.Client
	// Header is added to the stored headers, for credentials the entry does not keep.
	Header http.Header
}

// Replay sends e's request again to target (the base URL of the proxy or gateway in front
// of the function; the stored path and query are appended to it), with Idempotency-Key
// e.Key, so that a request that did commit meanwhile is answered from its stored result
// and nothing runs twice. When the answer is a 2xx, the entry is deleted from the shim.
// Replay returns the status answered; the body is read and discarded.
func Replay(ctx context.Context, shim *client.Client, target string, e Entry, o ReplayOptions) (int, error) {
	if e.Request.BodyOmitted {
		return 0, fmt.Errorf("replay %q: the request body was too large to be recorded", e.Key)
	}
	u := strings.TrimRight(target, "/") + e.Request.URL
	req, err := http.NewRequestWithContext(ctx, e.Request.Method, u, bytes.NewReader(e.Request.Body))
	if err != nil {
		return 0, fmt.Errorf("replay %q: %w", e.Key, err)
	}
	for k, vs := range e.Request.Header {
		req.Header[k] = append([]string(nil), vs...)
	}
	for k, vs := range o.Header {
		req.Header[http.CanonicalHeaderKey(k)] = append([]string(nil), vs...)
	}
	req.Header.Set(api.HeaderIdempotencyKey, e.Key)
	hc := o.Client
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("replay %q: %w", e.Key, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("replay %q: target answered %s", e.Key, resp.Status)
	}
	if err := Delete(ctx, shim, e.Key); err != nil {
		return resp.StatusCode, fmt.Errorf("replay %q: answered %s, but the entry stays: %w", e.Key, resp.Status, err)
	}
	return resp.StatusCode, nil
}
