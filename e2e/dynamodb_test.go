package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aft-shim/aft/shim/backend"
	"github.com/aft-shim/aft/shim/store/dynamodb/dynamotest"
)

// TestCrashRecoveryDynamoDB is TestCrashRecovery with the shim on a DynamoDB table, in a
// DynamoDB Local of the test's own that `aft serve --create-store` creates the table in.
// Before the load it checks how the --store URL opens the table through the backend.
func TestCrashRecoveryDynamoDB(t *testing.T) {
	srv := dynamotest.Start(t)
	storeURL := srv.StoreURL(t, "e2e-crash") // sets the credentials the children's SDK finds
	t.Run("Backend", func(t *testing.T) { testDynamoDBBackend(t, srv.Endpoint) })
	runCrashRecovery(t, "--store", storeURL, "--create-store")
}

// testDynamoDBBackend opens dynamodb:// URLs with backend.Open: a missing table is an
// error naming it unless CreateStore is set, and the description names the table.
func testDynamoDBBackend(t *testing.T, endpoint string) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	rawURL := "dynamodb://aft-e2e-backend?endpoint=" + endpoint
	_, _, err := backend.Open(ctx, rawURL, backend.Options{})
	if err == nil || !strings.Contains(err.Error(), `"aft-e2e-backend"`) || !strings.Contains(err.Error(), "--create-store") {
		t.Fatalf("Open of a missing table without CreateStore: got %v, want an error naming the table and --create-store", err)
	}
	for range 2 { // creates the table, then opens it
		s, desc, err := backend.Open(ctx, rawURL, backend.Options{CreateStore: true})
		if err != nil {
			t.Fatalf("Open with CreateStore: %v", err)
		}
		if want := "dynamodb table aft-e2e-backend at " + endpoint; desc != want {
			t.Errorf("description %q, want %q", desc, want)
		}
		s.Close()
	}
	for _, bad := range []string{"dynamodb://", "dynamodb://aft?endpoint=localhost:8000", "dynamodb://aft?regoin=x"} {
		if err := backend.Check(bad); !errors.Is(err, backend.ErrBadURL) {
			t.Errorf("Check(%q) = %v, want ErrBadURL", bad, err)
		}
	}
}
