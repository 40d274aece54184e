package dynamodb

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aft-shim/aft/shim/store"
)

// listParallel is the most partitions one List reads at once.
const listParallel = 4

// page is one page of a listing, or the error that ended one source.
type page struct {
	items []map[string]types.AttributeValue
	err   error
}

// source reads one page of a listing after the key start (nil for the first page), and
// returns the key to go on from, nil after the last page.
type source func(ctx context.Context, start map[string]types.AttributeValue) ([]map[string]types.AttributeValue, map[string]types.AttributeValue, error)

// List calls fn for every key that starts with prefix, with its value when withValues is
// true (else with a nil value). All reads are strongly consistent, so every key written
// before List starts is seen. A prefix that contains a "/" is read with Queries on the
// shards of its group (a few at a time, pages read ahead while fn runs); a prefix under
// store.OrderedPrefix, or without a "/", with a Scan of the whole table. fn is called from
// one goroutine at a time, outside any read, so it may call the store; keys are visited
// in no particular order.
func (s *Store) List(ctx context.Context, prefix string, withValues bool, fn func(key string, value []byte) error) error {
	if err := s.usable(ctx); err != nil {
		return fmt.Errorf("dynamodb list %s: %w", prefix, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pages := make(chan page, listParallel)
	go s.readAll(ctx, s.sources(prefix, withValues), pages)
	for p := range pages {
		if p.err != nil {
			return fmt.Errorf("dynamodb list %s: %w", prefix, callErr(ctx, p.err))
		}
		for _, item := range p.items {
			if err := s.usable(ctx); err != nil {
				return fmt.Errorf("dynamodb list %s: %w", prefix, err)
			}
			key := keyOf(item)
			if !strings.HasPrefix(key, prefix) {
				continue // a filtered Scan never returns one; be sure all the same
			}
			var v []byte
			if withValues {
				var ok bool
				if v, ok = valueOf(item); !ok {
					return fmt.Errorf("dynamodb list %s: item %s has no binary attribute %q (not written by aft?)", prefix, key, attrValue)
				}
			}
			if err := fn(key, v); err != nil {
				return err
			}
		}
	}
	// The pages also end early when ctx does.
	if err := s.usable(ctx); err != nil {
		return fmt.Errorf("dynamodb list %s: %w", prefix, err)
	}
	return nil
}

// readAll reads every source, listParallel at a time, into pages, which it closes when
// done. It stops at the first error, which it sends, or when ctx ends.
func (s *Store) readAll(ctx context.Context, sources []source, pages chan<- page) {
	defer close(pages)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	send := func(p page) bool {
		select {
		case pages <- p:
			return true
		case <-ctx.Done():
			return false
		}
	}
	next := make(chan source, len(sources))
	for _, src := range sources {
		next <- src
	}
	close(next)
	var wg sync.WaitGroup
	for range min(listParallel, len(sources)) {
		wg.Go(func() {
			for src := range next {
				var start map[string]types.AttributeValue
				for {
					items, after, err := src(ctx, start)
					if err != nil {
						if send(page{err: err}) {
							cancel() // the reader stops at the first error
						}
						return
					}
					if len(items) > 0 && !send(page{items: items}) {
						return
					}
					if len(after) == 0 {
						break
					}
					start = after
				}
			}
		})
	}
	wg.Wait()
}

// sources returns what List reads for prefix.
func (s *Store) sources(prefix string, withValues bool) []source {
	names := map[string]string{"#k": attrSK}
	projection := "#k"
	if withValues {
		names["#v"] = attrValue
		projection = "#k, #v"
	}
	if !strings.Contains(prefix, "/") || strings.HasPrefix(prefix, store.OrderedPrefix) {
		// The keys under l/ live in one partition per directory (see pkOf), and nothing
		// but a Scan finds every directory, nor the subdirectories of a prefix "l/x/".
		return []source{s.scan(prefix, projection, names)}
	}
	g := group(prefix)
	srcs := make([]source, shards)
	for i := range srcs {
		srcs[i] = s.query(partition(g, i), prefix, projection, names)
	}
	return srcs
}

// query returns the source of the keys of partition pk that start with prefix.
func (s *Store) query(pk, prefix, projection string, names map[string]string) source {
	names = withName(names, "#pk", attrPK)
	return func(ctx context.Context, start map[string]types.AttributeValue) ([]map[string]types.AttributeValue, map[string]types.AttributeValue, error) {
		out, err := s.c.Query(ctx, &dynamodb.QueryInput{
			TableName:              aws.String(s.table),
			ConsistentRead:         aws.Bool(true),
			KeyConditionExpression: aws.String("#pk = :pk AND begins_with(#k, :prefix)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":pk":     &types.AttributeValueMemberS{Value: pk},
				":prefix": &types.AttributeValueMemberS{Value: prefix},
			},
			ExpressionAttributeNames: names,
			ProjectionExpression:     aws.String(projection),
			ExclusiveStartKey:        start,
		})
		if err != nil {
			return nil, nil, fmt.Errorf("query %s: %w", pk, err)
		}
		return out.Items, out.LastEvaluatedKey, nil
	}
}

// scan returns the source of every key of the table that starts with prefix.
func (s *Store) scan(prefix, projection string, names map[string]string) source {
	var (
		filter *string
		values map[string]types.AttributeValue
	)
	if prefix != "" {
		filter = aws.String("begins_with(#k, :prefix)")
		values = map[string]types.AttributeValue{":prefix": &types.AttributeValueMemberS{Value: prefix}}
	}
	return func(ctx context.Context, start map[string]types.AttributeValue) ([]map[string]types.AttributeValue, map[string]types.AttributeValue, error) {
		out, err := s.c.Scan(ctx, &dynamodb.ScanInput{
			TableName:                 aws.String(s.table),
			ConsistentRead:            aws.Bool(true),
			FilterExpression:          filter,
			ExpressionAttributeValues: values,
			ExpressionAttributeNames:  names,
			ProjectionExpression:      aws.String(projection),
			ExclusiveStartKey:         start,
		})
		if err != nil {
			return nil, nil, fmt.Errorf("scan: %w", err)
		}
		return out.Items, out.LastEvaluatedKey, nil
	}
}

// withName returns a copy of names with one more entry.
func withName(names map[string]string, placeholder, name string) map[string]string {
	out := make(map[string]string, len(names)+1)
	for k, v := range names {
		out[k] = v
	}
	out[placeholder] = name
	return out
}
