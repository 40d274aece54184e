package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aft-shim/aft/shim/store"
)

// ErrClosed is returned by every method called after Close.
var ErrClosed = errors.New("store closed")

// Options say which table to open.
type Options struct {
	// Table is the table's name.
	Table string
	// Region is the AWS region; "" takes it from the SDK configuration (AWS_REGION, the
	// profile), and with an Endpoint falls back to DefaultRegion.
	Region string
	// Endpoint is the base URL of the service, such as http://127.0.0.1:8000 for DynamoDB
	// Local; "" is Amazon's endpoint of the region.
	Endpoint string
	// Create creates the table (on-demand capacity) when it is missing, and waits until it
	// is active. Without it a missing table is an error.
	Create bool
}

// Store is a store.Store on a DynamoDB table, safe for concurrent use.
type Store struct {
	c      api
	table  string
	region string
	closed atomic.Bool
}

var (
	_ store.Store     = (*Store)(nil)
	_ store.Limiter   = (*Store)(nil)
	_ store.Committer = (*Store)(nil)
	_ store.Ordered   = (*Store)(nil)
)

// Open opens the table o names, with the SDK's default configuration and credentials
// chain (see the package documentation). A missing table is an error that names it,
// unless o.Create is set: then Open creates it.
func Open(ctx context.Context, o Options) (*Store, error) {
	if err := checkTableName(o.Table); err != nil {
		return nil, fmt.Errorf("dynamodb open: %w", err)
	}
	c, region, err := newClient(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("dynamodb open %s: %w", o.Table, err)
	}
	s := &Store{c: c, table: o.Table, region: region}
	if err := s.prepareTable(ctx, o.Create, o.Endpoint); err != nil {
		return nil, err
	}
	return s, nil
}

// newStore returns a store on table through c, which must exist (for tests).
func newStore(c api, table string) *Store {
	return &Store{c: c, table: table, region: DefaultRegion}
}

// Table returns the name of the table.
func (s *Store) Table() string { return s.table }

// Region returns the AWS region of the table.
func (s *Store) Region() string { return s.region }

// MaxValueSize is the largest value, in bytes, that Put, Create and PutCreate accept.
func (s *Store) MaxValueSize() int { return MaxValueSize }

// usable returns the error a call must fail with before it starts, if any.
func (s *Store) usable(ctx context.Context) error {
	if s.closed.Load() {
		return ErrClosed
	}
	return ctx.Err()
}

// callErr returns the error of a call that failed with err, made to wrap the context's
// error when the context ended, so that errors.Is(err, context.Canceled) holds.
func callErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w: %v", cerr, err)
	}
	return err
}

// tooLarge returns a *store.TooLargeError when value is over the limit.
func tooLarge(key string, value []byte) error {
	if len(value) > MaxValueSize {
		return &store.TooLargeError{Key: key, Size: len(value), Limit: MaxValueSize}
	}
	return nil
}

// Get returns the value of key, or an error wrapping store.ErrNotFound. The read is
// strongly consistent.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := s.usable(ctx); err != nil {
		return nil, fmt.Errorf("dynamodb get %s: %w", key, err)
	}
	if err := checkKey(key); err != nil {
		return nil, fmt.Errorf("dynamodb get %q: %w", key, err)
	}
	out, err := s.c.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:                aws.String(s.table),
		Key:                      keyAttrs(key),
		ConsistentRead:           aws.Bool(true),
		ProjectionExpression:     aws.String("#k, #v"),
		ExpressionAttributeNames: map[string]string{"#k": attrSK, "#v": attrValue},
	})
	if err != nil {
		return nil, fmt.Errorf("dynamodb get %s: %w", key, callErr(ctx, err))
	}
	if len(out.Item) == 0 {
		return nil, fmt.Errorf("dynamodb get %s: %w", key, store.ErrNotFound)
	}
	v, ok := valueOf(out.Item)
	if !ok {
		return nil, fmt.Errorf("dynamodb get %s: item has no binary attribute %q (not written by aft?)", key, attrValue)
	}
	return v, nil
}

// Put writes every item, overwriting existing values, in BatchWriteItem calls of 25 (a
// few at a time), retrying unprocessed items with backoff. When any value is over the
// limit it writes none of them and returns a *store.TooLargeError. Of one key given twice,
// the last value is written.
func (s *Store) Put(ctx context.Context, items []store.Item) error {
	if err := s.usable(ctx); err != nil {
		return fmt.Errorf("dynamodb put: %w", err)
	}
	if len(items) == 0 {
		return nil
	}
	reqs, err := putRequests(items)
	if err != nil {
		return fmt.Errorf("dynamodb put: %w", err)
	}
	if err := s.batchWrite(ctx, reqs); err != nil {
		return fmt.Errorf("dynamodb put: %w", err)
	}
	return nil
}

// putRequests returns the write requests of items, one per key (the last value of a key
// given twice, as a batch may not name a key twice).
func putRequests(items []store.Item) ([]types.WriteRequest, error) {
	last := make(map[string]int, len(items))
	for i, it := range items {
		if err := checkKey(it.Key); err != nil {
			return nil, fmt.Errorf("%q: %w", it.Key, err)
		}
		if err := tooLarge(it.Key, it.Value); err != nil {
			return nil, err
		}
		last[it.Key] = i
	}
	reqs := make([]types.WriteRequest, 0, len(last))
	for i, it := range items {
		if last[it.Key] == i {
			reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: itemAttrs(it.Key, it.Value)}})
		}
	}
	return reqs, nil
}

// Create writes key only if it holds no value (a PutItem conditional on
// attribute_not_exists), and returns an error wrapping store.ErrExists otherwise.
//
// When a first attempt times out after DynamoDB applied it, the SDK's retry finds the key
// present and Create reports ErrExists for its own write; the shim tells that case apart
// by reading the record.
func (s *Store) Create(ctx context.Context, key string, value []byte) error {
	if err := s.usable(ctx); err != nil {
		return fmt.Errorf("dynamodb create %s: %w", key, err)
	}
	if err := checkKey(key); err != nil {
		return fmt.Errorf("dynamodb create %q: %w", key, err)
	}
	if err := tooLarge(key, value); err != nil {
		return fmt.Errorf("dynamodb create: %w", err)
	}
	_, err := s.c.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(s.table),
		Item:                     itemAttrs(key, value),
		ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return fmt.Errorf("dynamodb create %s: %w", key, store.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("dynamodb create %s: %w", key, callErr(ctx, err))
	}
	return nil
}

// Delete removes the keys, in BatchWriteItem calls of 25 (a few at a time); keys that
// hold no value are not an error.
func (s *Store) Delete(ctx context.Context, keys []string) error {
	if err := s.usable(ctx); err != nil {
		return fmt.Errorf("dynamodb delete: %w", err)
	}
	seen := make(map[string]bool, len(keys))
	reqs := make([]types.WriteRequest, 0, len(keys))
	for _, key := range keys {
		if err := checkKey(key); err != nil {
			return fmt.Errorf("dynamodb delete %q: %w", key, err)
		}
		if !seen[key] {
			seen[key] = true
			reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: keyAttrs(key)}})
		}
	}
	if len(reqs) == 0 {
		return nil
	}
	if err := s.batchWrite(ctx, reqs); err != nil {
		return fmt.Errorf("dynamodb delete: %w", err)
	}
	return nil
}

// Close marks the store closed (the SDK client holds nothing that needs closing; its idle
// connections time out). Every call after it returns an error wrapping ErrClosed.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return fmt.Errorf("dynamodb close: %w", ErrClosed)
	}
	return nil
}
