package backend

import (
	"context"
	"fmt"
	"net/url"

	"github.com/aft-shim/aft/shim/store"
	"github.com/aft-shim/aft/shim/store/dynamodb"
)

// dynamodbScheme opens dynamodb://TABLE?region=R&endpoint=URL: the table TABLE of
// Amazon DynamoDB, or of the server at endpoint (such as DynamoDB Local). Without region
// the SDK's configuration (AWS_REGION, the profile) names it, or with an endpoint
// dynamodb.DefaultRegion. Credentials come from the AWS SDK's default chain. The URL is
// parsed by dynamodb.ParseURL, where its tests are.
var dynamodbScheme = scheme{check: checkDynamoDB, open: openDynamoDB}

func checkDynamoDB(u *url.URL) error {
	_, err := dynamodb.ParseURL(u)
	return err
}

func openDynamoDB(ctx context.Context, u *url.URL, o Options) (store.Store, string, error) {
	do, err := dynamodb.ParseURL(u)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrBadURL, err)
	}
	do.Create = o.CreateStore
	s, err := dynamodb.Open(ctx, do)
	if err != nil {
		return nil, "", err
	}
	return s, describeDynamoDB(s, do.Endpoint), nil
}

// describeDynamoDB describes the store for the ready line.
func describeDynamoDB(s *dynamodb.Store, endpoint string) string {
	if endpoint != "" {
		return "dynamodb table " + s.Table() + " at " + endpoint
	}
	return "dynamodb table " + s.Table() + " in " + s.Region()
}
