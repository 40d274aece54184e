package s3

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// List calls fn for every key that starts with prefix, listing a page of up to 1000 keys
// at a time; with withValues, it fetches their values with parallel GetObjects, listWindow
// at a time. A key deleted between the listing and its GetObject is left out. fn is never
// called concurrently. Objects under the store's prefix that the store did not write are
// skipped.
func (s *Store) List(ctx context.Context, prefix string, withValues bool, fn func(key string, value []byte) error) error {
	if s.closed.Load() {
		return fmt.Errorf("s3 list %q: %w", prefix, ErrClosed)
	}
	if err := checkKey(prefix); err != nil {
		return fmt.Errorf("s3 list: %w %q", err, prefix)
	}
	pages := s3.NewListObjectsV2Paginator(s.api, &s3.ListObjectsV2Input{
		Bucket: &s.bucket,
		Prefix: aws.String(s.prefix + listPrefix(prefix)),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return opError(ctx, "list", strconv.Quote(prefix), err)
		}
		keys := make([]string, 0, len(page.Contents))
		objs := make([]string, 0, len(page.Contents))
		for _, o := range page.Contents {
			obj := aws.ToString(o.Key)
			key, ok := decodeKey(strings.TrimPrefix(obj, s.prefix))
			if !ok || !strings.HasPrefix(key, prefix) {
				continue
			}
			keys = append(keys, key)
			objs = append(objs, obj)
		}
		if err := s.deliver(ctx, prefix, keys, objs, withValues, fn); err != nil {
			return err
		}
	}
	return nil
}

// listWindow is how many values List holds at a time: enough to keep parallel GetObjects
// busy, few enough to bound its memory with large values.
const listWindow = 4 * parallel

// deliver calls fn for the keys of one page, with their values fetched listWindow at a time
// when withValues.
func (s *Store) deliver(ctx context.Context, prefix string, keys, objs []string, withValues bool, fn func(key string, value []byte) error) error {
	for start := 0; start < len(keys); start += listWindow {
		end := min(start+listWindow, len(keys))
		var values [][]byte
		if withValues {
			var err error
			if values, err = s.getAll(ctx, keys[start:end], objs[start:end]); err != nil {
				return err
			}
		}
		for i, key := range keys[start:end] {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("s3 list %q: %w", prefix, err)
			}
			var v []byte
			if withValues {
				if v = values[i]; v == nil {
					continue // deleted since the listing
				}
			}
			if err := fn(key, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// getAll fetches the objects objs of the storage keys keys in parallel. A missing object
// has a nil value; a present one a non-nil value, empty or not.
func (s *Store) getAll(ctx context.Context, keys, objs []string) ([][]byte, error) {
	values := make([][]byte, len(objs))
	err := forEach(ctx, "list", len(objs), func(ctx context.Context, i int) error {
		v, err := s.get(ctx, objs[i])
		switch {
		case isNoSuchKey(err):
			return nil
		case err != nil:
			return opError(ctx, "list: get", keys[i], err)
		case v == nil:
			v = []byte{}
		}
		values[i] = v
		return nil
	})
	return values, err
}
