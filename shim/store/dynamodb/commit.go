package dynamodb

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aft-shim/aft/shim/store"
)

// maxConflictTries is how many times PutCreate tries a transaction that DynamoDB cancels
// for a conflict with another transaction (or throttling) only.
const maxConflictTries = 10

// PutCreate writes items and creates key with value. When they fit one transaction (at
// most 99 items and 4 MB in all) it is one TransactWriteItems, atomic: when key already
// holds a value nothing is written and the error wraps store.ErrExists. Without items it
// is Create.
//
// A larger commit cannot be atomic in DynamoDB, so PutCreate falls back to the shim's
// two-step order: a consistent read of key (when present: ErrExists, nothing written),
// then Put of the items, then Create of key. Only when a concurrent PutCreate or Create of
// the same key wins between the read and the Create may the items stay written with
// ErrExists returned, as after the shim's own Put then Create; the shim then removes its
// data versions. Of one key in items twice the last value is written; an item with the
// record's own key is dropped (the record's value wins).
func (s *Store) PutCreate(ctx context.Context, items []store.Item, key string, value []byte) error {
	if err := s.usable(ctx); err != nil {
		return fmt.Errorf("dynamodb put-create %s: %w", key, err)
	}
	if err := checkKey(key); err != nil {
		return fmt.Errorf("dynamodb put-create %q: %w", key, err)
	}
	if err := tooLarge(key, value); err != nil {
		return fmt.Errorf("dynamodb put-create %s: %w", key, err)
	}
	items = withoutKey(items, key)
	reqs, err := putRequests(items)
	if err != nil {
		return fmt.Errorf("dynamodb put-create %s: %w", key, err)
	}
	switch {
	case len(reqs) == 0:
		// A record alone: a conditional PutItem costs half a transaction.
		if err := s.Create(ctx, key, value); err != nil {
			return fmt.Errorf("dynamodb put-create: %w", err)
		}
		return nil
	case !fitsTransaction(items, key, value):
		return s.putThenCreate(ctx, reqs, key, value)
	}
	actions := make([]types.TransactWriteItem, 0, len(reqs)+1)
	actions = append(actions, types.TransactWriteItem{Put: &types.Put{
		TableName:                aws.String(s.table),
		Item:                     itemAttrs(key, value),
		ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK},
	}})
	for _, r := range reqs {
		actions = append(actions, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.table), Item: r.PutRequest.Item}})
	}
	for try := 1; ; try++ {
		// A fresh token per try: the SDK's own retries of one try reuse it, so that a try
		// DynamoDB applied but whose answer was lost succeeds when retried.
		_, err := s.c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
			TransactItems:      actions,
			ClientRequestToken: aws.String(rand.Text()),
		})
		if err == nil {
			return nil
		}
		switch cancelReason(err) {
		case "ConditionalCheckFailed":
			return fmt.Errorf("dynamodb put-create %s: %w", key, store.ErrExists)
		case "retry":
			if try < maxConflictTries {
				if err := sleep(ctx, backoff(try)); err != nil {
					return fmt.Errorf("dynamodb put-create %s: %w", key, err)
				}
				continue
			}
		}
		return fmt.Errorf("dynamodb put-create %s: %w", key, callErr(ctx, err))
	}
}

// withoutKey returns items without those of key.
func withoutKey(items []store.Item, key string) []store.Item {
	for i, it := range items {
		if it.Key == key {
			out := append([]store.Item(nil), items[:i]...)
			for _, it := range items[i+1:] {
				if it.Key != key {
					out = append(out, it)
				}
			}
			return out
		}
	}
	return items
}

// fitsTransaction reports whether items and the record fit one TransactWriteItems.
func fitsTransaction(items []store.Item, key string, value []byte) bool {
	if len(items)+1 > maxTransactItems {
		return false
	}
	size := itemSize(key, len(value))
	for _, it := range items {
		size += itemSize(it.Key, len(it.Value))
	}
	return size <= maxTransactBytes
}

// cancelReason classifies the error of a TransactWriteItems whose record put is the first
// action: "ConditionalCheckFailed" when the record exists, "retry" when the transaction
// was cancelled for conflicts or throttling only, "" otherwise.
func cancelReason(err error) string {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return ""
	}
	reasons := tce.CancellationReasons
	if len(reasons) > 0 && aws.ToString(reasons[0].Code) == "ConditionalCheckFailed" {
		return "ConditionalCheckFailed"
	}
	verdict := ""
	for _, r := range reasons {
		switch aws.ToString(r.Code) {
		case "", "None":
		case "TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded":
			verdict = "retry"
		default:
			return ""
		}
	}
	return verdict
}

// putThenCreate is PutCreate for a commit too large for one transaction.
func (s *Store) putThenCreate(ctx context.Context, reqs []types.WriteRequest, key string, value []byte) error {
	if _, err := s.Get(ctx, key); err == nil {
		return fmt.Errorf("dynamodb put-create %s: %w", key, store.ErrExists)
	} else if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("dynamodb put-create: %w", err)
	}
	if err := s.batchWrite(ctx, reqs); err != nil {
		return fmt.Errorf("dynamodb put-create %s: put items: %w", key, err)
	}
	if err := s.Create(ctx, key, value); err != nil {
		return fmt.Errorf("dynamodb put-create: %w", err)
	}
	return nil
}
