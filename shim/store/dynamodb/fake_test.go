package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/aft-shim/aft/shim/store"
	"github.com/aft-shim/aft/shim/store/dynamodb/dynamotest"
)

// countingAPI counts the calls it passes on.
type countingAPI struct {
	api
	transacts atomic.Int64
	batches   atomic.Int64
}

func (c *countingAPI) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	c.transacts.Add(1)
	return c.api.TransactWriteItems(ctx, in, optFns...)
}

func (c *countingAPI) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	c.batches.Add(1)
	return c.api.BatchWriteItem(ctx, in, optFns...)
}

// throttlingAPI plays a table under pressure in front of a real one: of its BatchWriteItem
// calls, every third fails with a throttling error (after the SDK's retries, as it were)
// and the others write only the first few requests and hand back the rest as
// UnprocessedItems; its first transactions are cancelled for conflicts.
type throttlingAPI struct {
	api
	mu        sync.Mutex
	calls     int
	conflicts int // transactions still to cancel
	throttled int
	partial   int
}

func (f *throttlingAPI) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	f.mu.Lock()
	f.calls++
	n := f.calls
	f.mu.Unlock()
	if n%3 == 0 {
		f.mu.Lock()
		f.throttled++
		f.mu.Unlock()
		if n%2 == 0 {
			return nil, &types.ProvisionedThroughputExceededException{Message: aws.String("throughput exceeded")}
		}
		return nil, &smithy.GenericAPIError{Code: "ThrottlingException", Message: "rate exceeded"}
	}
	var table string
	var reqs []types.WriteRequest
	for table, reqs = range in.RequestItems {
	}
	keep := min(len(reqs), 1+n%4)
	out, err := f.api.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: reqs[:keep]}}, optFns...)
	if err != nil {
		return nil, err
	}
	if keep < len(reqs) {
		f.mu.Lock()
		f.partial++
		f.mu.Unlock()
		if out.UnprocessedItems == nil {
			out.UnprocessedItems = map[string][]types.WriteRequest{}
		}
		out.UnprocessedItems[table] = append(out.UnprocessedItems[table], reqs[keep:]...)
	}
	return out, nil
}

func (f *throttlingAPI) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	f.mu.Lock()
	conflict := f.conflicts > 0
	f.conflicts--
	f.mu.Unlock()
	if conflict {
		reasons := make([]types.CancellationReason, len(in.TransactItems))
		for i := range reasons {
			reasons[i].Code = aws.String("None")
		}
		reasons[len(reasons)-1].Code = aws.String("TransactionConflict")
		return nil, &types.TransactionCanceledException{Message: aws.String("conflict"), CancellationReasons: reasons}
	}
	return f.api.TransactWriteItems(ctx, in, optFns...)
}

func TestPutThrottled(t *testing.T) {
	s := openLocal(t)
	defer s.Close()
	fake := &throttlingAPI{api: s.c, conflicts: 3}
	s.c = fake
	ctx := t.Context()
	const n = 120
	items := make([]store.Item, n)
	keys := make([]string, n)
	for i := range items {
		keys[i] = fmt.Sprintf("v/t/%03d", i)
		items[i] = store.Item{Key: keys[i], Value: []byte(keys[i])}
	}
	if err := s.Put(ctx, items); err != nil {
		t.Fatalf("Put under throttling: %v", err)
	}
	for _, it := range items {
		if v, err := s.Get(ctx, it.Key); err != nil || string(v) != string(it.Value) {
			t.Fatalf("Get %s after a throttled Put: %q, %v", it.Key, v, err)
		}
	}
	if fake.throttled == 0 || fake.partial == 0 {
		t.Fatalf("the fake neither throttled (%d) nor left items unprocessed (%d)", fake.throttled, fake.partial)
	}
	t.Logf("%d BatchWriteItem calls for %d items: %d throttled, %d partial", fake.calls, n, fake.throttled, fake.partial)

	if err := s.PutCreate(ctx, items[:3], "r/t", []byte("rec")); err != nil {
		t.Fatalf("PutCreate after 3 transaction conflicts: %v", err)
	}
	if fake.conflicts >= 0 {
		t.Fatalf("the fake cancelled %d transactions too few", fake.conflicts+1)
	}
	if err := s.Delete(ctx, keys); err != nil {
		t.Fatalf("Delete under throttling: %v", err)
	}
	for _, key := range keys {
		if _, err := s.Get(ctx, key); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Get %s after a throttled Delete: %v", key, err)
		}
	}
}

// stuckAPI never processes a batch.
type stuckAPI struct{ api }

func (stuckAPI) BatchWriteItem(_ context.Context, in *dynamodb.BatchWriteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	return &dynamodb.BatchWriteItemOutput{UnprocessedItems: in.RequestItems}, nil
}

func TestPutStuckEndsWithContext(t *testing.T) {
	s := newStore(stuckAPI{}, "stuck")
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Put(ctx, []store.Item{{Key: "v/x", Value: []byte("x")}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Put that never gets processed: got %v, want an error wrapping DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Put returned %v after its deadline", d)
	}
}

// TestSDKRetriesThrottling puts a proxy in front of DynamoDB Local that answers every
// other request with a ThrottlingException: the SDK's retryer, as Open configures it, must
// hide all of them.
func TestSDKRetriesThrottling(t *testing.T) {
	srv := dynamotest.Shared(t)
	target, err := url.Parse(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	var requests, throttled atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1)%2 == 0 {
			throttled.Add(1)
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate of requests exceeds the allowed throughput."}`)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer ts.Close()
	s, err := Open(t.Context(), Options{Table: srv.Table(t), Endpoint: ts.URL, Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	items := make([]store.Item, 60)
	for i := range items {
		items[i] = store.Item{Key: fmt.Sprintf("v/sdk/%02d", i), Value: []byte{byte(i)}}
	}
	steps := []struct {
		name string
		call func() error
	}{
		{"Put", func() error { return s.Put(ctx, items) }},
		{"Create", func() error { return s.Create(ctx, "r/sdk", []byte("r")) }},
		{"Create again", func() error {
			if err := s.Create(ctx, "r/sdk", []byte("r")); !errors.Is(err, store.ErrExists) {
				return fmt.Errorf("got %v, want ErrExists", err)
			}
			return nil
		}},
		{"PutCreate", func() error { return s.PutCreate(ctx, items[:5], "r/sdk2", []byte("r")) }},
		{"Get", func() error { _, err := s.Get(ctx, "v/sdk/07"); return err }},
		{"List", func() error {
			n := 0
			if err := s.List(ctx, "v/sdk/", true, func(string, []byte) error { n++; return nil }); err != nil {
				return err
			}
			if n != len(items) {
				return fmt.Errorf("listed %d keys, want %d", n, len(items))
			}
			return nil
		}},
		{"Delete", func() error { return s.Delete(ctx, []string{"v/sdk/01", "v/sdk/02"}) }},
	}
	for _, st := range steps {
		if err := st.call(); err != nil {
			t.Fatalf("%s through a throttling proxy: %v", st.name, err)
		}
	}
	if throttled.Load() == 0 {
		t.Fatal("the proxy throttled nothing")
	}
	t.Logf("%d requests, %d throttled", requests.Load(), throttled.Load())
}

func TestCancelReason(t *testing.T) {
	reasons := func(codes ...string) error {
		r := make([]types.CancellationReason, len(codes))
		for i, c := range codes {
			r[i].Code = aws.String(c)
		}
		return fmt.Errorf("wrapped: %w", &types.TransactionCanceledException{CancellationReasons: r})
	}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"record exists", reasons("ConditionalCheckFailed", "None"), "ConditionalCheckFailed"},
		{"conflict", reasons("None", "TransactionConflict"), "retry"},
		{"throttled", reasons("ThrottlingError", "None"), "retry"},
		{"conflict and validation", reasons("None", "TransactionConflict", "ValidationError"), ""},
		{"item too large", reasons("None", "ItemCollectionSizeLimitExceeded"), ""},
		{"no reasons", reasons(), ""},
		{"other error", errors.New("boom"), ""},
		{"condition on an item", reasons("None", "ConditionalCheckFailed"), ""},
	}
	for _, tt := range tests {
		if got := cancelReason(tt.err); got != tt.want {
			t.Errorf("%s: cancelReason = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestIsTransient(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{&types.ProvisionedThroughputExceededException{}, true},
		{fmt.Errorf("op: %w", &smithy.GenericAPIError{Code: "ThrottlingException"}), true},
		{&smithy.GenericAPIError{Code: "RequestLimitExceeded"}, true},
		{&types.TransactionConflictException{}, true},
		{&smithy.GenericAPIError{Code: "ValidationException"}, false},
		{context.Canceled, false},
		{errors.New("ThrottlingException"), false},
	}
	for _, tt := range tests {
		if got := isTransient(tt.err); got != tt.want {
			t.Errorf("isTransient(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
