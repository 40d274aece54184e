package workloads

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync/atomic"

	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/sdk"
	"github.com/aft-shim/aft/shim/store"
	"github.com/aft-shim/aft/shim/store/dynamodb"
	"github.com/aft-shim/aft/workloads/anomaly"
)

// kv is how a function execution reads and writes, in the way of its mode.
type kv interface {
	// read returns the documents of keys (the zero Doc for a key without a value).
	read(ctx context.Context, keys []string) ([]anomaly.Doc, error)
	put(ctx context.Context, key string, d anomaly.Doc) error
	// flush ends the function's writes: dynamodb-txn sends its transaction here.
	flush(ctx context.Context) error
	// call sends body to another function of the same request at url.
	call(ctx context.Context, url string, body []byte) (int, error)
}

// storeKV is plain mode: every read and write goes straight to the store, one at a time.
type storeKV struct {
	st store.Store
	hc *http.Client
}

func (k storeKV) read(ctx context.Context, keys []string) ([]anomaly.Doc, error) {
	docs := make([]anomaly.Doc, len(keys))
	for i, key := range keys {
		b, err := k.st.Get(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("get %s: %w", key, err)
		}
		if docs[i], err = anomaly.DecodeDoc(b); err != nil {
			return nil, err
		}
	}
	return docs, nil
}

func (k storeKV) put(ctx context.Context, key string, d anomaly.Doc) error {
	if err := k.st.Put(ctx, []store.Item{{Key: key, Value: d.Encode()}}); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

func (storeKV) flush(context.Context) error { return nil }

func (k storeKV) call(ctx context.Context, url string, body []byte) (int, error) {
	return post(ctx, k.hc, url, body, nil)
}

// sdkKV is aft mode: reads and writes in the transaction the middleware began.
type sdkKV struct{ t *sdk.Txn }

// read reads keys in one round trip (sdk.GetMany).
func (k sdkKV) read(ctx context.Context, keys []string) ([]anomaly.Doc, error) {
	got, err := k.t.GetMany(ctx, keys...)
	if err != nil {
		return nil, err
	}
	docs := make([]anomaly.Doc, len(keys))
	for i, key := range keys {
		b, ok := got[key]
		if !ok {
			continue
		}
		if docs[i], err = anomaly.DecodeDoc(b); err != nil {
			return nil, err
		}
	}
	return docs, nil
}

func (k sdkKV) put(ctx context.Context, key string, d anomaly.Doc) error {
	return k.t.Put(ctx, key, d.Encode())
}

func (sdkKV) flush(context.Context) error { return nil }

func (k sdkKV) call(ctx context.Context, url string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := k.t.Call(ctx, req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// txnFaults injects failures into DynamoDB transactions, as faults.Wrap does into store
// calls: a call that fails before it reaches the store, or a write that is applied and
// then reported failed.
type txnFaults struct {
	failRate, ambiguousRate float64
	count                   *atomic.Int64 // faults injected
}

// strike reports whether a fault of probability rate strikes, and counts it.
func (f txnFaults) strike(rate float64) bool {
	if rate <= 0 || rand.Float64() >= rate {
		return false
	}
	if f.count != nil {
		f.count.Add(1)
	}
	return true
}

// dynamoKV is dynamodb-txn mode: the function's reads in one TransactGetItems, its writes
// buffered and sent in one TransactWriteItems when it flushes. No idempotency, no fencing.
type dynamoKV struct {
	ds     *dynamodb.Store
	faults txnFaults
	hc     *http.Client
	buf    []store.Item
}

var errTxnInjected = errors.New("injected DynamoDB transaction fault")

func (k *dynamoKV) read(ctx context.Context, keys []string) ([]anomaly.Doc, error) {
	if k.faults.strike(k.faults.failRate) {
		return nil, errTxnInjected
	}
	vals, err := k.ds.Transact(ctx, nil, keys)
	if err != nil {
		return nil, err
	}
	docs := make([]anomaly.Doc, len(keys))
	for i, v := range vals {
		if docs[i], err = anomaly.DecodeDoc(v); err != nil {
			return nil, err
		}
	}
	return docs, nil
}

func (k *dynamoKV) put(_ context.Context, key string, d anomaly.Doc) error {
	k.buf = append(k.buf, store.Item{Key: key, Value: d.Encode()}) // Transact keeps the last of a key
	return nil
}

func (k *dynamoKV) flush(ctx context.Context) error {
	if len(k.buf) == 0 {
		return nil
	}
	if k.faults.strike(k.faults.failRate) {
		return errTxnInjected
	}
	if _, err := k.ds.Transact(ctx, k.buf, nil); err != nil {
		return err
	}
	k.buf = nil
	if k.faults.strike(k.faults.ambiguousRate) {
		return fmt.Errorf("applied, then reported lost: %w", errTxnInjected)
	}
	return nil
}

func (k *dynamoKV) call(ctx context.Context, url string, body []byte) (int, error) {
	return post(ctx, k.hc, url, body, nil)
}

// post sends body to url with the headers h and returns the status, the body read and
// dropped.
func post(ctx context.Context, hc *http.Client, url string, body []byte, h http.Header) (int, error) {
	status, _, err := postAnswer(ctx, hc, url, body, h)
	return status, err
}

// postAnswer is post that also returns the answer's headers.
func postAnswer(ctx context.Context, hc *http.Client, url string, body []byte, h http.Header) (int, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	// A request that net/http may replay (it has GetBody and an Idempotency-Key) is sent
	// again by the transport itself when a reused connection breaks: the platform, not
	// the transport, decides about retries here.
	req.GetBody = nil
	for k, vs := range h {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, resp.Header, nil
}

// snapshotter reads keys as a reader sees them in a mode; after, when not "", is the
// version of a commit the read must see (session order over several shim nodes; the
// other modes have one view of the store and ignore it).
type snapshotter func(ctx context.Context, keys []string, after string) (anomaly.Snapshot, error)

// storeSnapshot reads keys one by one, straight from the store: plain mode.
func storeSnapshot(st store.Store) snapshotter {
	return func(ctx context.Context, keys []string, after string) (anomaly.Snapshot, error) {
		docs, err := storeKV{st: st}.read(ctx, keys)
		return snapshotOf(keys, docs, err)
	}
}

// dynamoSnapshot reads keys in one TransactGetItems: dynamodb-txn mode.
func dynamoSnapshot(ds *dynamodb.Store) snapshotter {
	return func(ctx context.Context, keys []string, after string) (anomaly.Snapshot, error) {
		docs, err := (&dynamoKV{ds: ds}).read(ctx, keys)
		return snapshotOf(keys, docs, err)
	}
}

// shimSnapshot reads keys in one read-only transaction of the shim: aft mode.
func shimSnapshot(c *client.Client) snapshotter {
	return func(ctx context.Context, keys []string, after string) (anomaly.Snapshot, error) {
		tx, err := c.BeginWith(ctx, client.BeginOptions{After: after})
		if err != nil {
			return anomaly.Snapshot{}, err
		}
		defer c.Abort(context.WithoutCancel(ctx), tx.ID)
		s := anomaly.Snapshot{Keys: keys, Docs: map[string]anomaly.Doc{}}
		for _, k := range keys {
			v, err := c.Get(ctx, tx.ID, k)
			if errors.Is(err, client.ErrKeyNotFound) {
				continue
			}
			if err != nil {
				return anomaly.Snapshot{}, err
			}
			if s.Docs[k], err = anomaly.DecodeDoc(v.Bytes); err != nil {
				return anomaly.Snapshot{}, err
			}
		}
		return s, nil
	}
}

func snapshotOf(keys []string, docs []anomaly.Doc, err error) (anomaly.Snapshot, error) {
	if err != nil {
		return anomaly.Snapshot{}, err
	}
	s := anomaly.Snapshot{Keys: keys, Docs: map[string]anomaly.Doc{}}
	for i, d := range docs {
		if d.By != "" || len(d.Log) > 0 {
			s.Docs[keys[i]] = d
		}
	}
	return s, nil
}
