package s3

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Delete removes the keys, up to 1000 per DeleteObjects call.
func (s *Store) Delete(ctx context.Context, keys []string) error {
	if s.closed.Load() {
		return fmt.Errorf("s3 delete: %w", ErrClosed)
	}
	objs := make([]string, 0, len(keys))
	for _, key := range keys {
		obj, err := s.check("delete", key)
		if err != nil {
			return err
		}
		objs = append(objs, obj)
	}
	slices.Sort(objs)
	objs = slices.Compact(objs) // S3 refuses none, but some servers dislike duplicates
	for batch := range slices.Chunk(objs, deleteBatch) {
		if err := s.deleteBatch(ctx, batch); err != nil {
			return err
		}
	}
	return nil
}

// deleteBatch removes at most deleteBatch objects in one call and checks the answer of each.
func (s *Store) deleteBatch(ctx context.Context, objs []string) error {
	ids := make([]types.ObjectIdentifier, len(objs))
	for i := range objs {
		ids[i] = types.ObjectIdentifier{Key: &objs[i]}
	}
	out, err := s.api.DeleteObjects(ctx, &s3.DeleteObjectsInput{
		Bucket: &s.bucket,
		Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
	})
	if err != nil {
		what := s.storageKey(objs[0])
		if len(objs) > 1 {
			what += fmt.Sprintf(" and %d more", len(objs)-1)
		}
		return opError(ctx, "delete", what, err)
	}
	var errs []error
	for _, e := range out.Errors {
		if aws.ToString(e.Code) == codeNoSuchKey {
			continue // already gone
		}
		errs = append(errs, fmt.Errorf("s3 delete %s: %s: %s", s.storageKey(aws.ToString(e.Key)), aws.ToString(e.Code), aws.ToString(e.Message)))
	}
	return errors.Join(errs...)
}

// storageKey returns the storage key of an object key for error messages.
func (s *Store) storageKey(obj string) string {
	if key, ok := decodeKey(obj[min(len(s.prefix), len(obj)):]); ok {
		return key
	}
	return obj
}
