package backend

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aft-shim/aft/internal/launch"
	"github.com/aft-shim/aft/shim/retry"
)

// What start-up may wait out and what it must not: a missing DynamoDB table or S3 bucket
// and a bad URL fail at once, a refused connection is transient. The servers are fakes
// that answer as DynamoDB and S3 do.
func TestOpenErrorsPermanentOrTransient(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	var calls atomic.Int64
	dynamo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("X-Amzn-ErrorType", "ResourceNotFoundException")
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}`))
	}))
	defer dynamo.Close()
	s3 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusNotFound) // HeadBucket of a missing bucket: no body
	}))
	defer s3.Close()
	closed, err := launch.FreeAddr() // nobody listens here
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, url string
		transient bool
		say       string
	}{
		{"missing table", "dynamodb://nosuchtable?region=us-east-1&endpoint=" + dynamo.URL, false, "does not exist"},
		{"missing bucket", "s3://nosuchbucket/p?region=us-east-1&path-style=true&endpoint=" + s3.URL, false, "does not exist"},
		{"bad redis URL", "redis://:secret@host:port/0", false, "bad store URL"},
		{"unknown scheme", "ftp://x", false, "bad store URL"},
		{"redis refused", "redis://" + closed + "/0", true, "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls.Store(0)
			s, _, err := Open(context.Background(), tt.url, Options{DataDir: t.TempDir()})
			if err == nil {
				s.Close()
				t.Fatal("opened")
			}
			if got := retry.Transient(err); got != tt.transient {
				t.Errorf("Transient(%v) = %v, want %v", err, got, tt.transient)
			}
			if !strings.Contains(err.Error(), tt.say) {
				t.Errorf("error %q does not say %q", err, tt.say)
			}
			if !tt.transient && calls.Load() > 1 {
				t.Errorf("a permanent error took %d calls to the server, want 1", calls.Load())
			}
			// Start-up's retries give up at once on it.
			tries := 0
			err = retry.Policy{}.Do(context.Background(), "open", func(ctx context.Context) error {
				tries++
				if tries > 1 {
					return nil
				}
				_, _, err := Open(ctx, tt.url, Options{DataDir: t.TempDir()})
				return err
			})
			if want := map[bool]int{false: 1, true: 2}[tt.transient]; tries != want || (err == nil) != tt.transient {
				t.Errorf("retried open: %v after %d tries, want %d tries", err, tries, want)
			}
		})
	}
}
