package dynamodb

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aft-shim/aft/shim/store"
)

// Transact writes items in one TransactWriteItems, then reads keys in one
// TransactGetItems: DynamoDB's own transactions, the baseline aft is measured against
// (aft bench --store dynamodb://... --baseline dynamodb-txn). It returns the values read,
// nil for a key with none. At most 100 items and 100 keys.
func (s *Store) Transact(ctx context.Context, items []store.Item, keys []string) ([][]byte, error) {
	if err := s.usable(ctx); err != nil {
		return nil, fmt.Errorf("dynamodb transact: %w", err)
	}
	if len(items) > 0 {
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
	g := make([]types.TransactGetItem, len(keys))
	for i, k := range keys {
		g[i] = types.TransactGetItem{Get: &types.Get{TableName: aws.String(s.table), Key: keyAttrs(k)}}
	}
	out, err := s.c.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: g})
	if err != nil {
		return nil, fmt.Errorf("dynamodb transact read: %w", callErr(ctx, err))
	}
	vals := make([][]byte, len(keys))
	for i, r := range out.Responses {
		if i < len(vals) && len(r.Item) > 0 {
			vals[i], _ = valueOf(r.Item)
		}
	}
	return vals, nil
}
