package s3

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Dummy credentials, used only for an endpoint on the local machine when the SDK's chain
// has none (package comment).
const (
	DummyAccessKey = "aft-local"
	DummySecretKey = "aft-local-secret"
)

const (
	// maxAttempts is how many times the SDK tries one request (the first try included).
	maxAttempts = 5
	// maxBackoff caps the delay between tries.
	maxBackoff = 2 * time.Second
	// responseHeaderTimeout bounds the wait for the answer to a request fully sent, so that
	// a connection hung without a deadline from the caller fails and is retried.
	responseHeaderTimeout = time.Minute
	// defaultEndpointRegion is the region of a custom endpoint with none configured.
	defaultEndpointRegion = "us-east-1"
)

// newRetryer is the SDK's standard retryer (exponential backoff with jitter, a retry
// budget shared by the client), with more tries, shorter delays, and S3's 409
// ConditionalRequestConflict retried too.
func newRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = maxAttempts
		o.MaxBackoff = maxBackoff
		o.Retryables = append(o.Retryables, retry.RetryableErrorCode{
			Codes: map[string]struct{}{codeConditionalConflict: {}},
		})
	})
}

// newClient builds the SDK client of o, and a function that closes its idle connections.
func newClient(ctx context.Context, o Options) (*s3.Client, func(), error) {
	local := o.Endpoint != "" && isLocal(o.Endpoint)
	opts := []func(*config.LoadOptions) error{
		config.WithRetryer(newRetryer),
	}
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}
	if local {
		// No instance role can sign for a server on this machine: skip the metadata
		// service, whose timeouts would only delay the fallback below.
		opts = append(opts, config.WithEC2IMDSClientEnableState(imds.ClientDisabled))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("load AWS config: %w", err)
	}
	closeIdle := func() {}
	if bc, ok := cfg.HTTPClient.(*awshttp.BuildableClient); ok {
		// The SDK's client as the config made it (with AWS_CA_BUNDLE, say), but on a
		// transport of our own, to size its pool and to close it with the store.
		tr := bc.GetTransport()
		tr.MaxIdleConnsPerHost = 4 * parallel
		tr.ResponseHeaderTimeout = responseHeaderTimeout
		cfg.HTTPClient = &http.Client{
			Transport: tr,
			// Like the SDK's: hand redirects (S3's wrong-region answers) to the SDK.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
		closeIdle = tr.CloseIdleConnections
	}
	if cfg.Region == "" {
		if o.Endpoint == "" {
			return nil, nil, fmt.Errorf("no AWS region: add ?region=R to the URL or set AWS_REGION")
		}
		cfg.Region = defaultEndpointRegion
	}
	if local && !hasCredentials(ctx, cfg) {
		cfg.Credentials = credentials.NewStaticCredentialsProvider(DummyAccessKey, DummySecretKey, "")
	}
	c := s3.NewFromConfig(cfg, func(so *s3.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
		so.UsePathStyle = o.PathStyle
		// Objects written without a checksum (by other tools, or by servers that keep none)
		// are read without validation; that is not worth a warning per GetObject.
		so.DisableLogOutputChecksumValidationSkipped = true
	})
	return c, closeIdle, nil
}

// hasCredentials reports whether the SDK's chain found credentials.
func hasCredentials(ctx context.Context, cfg aws.Config) bool {
	if cfg.Credentials == nil {
		return false
	}
	_, err := cfg.Credentials.Retrieve(ctx)
	return err == nil
}

// isLocal reports whether the endpoint URL names this machine.
func isLocal(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
