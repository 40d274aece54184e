package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Waiting for a table being created to become active.
const (
	activeTimeout = 5 * time.Minute
	activePoll    = 500 * time.Millisecond
)

// checkTableName returns an error unless name is a valid DynamoDB table name: 3 to 255
// characters among [A-Za-z0-9_.-].
func checkTableName(name string) error {
	if len(name) < 3 || len(name) > 255 {
		return fmt.Errorf("table name %q: want 3 to 255 characters", name)
	}
	for _, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
		if !ok {
			return fmt.Errorf("table name %q: character %q not allowed (want [A-Za-z0-9_.-])", name, c)
		}
	}
	return nil
}

// prepareTable makes sure the table exists with the store's key schema and is active,
// creating it when create is set. endpoint is only for error messages.
func (s *Store) prepareTable(ctx context.Context, create bool, endpoint string) error {
	where := "region " + s.region
	if endpoint != "" {
		where += " at " + endpoint
	}
	desc, err := s.describe(ctx)
	var notFound *types.ResourceNotFoundException
	switch {
	case errors.As(err, &notFound) && !create:
		return fmt.Errorf("dynamodb open: table %q does not exist in %s; pass --create-store to create it", s.table, where)
	case errors.As(err, &notFound):
		if desc, err = s.createTable(ctx); err != nil {
			return fmt.Errorf("dynamodb open: create table %q in %s: %w", s.table, where, err)
		}
	case err != nil:
		return fmt.Errorf("dynamodb open: describe table %q in %s: %w", s.table, where, callErr(ctx, err))
	default:
		if err := checkSchema(desc); err != nil {
			return fmt.Errorf("dynamodb open: table %q in %s: %w", s.table, where, err)
		}
	}
	if err := s.waitActive(ctx, desc); err != nil {
		return fmt.Errorf("dynamodb open: table %q in %s: %w", s.table, where, err)
	}
	return nil
}

// describe returns the description of the table.
func (s *Store) describe(ctx context.Context) (*types.TableDescription, error) {
	out, err := s.c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(s.table)})
	if err != nil {
		return nil, err
	}
	if out.Table == nil {
		return nil, errors.New("DescribeTable returned no table")
	}
	return out.Table, nil
}

// createTable creates the table with on-demand capacity, and returns its description if
// it has one. A table created meanwhile by someone else (two shims started with
// --create-store) is not an error.
func (s *Store) createTable(ctx context.Context) (*types.TableDescription, error) {
	out, err := s.c.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:   aws.String(s.table),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(attrPK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(attrSK), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(attrPK), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(attrSK), KeyType: types.KeyTypeRange},
		},
	})
	var inUse *types.ResourceInUseException
	switch {
	case errors.As(err, &inUse):
		return nil, nil
	case err != nil:
		return nil, callErr(ctx, err)
	}
	return out.TableDescription, nil
}

// checkSchema returns an error unless the table has the store's key schema.
func checkSchema(desc *types.TableDescription) error {
	want := map[string]types.KeyType{attrPK: types.KeyTypeHash, attrSK: types.KeyTypeRange}
	ok := len(desc.KeySchema) == len(want)
	for _, k := range desc.KeySchema {
		ok = ok && want[aws.ToString(k.AttributeName)] == k.KeyType
	}
	for _, a := range desc.AttributeDefinitions {
		if _, key := want[aws.ToString(a.AttributeName)]; key && a.AttributeType != types.ScalarAttributeTypeS {
			ok = false
		}
	}
	if !ok {
		return fmt.Errorf("key schema %s is not aft's (pk HASH S, sk RANGE S): not a table made by aft", schemaString(desc))
	}
	return nil
}

func schemaString(desc *types.TableDescription) string {
	s := "("
	for i, k := range desc.KeySchema {
		if i > 0 {
			s += ", "
		}
		s += aws.ToString(k.AttributeName) + " " + string(k.KeyType)
	}
	return s + ")"
}

// waitActive waits until the table is active. desc is its last description, nil when
// there is none at hand.
func (s *Store) waitActive(ctx context.Context, desc *types.TableDescription) error {
	ctx, cancel := context.WithTimeout(ctx, activeTimeout)
	defer cancel()
	for {
		if desc == nil {
			var err error
			var notFound *types.ResourceNotFoundException
			desc, err = s.describe(ctx)
			switch {
			case errors.As(err, &notFound):
				// Not visible yet, just after CreateTable: poll again.
			case err != nil:
				return fmt.Errorf("describe: %w", callErr(ctx, err))
			}
		}
		if desc != nil {
			switch desc.TableStatus {
			case types.TableStatusActive, types.TableStatusUpdating:
				return nil
			case types.TableStatusCreating:
			default:
				return fmt.Errorf("table status %s, want ACTIVE", desc.TableStatus)
			}
		}
		if err := sleep(ctx, activePoll); err != nil {
			return fmt.Errorf("waiting for status ACTIVE (at most %v): %w", activeTimeout, err)
		}
		desc = nil
	}
}
