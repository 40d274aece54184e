package dynamodb

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aft-shim/aft/shim/store"
)

// ListAfter calls fn, in ascending byte order, for up to limit keys of the directory dir
// (under store.OrderedPrefix, ending with "/") that sort after after. dir is one partition
// of the table (see pkOf), read with strongly consistent Queries in sort key order, keys
// only, a page at a time, until limit keys or the end. fn is called between reads, never
// during one, so it may call the store. Only the keys directly in dir are listed: a key of
// a subdirectory, such as dir+"x/y", lives in the partition of its own directory.
func (s *Store) ListAfter(ctx context.Context, dir, after string, limit int, fn func(key string) error) error {
	if err := s.usable(ctx); err != nil {
		return fmt.Errorf("dynamodb list-after %s: %w", dir, err)
	}
	if err := checkListAfter(dir, limit); err != nil {
		return fmt.Errorf("dynamodb list-after %q: %w", dir, err)
	}
	n := 0
	var start map[string]types.AttributeValue
	for {
		out, err := s.c.Query(ctx, listAfterQuery(s.table, dir, after, min(limit-n, math.MaxInt32), start))
		if err != nil {
			return fmt.Errorf("dynamodb list-after %s: query: %w", dir, callErr(ctx, err))
		}
		for _, item := range out.Items {
			key := keyOf(item)
			if !strings.HasPrefix(key, dir) || key <= after {
				continue // the key condition never returns one; be sure all the same
			}
			if err := s.usable(ctx); err != nil {
				return fmt.Errorf("dynamodb list-after %s: %w", dir, err)
			}
			if err := fn(key); err != nil {
				return err
			}
			if n++; n == limit {
				return nil
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return nil
		}
		start = out.LastEvaluatedKey
	}
}

// checkListAfter rejects the arguments of ListAfter that break its contract: with them the
// Query would answer nothing, silently.
func checkListAfter(dir string, limit int) error {
	if !strings.HasPrefix(dir, store.OrderedPrefix) || !strings.HasSuffix(dir, "/") {
		return fmt.Errorf("not a directory of the commit log: want a prefix starting with %q and ending with \"/\"", store.OrderedPrefix)
	}
	if len(dir) > maxKeyLen {
		return fmt.Errorf("directory of %d bytes, limit %d", len(dir), maxKeyLen)
	}
	if limit <= 0 {
		return fmt.Errorf("limit %d, want at least 1", limit)
	}
	return nil
}

// listAfterQuery returns the Query of one page of ListAfter: at most limit keys of the
// partition dir after after, in sort key order, from start (nil for the first page).
func listAfterQuery(table, dir, after string, limit int, start map[string]types.AttributeValue) *dynamodb.QueryInput {
	// Every key of the partition starts with dir, so an after that sorts before dir (such
	// as "", which DynamoDB refuses as a key value) means the whole partition.
	cond := "#pk = :pk AND #k > :after"
	values := map[string]types.AttributeValue{
		":pk":    &types.AttributeValueMemberS{Value: dir},
		":after": &types.AttributeValueMemberS{Value: after},
	}
	if after < dir {
		cond = "#pk = :pk AND begins_with(#k, :dir)"
		values = map[string]types.AttributeValue{
			":pk":  &types.AttributeValueMemberS{Value: dir},
			":dir": &types.AttributeValueMemberS{Value: dir},
		}
	}
	return &dynamodb.QueryInput{
		TableName:                 aws.String(table),
		ConsistentRead:            aws.Bool(true),
		KeyConditionExpression:    aws.String(cond),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#k": attrSK},
		ExpressionAttributeValues: values,
		ProjectionExpression:      aws.String("#k"),
		ScanIndexForward:          aws.Bool(true),
		Limit:                     aws.Int32(int32(limit)),
		ExclusiveStartKey:         start,
	}
}
