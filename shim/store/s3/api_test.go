package s3

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/aft-shim/aft/shim/store"
)

// fakeAPI answers every call with the error of its field (and records the calls), for
// the error paths a real server seldom takes.
type fakeAPI struct {
	getErr, putErr, deleteErr, headErr, createErr, listErr error
	deleteOut                                              *s3.DeleteObjectsOutput
	listOut                                                *s3.ListObjectsV2Output

	mu      sync.Mutex
	deletes [][]string              // keys of each DeleteObjects call
	lists   []s3.ListObjectsV2Input // each ListObjectsV2 call
}

func (f *fakeAPI) GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	if f.getErr != nil {
		return nil, f.getErr
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(strings.NewReader("value"))}, nil
}

func (f *fakeAPI) PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	return &s3.PutObjectOutput{}, f.putErr
}

func (f *fakeAPI) DeleteObjects(_ context.Context, in *s3.DeleteObjectsInput, _ ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error) {
	var keys []string
	for _, o := range in.Delete.Objects {
		keys = append(keys, aws.ToString(o.Key))
	}
	f.mu.Lock()
	f.deletes = append(f.deletes, keys)
	f.mu.Unlock()
	if f.deleteErr != nil {
		return nil, f.deleteErr
	}
	if f.deleteOut != nil {
		return f.deleteOut, nil
	}
	return &s3.DeleteObjectsOutput{}, nil
}

func (f *fakeAPI) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	f.mu.Lock()
	f.lists = append(f.lists, *in)
	f.mu.Unlock()
	if f.listErr != nil {
		return nil, f.listErr
	}
	if f.listOut != nil {
		return f.listOut, nil
	}
	return &s3.ListObjectsV2Output{}, nil
}

func (f *fakeAPI) HeadBucket(context.Context, *s3.HeadBucketInput, ...func(*s3.Options)) (*s3.HeadBucketOutput, error) {
	return &s3.HeadBucketOutput{}, f.headErr
}

func (f *fakeAPI) CreateBucket(context.Context, *s3.CreateBucketInput, ...func(*s3.Options)) (*s3.CreateBucketOutput, error) {
	return &s3.CreateBucketOutput{}, f.createErr
}

// apiError is an S3 error response with an HTTP status and, unless code is "", an error code,
// as the SDK returns it.
func apiError(status int, code string) error {
	var err error = errors.New("no body")
	if code != "" {
		err = &smithy.GenericAPIError{Code: code, Message: code}
	}
	return &smithy.OperationError{ServiceID: "S3", OperationName: "Op", Err: &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
			Err:      err,
		},
	}}
}

func TestErrorMapping(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		api  *fakeAPI
		call func(s *Store) error
		want error // wrapped by the result; nil: a plain error
	}{
		{"get NoSuchKey", &fakeAPI{getErr: apiError(404, "NoSuchKey")},
			func(s *Store) error { _, err := s.Get(ctx, "k"); return err }, store.ErrNotFound},
		{"get NoSuchBucket", &fakeAPI{getErr: apiError(404, "NoSuchBucket")},
			func(s *Store) error { _, err := s.Get(ctx, "k"); return err }, nil},
		{"get AccessDenied", &fakeAPI{getErr: apiError(403, "AccessDenied")},
			func(s *Store) error { _, err := s.Get(ctx, "k"); return err }, nil},
		{"create PreconditionFailed", &fakeAPI{putErr: apiError(412, "PreconditionFailed")},
			func(s *Store) error { return s.Create(ctx, "k", nil) }, store.ErrExists},
		{"create 412 without a code", &fakeAPI{putErr: apiError(412, "")},
			func(s *Store) error { return s.Create(ctx, "k", nil) }, store.ErrExists},
		{"create conflict, once the SDK gave up retrying", &fakeAPI{putErr: apiError(409, "ConditionalRequestConflict")},
			func(s *Store) error { return s.Create(ctx, "k", nil) }, nil},
		{"put PreconditionFailed", &fakeAPI{putErr: apiError(412, "PreconditionFailed")},
			func(s *Store) error { return s.Put(ctx, []store.Item{{Key: "k"}}) }, nil},
		{"delete per-key error", &fakeAPI{deleteOut: &s3.DeleteObjectsOutput{Errors: []types.Error{
			{Key: aws.String("p/a!"), Code: aws.String("NoSuchKey")},
			{Key: aws.String("p/b!"), Code: aws.String("AccessDenied"), Message: aws.String("Access Denied")},
		}}}, func(s *Store) error { return s.Delete(ctx, []string{"a", "b"}) }, nil},
		{"delete NoSuchKey only", &fakeAPI{deleteOut: &s3.DeleteObjectsOutput{Errors: []types.Error{
			{Key: aws.String("p/a!"), Code: aws.String("NoSuchKey")},
		}}}, func(s *Store) error { return s.Delete(ctx, []string{"a"}) }, errNone},
		{"bad key", &fakeAPI{},
			func(s *Store) error { return s.Put(ctx, []store.Item{{Key: "a b"}}) }, errBadKey},
		{"long key", &fakeAPI{},
			func(s *Store) error { _, err := s.Get(ctx, strings.Repeat("k", 513)); return err }, errBadKey},
		{"list-after closed", &fakeAPI{},
			func(s *Store) error { s.Close(); return s.ListAfter(ctx, "l/1/", "", 1, nop) }, ErrClosed},
		{"list-after bad dir", &fakeAPI{},
			func(s *Store) error { return s.ListAfter(ctx, "l/a b/", "", 1, nop) }, errBadKey},
		{"list-after dir outside l/", &fakeAPI{},
			func(s *Store) error { return s.ListAfter(ctx, "v/1/", "", 1, nop) }, nil},
		{"list-after dir without a slash", &fakeAPI{},
			func(s *Store) error { return s.ListAfter(ctx, "l/1", "", 1, nop) }, nil},
		{"list-after limit 0", &fakeAPI{},
			func(s *Store) error { return s.ListAfter(ctx, "l/1/", "", 0, nop) }, nil},
		{"list-after server error", &fakeAPI{listErr: apiError(500, "InternalError")},
			func(s *Store) error { return s.ListAfter(ctx, "l/1/", "", 1, nop) }, nil},
		{"list-after truncated without a token", &fakeAPI{listOut: &s3.ListObjectsV2Output{IsTruncated: aws.Bool(true)}},
			func(s *Store) error { return s.ListAfter(ctx, "l/1/", "", 10, nop) }, nil},
		{"list-after out of order", &fakeAPI{listOut: &s3.ListObjectsV2Output{Contents: []types.Object{
			{Key: aws.String("p/l/1/b!")}, {Key: aws.String("p/l/1/a!")},
		}}}, func(s *Store) error { return s.ListAfter(ctx, "l/1/", "", 10, nop) }, nil},
		{"list-after from its start", &fakeAPI{listOut: &s3.ListObjectsV2Output{Contents: []types.Object{
			{Key: aws.String("p/l/1/a!")}, {Key: aws.String("p/l/1/b!")},
		}}}, func(s *Store) error { return s.ListAfter(ctx, "l/1/", "", 10, nop) }, errNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(newStore(tt.api, "bkt", "p/", 0))
			switch {
			case tt.want == errNone && err != nil:
				t.Fatalf("got %v, want nil", err)
			case tt.want == errNone:
			case err == nil:
				t.Fatalf("got nil, want an error")
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Fatalf("got %v, want an error wrapping %v", err, tt.want)
			case tt.want == nil && (errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrExists)):
				t.Fatalf("got %v, want neither ErrNotFound nor ErrExists", err)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "s3 ") {
				t.Errorf("error %q does not start with \"s3 \"", err)
			}
		})
	}
}

// errNone marks the cases of TestErrorMapping that must succeed.
var errNone = errors.New("no error")

// nop is a ListAfter callback that takes every key.
func nop(string) error { return nil }

// TestListAfterRequests checks what ListAfter asks the server for, and what it skips of the
// answer.
func TestListAfterRequests(t *testing.T) {
	page := &s3.ListObjectsV2Output{Contents: []types.Object{
		{Key: aws.String("p/l/1/a!")},
		{Key: aws.String("p/l/1/b/c!")}, // in a subdirectory
		{Key: aws.String("p/l/1/foreign")},
		{Key: aws.String("p/l/1/d!")},
	}}
	tests := []struct {
		name         string
		after        string
		limit        int
		wantStart    string // "" for none
		wantMaxKeys  int32
		wantKeys     string
		wantRequests int
	}{
		{"from the start", "", 5000, "", 1000, "l/1/a,l/1/d", 1},
		{"after a key", "l/1/0", 5, "p/l/1/0!", 5, "l/1/a,l/1/d", 1},
		{"after a LogAfter bound", "l/1/0/", 5, "p/l/1/0/!", 5, "l/1/a,l/1/d", 1},
		{"after an odd byte", "l/1/0 x", 5, "p/l/1/0!", 5, "l/1/a,l/1/d", 1},
		{"up to the limit", "", 1, "", 1, "l/1/a", 1},
		{"after another directory below", "l/0/z", 5, "", 5, "l/1/a,l/1/d", 1},
		{"after another directory above", "l/2/", 5, "", 0, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeAPI{listOut: page}
			var keys []string
			err := newStore(f, "bkt", "p/", 0).ListAfter(context.Background(), "l/1/", tt.after, tt.limit, func(k string) error {
				keys = append(keys, k)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(keys, ","); got != tt.wantKeys {
				t.Errorf("keys: got %s, want %s", got, tt.wantKeys)
			}
			if len(f.lists) != tt.wantRequests {
				t.Fatalf("%d ListObjectsV2 calls, want %d", len(f.lists), tt.wantRequests)
			}
			if tt.wantRequests == 0 {
				return
			}
			in := f.lists[0]
			if got := aws.ToString(in.Prefix); got != "p/l/1/" {
				t.Errorf("Prefix %q, want p/l/1/", got)
			}
			if got := aws.ToString(in.StartAfter); got != tt.wantStart {
				t.Errorf("StartAfter %q, want %q", got, tt.wantStart)
			}
			if got := aws.ToInt32(in.MaxKeys); got != tt.wantMaxKeys {
				t.Errorf("MaxKeys %d, want %d", got, tt.wantMaxKeys)
			}
		})
	}
}

func TestDeleteBatches(t *testing.T) {
	f := &fakeAPI{}
	s := newStore(f, "bkt", "", 0)
	keys := make([]string, 0, 2600)
	for i := range 2500 {
		keys = append(keys, strings.Repeat("k", 1+i%10)+"/"+strings.Repeat("x", 1+i/10))
	}
	keys = append(keys, keys[:100]...) // duplicates are sent once
	if err := s.Delete(context.Background(), keys); err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for _, d := range f.deletes {
		sizes = append(sizes, len(d))
	}
	if len(sizes) != 3 || sizes[0] != 1000 || sizes[1] != 1000 || sizes[2] != 500 {
		t.Fatalf("DeleteObjects calls of %v keys, want [1000 1000 500]", sizes)
	}
}

func TestOpenBucketErrors(t *testing.T) {
	tests := []struct {
		name    string
		api     *fakeAPI
		create  bool
		wantErr string // "" for none
	}{
		{"exists", &fakeAPI{}, false, ""},
		{"missing", &fakeAPI{headErr: apiError(404, "NotFound")}, false, "bucket bkt does not exist; create it, or pass --create-store"},
		{"forbidden", &fakeAPI{headErr: apiError(403, "Forbidden")}, true, "access denied; check the credentials"},
		{"create fails", &fakeAPI{headErr: apiError(404, "NotFound"), createErr: apiError(409, "BucketAlreadyExists")}, true, "create bucket bkt"},
		{"server error", &fakeAPI{headErr: apiError(500, "InternalError")}, true, "bucket bkt: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ensureBucket(context.Background(), tt.api, Options{Bucket: "bkt", Create: tt.create})
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("ensureBucket: got %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestForEachStopsAtFirstError(t *testing.T) {
	boom := errors.New("boom")
	var mu sync.Mutex
	calls := 0
	err := forEach(context.Background(), "put", 1000, func(ctx context.Context, i int) error {
		mu.Lock()
		calls++
		mu.Unlock()
		if i == 3 {
			return boom
		}
		<-ctx.Done() // the others run until the failure cancels them
		return ctx.Err()
	})
	if !errors.Is(err, boom) {
		t.Fatalf("forEach: got %v, want boom", err)
	}
	if calls > 2*parallel {
		t.Fatalf("forEach went on with %d calls after the first error", calls)
	}
}

func TestRetryer(t *testing.T) {
	r := newRetryer()
	tests := []struct {
		err  error
		want bool
	}{
		{apiError(409, "ConditionalRequestConflict"), true},
		{apiError(503, "SlowDown"), true},
		{apiError(500, "InternalError"), true},
		{apiError(412, "PreconditionFailed"), false},
		{apiError(404, "NoSuchKey"), false},
		{apiError(403, "AccessDenied"), false},
	}
	for _, tt := range tests {
		if got := r.IsErrorRetryable(tt.err); got != tt.want {
			t.Errorf("IsErrorRetryable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
	if r.MaxAttempts() != maxAttempts {
		t.Errorf("MaxAttempts = %d, want %d", r.MaxAttempts(), maxAttempts)
	}
}
