package client

import (
	"context"
	"fmt"
	"net/http"

	"github.com/aft-shim/aft/api"
)

// Op is one op of a batch: make it with ReadOp, WriteOp or DeleteOp.
type Op struct {
	kind, key string
	value     []byte
}

// ReadOp reads key.
func ReadOp(key string) Op { return Op{kind: api.OpRead, key: key} }

// WriteOp writes value as key.
func WriteOp(key string, value []byte) Op { return Op{kind: api.OpWrite, key: key, value: value} }

// DeleteOp deletes key.
func DeleteOp(key string) Op { return Op{kind: api.OpDelete, key: key} }

// OpResult is the answer to one op of a batch: for a read, the Value; for an op that
// failed, Err, an *Error as its single call would return (a read of a missing key matches
// ErrKeyNotFound). The batch goes on after such an op.
type OpResult struct {
	Value Value
	Err   error
}

// Batch runs ops in transaction id in one round trip (http-api.md, "Batches"), in order,
// each answered as its single call would be. An error of the transaction itself (unknown,
// not running, fenced) or of the batch (more than api.MaxBatchOps ops) is returned as the
// error, and the ops after the failing one did not run. Keys must be valid UTF-8 (JSON
// strings); use the single calls for others.
func (c *Client) Batch(ctx context.Context, id string, ops ...Op) ([]OpResult, error) {
	b, _, err := c.batchCall(ctx, "batch", "/v1/txns/"+escape(id)+"/batch", nil, ops)
	if err != nil {
		return nil, err
	}
	out, err := api.DecodeBatchAnswer(b)
	if err != nil {
		return nil, fmt.Errorf("batch: decode answer: %w", err)
	}
	return opResults(out.Results, len(ops))
}

// BeginBatch begins a transaction, as BeginWith, and runs ops in it in the same round trip.
// When the idempotency key already committed, the answer is the winner with its result, as
// from BeginWith, and no op runs (the results are nil).
func (c *Client) BeginBatch(ctx context.Context, o BeginOptions, ops ...Op) (Txn, []OpResult, error) {
	b, base, err := c.batchCall(ctx, "begin", "/v1/txns", o.header(), ops)
	if err != nil {
		return Txn{}, nil, err
	}
	j, results, err := api.DecodeBeginAnswer(b)
	if err != nil {
		return Txn{}, nil, fmt.Errorf("begin: decode answer: %w", err)
	}
	c.bind(j.ID, base)
	t, err := txnOf(j)
	if err != nil || results == nil {
		return t, nil, err
	}
	res, err := opResults(*results, len(ops))
	return t, res, err
}

// batchCall posts ops to path and returns the answer's body and the base URL of the node
// that answered.
func (c *Client) batchCall(ctx context.Context, op, path string, h http.Header, ops []Op) ([]byte, string, error) {
	req := api.BatchRequest{Ops: make([]api.BatchOp, len(ops))}
	for i, o := range ops {
		req.Ops[i] = api.BatchOp{Op: o.kind, Key: o.key}
		if o.kind == api.OpWrite {
			v := o.value
			if v == nil {
				v = []byte{}
			}
			req.Ops[i].Value = &v
		}
	}
	resp, err := c.do(ctx, http.MethodPost, path, h, req.AppendJSON(make([]byte, 0, req.Size())))
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", op, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		return nil, "", fmt.Errorf("%s: %w", op, decodeError(resp))
	}
	b, err := readAll(resp)
	if err != nil {
		return nil, "", fmt.Errorf("%s: read answer: %w", op, err)
	}
	return b, baseOf(resp), nil
}

// opResults turns the answer's results into OpResults, n of them.
func opResults(rs []api.BatchResult, n int) ([]OpResult, error) {
	if len(rs) != n {
		return nil, fmt.Errorf("batch: %d results for %d ops", len(rs), n)
	}
	out := make([]OpResult, n)
	for i, r := range rs {
		if r.Code != "" {
			out[i].Err = &Error{StatusCode: r.Status, Code: r.Code, Message: r.Error, Version: r.Version}
			continue
		}
		out[i].Value = Value{Version: r.Version, OwnWrite: r.OwnWrite}
		if r.Value != nil {
			out[i].Value.Bytes = *r.Value
		}
	}
	return out, nil
}

// Value returns the value a write op writes (nil for other ops).
func (o Op) Value() []byte { return o.value }
