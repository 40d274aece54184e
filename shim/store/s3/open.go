package s3

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Options say which bucket and prefix a Store uses, and how to reach them.
type Options struct {
	// Bucket is the bucket name.
	Bucket string
	// Prefix starts the name of every object of the store: empty, or ending in "/", made of
	// [A-Za-z0-9._~/-] and at most MaxPrefixLen bytes.
	Prefix string
	// Region is the AWS region; empty takes the SDK's (AWS_REGION, shared config), and with
	// an Endpoint and no region anywhere, us-east-1.
	Region string
	// Endpoint is the base URL of an S3-compatible server, such as http://127.0.0.1:9000;
	// empty is Amazon S3.
	Endpoint string
	// PathStyle addresses the bucket in the URL path (http://host/bucket/key) instead of
	// the host name (http://bucket.host/key); most S3-compatible servers want it.
	PathStyle bool
	// Create creates the bucket when it does not exist; without it a missing bucket is an
	// error.
	Create bool
	// MaxValueSize is the largest value Put and Create accept; 0 is DefaultMaxValueSize, and
	// more than MaxPutSize is MaxPutSize.
	MaxValueSize int
}

// MaxPrefixLen is the longest Options.Prefix: with it, the object key of any storage key of
// up to 512 bytes stays within S3's 1024 bytes unless the key needs over 256 bytes of
// escapes (hundreds of empty or "." segments, which the shim never writes).
const MaxPrefixLen = 256

// ErrBadOptions is wrapped by the errors of Options.Validate.
var ErrBadOptions = errors.New("bad s3 options")

// Validate checks the options without touching the network.
func (o Options) Validate() error {
	if err := checkBucket(o.Bucket); err != nil {
		return fmt.Errorf("%w: %w", ErrBadOptions, err)
	}
	if err := checkPrefix(o.Prefix); err != nil {
		return fmt.Errorf("%w: %w", ErrBadOptions, err)
	}
	if o.Endpoint != "" {
		u, err := url.Parse(o.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%w: endpoint %q: want http://HOST[:PORT] or https://HOST[:PORT]", ErrBadOptions, o.Endpoint)
		}
		if u.User != nil { // the SDK would not use them, and logs would show them
			return fmt.Errorf("%w: endpoint: no user information allowed; credentials come from the AWS SDK's default chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, the profile)", ErrBadOptions)
		}
	}
	if o.MaxValueSize < 0 {
		return fmt.Errorf("%w: negative value size limit %d", ErrBadOptions, o.MaxValueSize)
	}
	return nil
}

// checkBucket applies S3's rules for bucket names (general purpose buckets).
func checkBucket(b string) error {
	if len(b) < 3 || len(b) > 63 {
		return fmt.Errorf("bucket name %q: want 3 to 63 characters", b)
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '-') {
			return fmt.Errorf("bucket name %q: want lower-case letters, digits, dots and hyphens only", b)
		}
	}
	if !alnum(b[0]) || !alnum(b[len(b)-1]) {
		return fmt.Errorf("bucket name %q: want a letter or digit first and last", b)
	}
	if strings.Contains(b, "..") || net.ParseIP(b) != nil {
		return fmt.Errorf("bucket name %q: no two dots in a row, and no IP address", b)
	}
	return nil
}

func alnum(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }

// checkPrefix accepts the prefixes that keep every object key valid on file-system-backed
// servers too: whole, non-empty path segments other than "." and "..".
func checkPrefix(p string) error {
	if p == "" {
		return nil
	}
	if len(p) > MaxPrefixLen {
		return fmt.Errorf("prefix %q: %d bytes, want at most %d", p, len(p), MaxPrefixLen)
	}
	if err := checkKey(p); err != nil {
		return fmt.Errorf("prefix %q: want [A-Za-z0-9._~/-] only", p)
	}
	if !strings.HasSuffix(p, "/") {
		return fmt.Errorf("prefix %q: want it to end in /", p)
	}
	for _, seg := range strings.Split(strings.TrimSuffix(p, "/"), "/") {
		if seg == "" || seg == "." || seg == ".." || len(seg) > maxChunk {
			return fmt.Errorf("prefix %q: want no empty, \".\" or \"..\" segment and none over %d bytes", p, maxChunk)
		}
	}
	return nil
}

// openTimeout bounds the bucket check and creation of Open when ctx has no deadline.
const openTimeout = time.Minute

// Open returns a store on o.Bucket and o.Prefix, after checking that the bucket exists (or
// creating it, with o.Create) and that the credentials may use it.
func Open(ctx context.Context, o Options) (*Store, error) {
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("s3 open: %w", err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, openTimeout)
		defer cancel()
	}
	c, closeIdle, err := newClient(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("s3 open: %w", err)
	}
	if err := ensureBucket(ctx, c, o); err != nil {
		closeIdle()
		return nil, err
	}
	s := newStore(c, o.Bucket, o.Prefix, o.MaxValueSize)
	s.onClose = closeIdle
	return s, nil
}

// ensureBucket checks that the bucket exists and, with o.Create, creates it if it does not.
func ensureBucket(ctx context.Context, c api, o Options) error {
	_, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &o.Bucket})
	switch {
	case err == nil:
		return nil
	case httpStatus(err) == http.StatusForbidden:
		return fmt.Errorf("s3 open: bucket %s: access denied; check the credentials (AWS_ACCESS_KEY_ID, AWS_PROFILE, ...) and their permissions: %w", o.Bucket, err)
	case !isBucketMissing(err):
		return fmt.Errorf("s3 open: bucket %s: %w", o.Bucket, err)
	case !o.Create:
		return fmt.Errorf("s3 open: bucket %s does not exist; create it, or pass --create-store to have it created", o.Bucket)
	}
	in := &s3.CreateBucketInput{Bucket: &o.Bucket}
	if r := regionOf(c); r != "" && r != "us-east-1" {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraint(r)}
	}
	if _, err := c.CreateBucket(ctx, in); err != nil && errorCode(err) != codeBucketOwned {
		return fmt.Errorf("s3 open: create bucket %s: %w", o.Bucket, err)
	}
	// S3 may take a moment before the new bucket answers everywhere.
	w := s3.NewBucketExistsWaiter(c, func(wo *s3.BucketExistsWaiterOptions) {
		wo.MinDelay, wo.MaxDelay = 100*time.Millisecond, 2*time.Second
	})
	if err := w.Wait(ctx, &s3.HeadBucketInput{Bucket: &o.Bucket}, 30*time.Second); err != nil {
		return fmt.Errorf("s3 open: wait for new bucket %s: %w", o.Bucket, err)
	}
	return nil
}

// regionOf returns the region of an SDK client, or "".
func regionOf(c api) string {
	if sc, ok := c.(*s3.Client); ok {
		return sc.Options().Region
	}
	return ""
}
