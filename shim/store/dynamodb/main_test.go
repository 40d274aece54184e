package dynamodb

import (
	"os"
	"testing"

	"github.com/aft-shim/aft/shim/store/dynamodb/dynamotest"
)

// TestMain shares one DynamoDB Local among the tests; each test has tables of its own.
func TestMain(m *testing.M) { os.Exit(dynamotest.Main(m)) }
