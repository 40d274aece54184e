package dynamodb

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aft-shim/aft/shim/store"
)

// Transact writes items in one TransactWriteItems, then reads keys in one
// TransactGetItems: DynamoDB's own transactions, the baseline aft is measured against
// (aft bench --baseline dynamodb-txn, the dynamodb-txn mode of aft workloads). It returns
// the values read, one per key, nil for a key with none. A DynamoDB transaction may not
// name one item twice, so an item written twice is written once with its last value, and
// a key read twice is read once. At most 100 items and 100 keys, after removing repeats.
func (s *Store) Transact(ctx context.Context, items []store.Item, keys []string) ([][]byte, error) {
	if err := s.usable(ctx); err != nil {
		return nil, fmt.Errorf("dynamodb transact: %w", err)
	}
	if items = lastOfEachKey(items); len(items) > 0 {
		w := make([]types.TransactWriteItem, len(items))
		for i, it := range items {
			w[i] = types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.table), Item: itemAttrs(it.Key, it.Value)}}
		}
		if _, err := s.c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: w}); err != nil {
			return nil, fmt.Errorf("dynamodb transact write: %w", callErr(ctx, err))
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	unique := uniqueKeys(keys)
	g := make([]types.TransactGetItem, len(unique))
	for i, k := range unique {
		g[i] = types.TransactGetItem{Get: &types.Get{TableName: aws.String(s.table), Key: keyAttrs(k)}}
	}
	out, err := s.c.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: g})
	if err != nil {
		return nil, fmt.Errorf("dynamodb transact read: %w", callErr(ctx, err))
	}
	byKey := make(map[string][]byte, len(unique))
	for i, r := range out.Responses {
		if i < len(unique) && len(r.Item) > 0 {
			byKey[unique[i]], _ = valueOf(r.Item)
		}
	}
	vals := make([][]byte, len(keys))
	for i, k := range keys {
		vals[i] = byKey[k]
	}
	return vals, nil
}

// lastOfEachKey returns items with one item per key, the last value written, in the order
// of the keys' first writes.
func lastOfEachKey(items []store.Item) []store.Item {
	var out []store.Item
	at := map[string]int{}
	for _, it := range items {
		if i, ok := at[it.Key]; ok {
			out[i].Value = it.Value
			continue
		}
		at[it.Key] = len(out)
		out = append(out, it)
	}
	return out
}

// uniqueKeys returns keys without repeats, in order.
func uniqueKeys(keys []string) []string {
	var out []string
	for _, k := range keys {
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// Of returns the DynamoDB store st is, or wraps (through any number of stores with an
// Unwrap method, such as package faults'), and nil when it is not one.
func Of(st store.Store) *Store {
	for {
		switch s := st.(type) {
		case *Store:
			return s
		case interface{ Unwrap() store.Store }:
			st = s.Unwrap()
		default:
			return nil
		}
	}
}
