// Package s3 is the store.Store backend on Amazon S3 and S3-compatible servers (MinIO).
//
// Every storage key is one object, named Options.Prefix followed by the key and a '!', and
// escaped where servers that keep objects as files would trip over it (keys.go): under
// prefix shim/, the shim's key v/QUJD/0001 is the object shim/v/QUJD/0001!. Get is
// GetObject; Put writes its items with parallel PutObjects; Create is a conditional
// PutObject (If-None-Match: *), of which S3 lets exactly one of any number of concurrent
// writers win; Delete is DeleteObjects; List pages through ListObjectsV2 and fetches values
// with parallel GetObjects. S3 has no atomic multi-object write, so the store is no
// store.Committer: the shim writes a commit's data versions with Put, then its record with
// Create.
//
// The store is a store.Ordered, for several shim nodes on one bucket: ListAfter is
// ListObjectsV2 over the object prefix of a directory, starting after the object key of a
// given key (StartAfter), paged with continuation tokens. S3 lists in UTF-8 binary order,
// byte order for the characters of object keys, and the escaping keeps the byte order of
// the keys of a directory, so the listing comes in key order. S3 (since December 2020) and
// MinIO list strongly consistently: an object is listed as soon as its PutObject succeeded,
// and not once its DeleteObjects did.
//
// The SDK retries throttling, server errors, dropped connections and 409
// ConditionalRequestConflict with exponential backoff and jitter. A conditional write
// retried after a lost response may find its own object and report store.ErrExists; the
// shim then reads the record and recognises it as its own.
//
// Credentials come from the AWS SDK's default chain (environment, shared config and
// credentials files, SSO, web identity, container and instance roles). With an endpoint on
// the local machine (localhost or a loopback address) and no credentials in the chain, the
// store signs requests with the fixed dummy credentials DummyAccessKey/DummySecretKey, for
// local test servers that do not check them; MinIO does check them, so pass its root user
// and password as AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
//
// The SDK's other settings come from its environment and shared config as usual; for one,
// it sends a CRC32 checksum with every PutObject, which a few older S3-compatible servers
// refuse: AWS_REQUEST_CHECKSUM_CALCULATION=when_required turns that off.
//
// Permissions needed: s3:GetObject, s3:PutObject, s3:DeleteObject and s3:ListBucket on the
// bucket (without s3:ListBucket S3 answers 403 instead of 404 for a missing object), and
// s3:CreateBucket for Options.Create.
package s3

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/aft-shim/aft/shim/store"
)

// DefaultMaxValueSize is the value size limit of a store opened with a zero
// Options.MaxValueSize. S3 takes up to 5 GiB in one PutObject, but the shim holds every
// value in memory.
const DefaultMaxValueSize = 64 << 20

// MaxPutSize is S3's limit on the size of one PutObject.
const MaxPutSize = 5 << 30

const (
	// parallel bounds the requests one Put, or one page of a List with values, has in
	// flight.
	parallel = 16
	// deleteBatch is the most keys one DeleteObjects takes.
	deleteBatch = 1000
)

// api is the part of the S3 client the store uses.
type api interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	DeleteObjects(ctx context.Context, in *s3.DeleteObjectsInput, opts ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	HeadBucket(ctx context.Context, in *s3.HeadBucketInput, opts ...func(*s3.Options)) (*s3.HeadBucketOutput, error)
	CreateBucket(ctx context.Context, in *s3.CreateBucketInput, opts ...func(*s3.Options)) (*s3.CreateBucketOutput, error)
}

// Store is a store.Store on one bucket and prefix. It is safe for concurrent use.
type Store struct {
	api      api
	bucket   string
	prefix   string
	maxValue int
	closed   atomic.Bool
	onClose  func() // releases the HTTP connections; may be nil
}

var (
	_ store.Store   = (*Store)(nil)
	_ store.Limiter = (*Store)(nil)
	_ store.Ordered = (*Store)(nil)
)

// newStore returns a store on bucket and prefix through c, without touching the network.
func newStore(c api, bucket, prefix string, maxValue int) *Store {
	if maxValue <= 0 {
		maxValue = DefaultMaxValueSize
	}
	return &Store{api: c, bucket: bucket, prefix: prefix, maxValue: min(maxValue, MaxPutSize)}
}

// MaxValueSize is the largest value Put and Create accept.
func (s *Store) MaxValueSize() int { return s.maxValue }

// objectKey returns the object key of a storage key.
func (s *Store) objectKey(key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", fmt.Errorf("%w %q: want at most %d bytes of [A-Za-z0-9._~/-]", err, key, maxKeyLen)
	}
	obj := s.prefix + encodeKey(key)
	if len(obj) > maxObjectKeyLen {
		return "", fmt.Errorf("%w %q: object key of %d bytes, over S3's %d", errBadKey, key, len(obj), maxObjectKeyLen)
	}
	return obj, nil
}

// check returns the object key of key, or the error of op on a closed store or a bad key.
func (s *Store) check(op, key string) (string, error) {
	if s.closed.Load() {
		return "", fmt.Errorf("s3 %s %s: %w", op, key, ErrClosed)
	}
	obj, err := s.objectKey(key)
	if err != nil {
		return "", fmt.Errorf("s3 %s: %w", op, err)
	}
	return obj, nil
}

// Get returns the value of key, or an error wrapping store.ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	obj, err := s.check("get", key)
	if err != nil {
		return nil, err
	}
	v, err := s.get(ctx, obj)
	if isNoSuchKey(err) {
		return nil, fmt.Errorf("s3 get %s: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return nil, opError(ctx, "get", key, err)
	}
	return v, nil
}

// get reads the object obj whole.
func (s *Store) get(ctx context.Context, obj string) ([]byte, error) {
	out, err := s.api.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &obj})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	n := aws.ToInt64(out.ContentLength)
	if n < 0 || n > int64(s.maxValue) {
		n = 0 // unknown, or not ours to trust: let ReadAll grow the buffer
	}
	buf := bytes.NewBuffer(make([]byte, 0, n+bytes.MinRead))
	if _, err := buf.ReadFrom(out.Body); err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	return buf.Bytes(), nil
}

// Put writes every item, up to parallel of them at a time. After an error, any subset of
// the items may have been written.
func (s *Store) Put(ctx context.Context, items []store.Item) error {
	if s.closed.Load() {
		return fmt.Errorf("s3 put: %w", ErrClosed)
	}
	type write struct {
		obj string
		it  store.Item
	}
	writes := make([]write, 0, len(items))
	index := make(map[string]int, len(items)) // of each key in writes
	for _, it := range items {
		obj, err := s.check("put", it.Key)
		if err != nil {
			return err
		}
		if len(it.Value) > s.maxValue {
			return fmt.Errorf("s3 put: %w", &store.TooLargeError{Key: it.Key, Size: len(it.Value), Limit: s.maxValue})
		}
		// Writes run in parallel: of a key given twice, only the last value is written.
		if i, dup := index[it.Key]; dup {
			writes[i].it = it
			continue
		}
		index[it.Key] = len(writes)
		writes = append(writes, write{obj, it})
	}
	return forEach(ctx, "put", len(writes), func(ctx context.Context, i int) error {
		w := writes[i]
		if err := s.put(ctx, w.obj, w.it.Value, false); err != nil {
			return opError(ctx, "put", w.it.Key, err)
		}
		return nil
	})
}

// put writes value to the object obj; with ifNoneMatch only when obj does not exist.
func (s *Store) put(ctx context.Context, obj string, value []byte, ifNoneMatch bool) error {
	in := &s3.PutObjectInput{
		Bucket:        &s.bucket,
		Key:           &obj,
		Body:          bytes.NewReader(value),
		ContentLength: aws.Int64(int64(len(value))),
		ContentType:   aws.String("application/octet-stream"),
	}
	if ifNoneMatch {
		in.IfNoneMatch = aws.String("*")
	}
	_, err := s.api.PutObject(ctx, in)
	return err
}

// Create writes key only if it holds no value, and returns an error wrapping
// store.ErrExists otherwise.
func (s *Store) Create(ctx context.Context, key string, value []byte) error {
	obj, err := s.check("create", key)
	if err != nil {
		return err
	}
	if len(value) > s.maxValue {
		return fmt.Errorf("s3 create: %w", &store.TooLargeError{Key: key, Size: len(value), Limit: s.maxValue})
	}
	err = s.put(ctx, obj, value, true)
	if isPreconditionFailed(err) {
		return fmt.Errorf("s3 create %s: %w", key, store.ErrExists)
	}
	if err != nil {
		return opError(ctx, "create", key, err)
	}
	return nil
}

// Close marks the store closed and releases its idle connections. Calls in flight finish.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return fmt.Errorf("s3 close: %w", ErrClosed)
	}
	if s.onClose != nil {
		s.onClose()
	}
	return nil
}
