package s3

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
)

// ErrClosed is returned by every method of a closed Store.
var ErrClosed = errors.New("s3 store closed")

// S3 error codes the store acts on.
const (
	codeNoSuchKey          = "NoSuchKey"
	codeNoSuchBucket       = "NoSuchBucket"
	codeNotFound           = "NotFound" // HEAD requests have no body, hence no specific code
	codePreconditionFailed = "PreconditionFailed"
	// codeConditionalConflict is S3's answer to a conditional write that raced with another
	// write of the same key; the write may be retried.
	codeConditionalConflict = "ConditionalRequestConflict"
	codeBucketOwned         = "BucketAlreadyOwnedByYou"
)

// errorCode returns the S3 error code of err, or "".
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// httpStatus returns the HTTP status of the response that caused err, or 0.
func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// isNoSuchKey reports whether err says the object does not exist (and not the bucket).
func isNoSuchKey(err error) bool {
	return errorCode(err) == codeNoSuchKey
}

// isPreconditionFailed reports whether a conditional write failed because the object exists.
func isPreconditionFailed(err error) bool {
	return errorCode(err) == codePreconditionFailed || httpStatus(err) == http.StatusPreconditionFailed
}

// isBucketMissing reports whether err from HeadBucket says the bucket does not exist.
func isBucketMissing(err error) bool {
	switch errorCode(err) {
	case codeNoSuchBucket, codeNotFound:
		return true
	}
	return httpStatus(err) == http.StatusNotFound
}

// opError wraps err as the failure of op on key ("s3 put KEY: ..."). When ctx has ended it
// makes sure the result wraps ctx.Err(), whatever the SDK made of it.
func opError(ctx context.Context, op, key string, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("s3 %s %s: %w: %w", op, key, cerr, err)
	}
	return fmt.Errorf("s3 %s %s: %w", op, key, err)
}
