package s3

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/aft-shim/aft/shim/store"
)

// listPage is the most keys one ListObjectsV2 returns.
const listPage = 1000

// ListAfter calls fn, in ascending byte order, for at most limit keys of dir that sort after
// after (every key of dir when after is ""). It is ListObjectsV2 over the object prefix of
// dir, starting after the object key of after, keys only, min(limit, 1000) keys a page,
// paged with continuation tokens until limit keys or the end; fn is called between pages,
// never during a request, so it may call the store.
//
// Order: S3 lists object keys in UTF-8 binary order, which for the characters of object
// keys, [A-Za-z0-9._~/-] and the markers '!' and '*', is byte order; MinIO does the same.
// The escaping keeps the byte order of the names in a directory (keys.go), so objects come
// in the order of their keys. Only the keys directly in dir are listed, as the shim's
// ordered keys are (and as in the other backends): a key with a "/" after dir is left out.
//
// Consistency: S3 has been strongly consistent since December 2020, listings included, and
// MinIO always was: an object whose PutObject (Put, Create) or DeleteObjects (Delete)
// succeeded is in, or out of, every listing that starts afterwards. That is the contract's
// clause.
//
// dir must start with store.OrderedPrefix and end with "/", and limit must be above 0.
func (s *Store) ListAfter(ctx context.Context, dir, after string, limit int, fn func(key string) error) error {
	if s.closed.Load() {
		return fmt.Errorf("s3 list-after %s: %w", dir, ErrClosed)
	}
	switch {
	case checkKey(dir) != nil:
		return fmt.Errorf("s3 list-after: %w %q: want at most %d bytes of [A-Za-z0-9._~/-]", errBadKey, dir, maxKeyLen)
	case !strings.HasPrefix(dir, store.OrderedPrefix) || !strings.HasSuffix(dir, "/"):
		return fmt.Errorf("s3 list-after %s: not a directory of ordered keys: want %sNAME/", dir, store.OrderedPrefix)
	case limit <= 0:
		return fmt.Errorf("s3 list-after %s: limit %d: want a number > 0", dir, limit)
	}
	start, done := s.startAfter(dir, after)
	if done {
		return nil
	}
	in := &s3.ListObjectsV2Input{
		Bucket: &s.bucket,
		Prefix: aws.String(s.prefix + encodeDir(dir)),
	}
	if start != "" {
		in.StartAfter = aws.String(start)
	}
	n := 0
	prev := after // the last key visited: each must sort after it
	for {
		in.MaxKeys = aws.Int32(int32(min(limit-n, listPage)))
		out, err := s.api.ListObjectsV2(ctx, in)
		if err != nil {
			return opError(ctx, "list-after", dir, err)
		}
		for _, o := range out.Contents {
			key, ok := decodeKey(strings.TrimPrefix(aws.ToString(o.Key), s.prefix))
			if !ok || !strings.HasPrefix(key, dir) || strings.Contains(key[len(dir):], "/") {
				continue // an object the store did not write, or a key of a subdirectory
			}
			if key <= prev {
				// Never with S3 and MinIO; a server that lists in another order, or ignores
				// StartAfter, would otherwise break the contract without a word.
				return fmt.Errorf("s3 list-after %s: the server listed %s after %s: it does not list objects in byte order; use another server", dir, key, prev)
			}
			prev = key
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("s3 list-after %s: %w", dir, err)
			}
			if err := fn(key); err != nil {
				return err
			}
			if n++; n == limit {
				return nil
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			return nil
		}
		next := aws.ToString(out.NextContinuationToken)
		if next == "" || next == aws.ToString(in.ContinuationToken) {
			return fmt.Errorf("s3 list-after %s: the server cut the listing short without a new continuation token", dir)
		}
		in.ContinuationToken = &next
	}
}

// startAfter returns the object key ListObjectsV2 starts after to list the keys of dir that
// sort after after: "" for all of them, and done when there are none.
func (s *Store) startAfter(dir, after string) (obj string, done bool) {
	rest, ok := strings.CutPrefix(after, dir)
	switch {
	case !ok && after < dir:
		return "", false // every key of dir sorts after after
	case !ok:
		return "", true // after differs from dir before its end, upwards: it sorts after every key of dir
	}
	// A name sorts after rest exactly when it sorts after rest cut before its first byte
	// below '!', as names are made of key characters, all above '!'; and encodeName keeps
	// the order of such a name and such a cut rest (keys.go).
	for i := 0; i < len(rest); i++ {
		if rest[i] < last {
			rest = rest[:i]
			break
		}
	}
	return s.prefix + encodeDir(dir) + encodeName(rest), false
}
