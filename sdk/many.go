package sdk

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/aft-shim/aft/api"
	"github.com/aft-shim/aft/client"
)

// GetMany reads keys in the transaction in one round trip (a batch of the shim's API, one
// per api.MaxBatchOps keys), each as Get would. A key with no visible version is absent
// from the answer; any other error of a key is returned. Keys must be valid UTF-8.
func (t *Txn) GetMany(ctx context.Context, keys ...string) (map[string][]byte, error) {
	ops := make([]client.Op, len(keys))
	for i, k := range keys {
		ops[i] = client.ReadOp(k)
	}
	res, err := t.batch(ctx, ops)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(keys))
	for i, r := range res {
		switch {
		case errors.Is(r.Err, ErrNotFound):
		case r.Err != nil:
			return nil, fmt.Errorf("aft: read %q: %w", keys[i], r.Err)
		default:
			out[keys[i]] = r.Value.Bytes
		}
	}
	return out, nil
}

// PutMany writes every key of kv in the transaction in one round trip (a batch, one per
// api.MaxBatchOps keys), as Put would. Keys must be valid UTF-8.
func (t *Txn) PutMany(ctx context.Context, kv map[string][]byte) error {
	keys := slices.Sorted(maps.Keys(kv))
	ops := make([]client.Op, len(keys))
	for i, k := range keys {
		ops[i] = client.WriteOp(k, kv[k])
	}
	res, err := t.batch(ctx, ops)
	if err != nil {
		return err
	}
	for i, r := range res {
		if r.Err != nil {
			return fmt.Errorf("aft: write %q: %w", keys[i], r.Err)
		}
	}
	return nil
}

// batch runs ops in batches of at most api.MaxBatchOps.
func (t *Txn) batch(ctx context.Context, ops []client.Op) ([]client.OpResult, error) {
	out := make([]client.OpResult, 0, len(ops))
	for chunk := range slices.Chunk(ops, api.MaxBatchOps) {
		res, err := t.c.Batch(ctx, t.id, chunk...)
		if err != nil {
			return nil, t.explain(err)
		}
		out = append(out, res...)
	}
	return out, nil
}
