package dynamodb

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// api is the part of the DynamoDB client the store calls: *dynamodb.Client implements it,
// and the tests fake it.
type api interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	TransactGetItems(ctx context.Context, in *dynamodb.TransactGetItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactGetItemsOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
}

var _ api = (*dynamodb.Client)(nil)

// Retry policy of the SDK client (see the package documentation).
const (
	maxAttempts  = 10
	retryBase    = 25 * time.Millisecond // doubled before the first retry
	retryMax     = 2 * time.Second
	credsTimeout = 5 * time.Second // to find out whether the default chain has credentials

	responseTimeout = 30 * time.Second // from a request sent to its answer's headers
)

// DefaultRegion is the region used with an Endpoint when neither Options nor the SDK
// configuration name one.
const DefaultRegion = "us-east-1"

// dummyCredentials sign requests to a local endpoint when no credentials are configured
// (DynamoDB Local takes any key ID of letters and digits only).
var dummyCredentials = credentials.NewStaticCredentialsProvider("aftlocal", "aftlocal", "")

// newClient returns the SDK client for o, and the region it resolved.
func newClient(ctx context.Context, o Options) (*dynamodb.Client, string, error) {
	// The SDK's own buildable client, which it can give a custom CA bundle
	// (AWS_CA_BUNDLE), with more idle connections per host: commits run concurrently.
	// A connection that stops answering fails the attempt (and the SDK retries it) even
	// when the caller's context has no deadline.
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.MaxIdleConns = 256
		tr.MaxIdleConnsPerHost = 64
		tr.ResponseHeaderTimeout = responseTimeout
	})
	loadOpts := []func(*config.LoadOptions) error{
		config.WithRetryer(newRetryer),
		config.WithHTTPClient(httpClient),
	}
	if o.Region != "" {
		loadOpts = append(loadOpts, config.WithRegion(o.Region))
	}
	local := o.Endpoint != "" && isLocal(o.Endpoint)
	if local {
		// An instance role is no use to a local server, and looking for one off EC2 can
		// take seconds: the chain skips the instance metadata service.
		loadOpts = append(loadOpts, config.WithEC2IMDSClientEnableState(imds.ClientDisabled))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, "", fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		if o.Endpoint == "" {
			return nil, "", fmt.Errorf("no AWS region: give one in the URL (?region=R) or set AWS_REGION")
		}
		cfg.Region = DefaultRegion
	}
	if local && !hasCredentials(ctx, cfg) {
		cfg.Credentials = dummyCredentials
	}
	c := dynamodb.NewFromConfig(cfg, func(do *dynamodb.Options) {
		if o.Endpoint != "" {
			do.BaseEndpoint = aws.String(o.Endpoint)
		}
		// DynamoDB Local sends no X-Amz-Crc32 header with its error answers, and the SDK
		// then checks the body against a checksum of 0 and logs a warning for every
		// ConditionalCheckFailed. The check stays on for every other endpoint.
		do.DisableValidateResponseChecksum = local
	})
	return c, cfg.Region, nil
}

// hasCredentials reports whether the default chain of cfg yields credentials. The result
// is cached by the SDK, so the first call does not look them up again.
func hasCredentials(ctx context.Context, cfg aws.Config) bool {
	if cfg.Credentials == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, credsTimeout)
	defer cancel()
	_, err := cfg.Credentials.Retrieve(ctx)
	return err == nil
}

// isLocal reports whether endpoint is a local server such as DynamoDB Local: a loopback
// host, or plain http to a host outside Amazon's domains (http://dynamodb-local:8000 in a
// compose file).
func isLocal(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	host := strings.ToLower(u.Hostname())
	if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
		return true
	}
	amazon := strings.HasSuffix(host, ".amazonaws.com") || strings.HasSuffix(host, ".amazonaws.com.cn")
	return u.Scheme == "http" && host != "" && !amazon
}

// newRetryer returns the SDK retryer of the store: more attempts and shorter delays than
// the SDK's defaults, which suit DynamoDB's throttling, no client-side retry quota, and
// transaction conflicts retried too.
func newRetryer() aws.Retryer {
	return retry.NewStandard(func(so *retry.StandardOptions) {
		so.MaxAttempts = maxAttempts
		so.MaxBackoff = retryMax
		so.Backoff = retry.BackoffDelayerFunc(func(attempt int, _ error) (time.Duration, error) {
			return backoff(attempt), nil
		})
		so.RateLimiter = ratelimit.None
		so.Retryables = append(so.Retryables, retry.RetryableErrorCode{
			Codes: map[string]struct{}{"TransactionConflictException": {}},
		})
	})
}

// backoff returns the delay before retry attempt (1 for the first retry): full jitter up
// to retryBase·2^attempt, at most retryMax.
func backoff(attempt int) time.Duration {
	limit := retryMax
	if attempt < 16 {
		limit = min(retryBase<<attempt, retryMax)
	}
	return time.Duration(rand.Int64N(int64(limit)) + 1)
}

// sleep waits d, or returns the error of ctx when it ends first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
