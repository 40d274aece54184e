package dynamodb

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aft-shim/aft/shim/store"
	"github.com/aft-shim/aft/shim/store/dynamodb/dynamotest"
	"github.com/aft-shim/aft/shim/store/storetest"
)

// openLocal opens a store on a fresh table of the shared DynamoDB Local.
func openLocal(t *testing.T) *Store {
	t.Helper()
	srv := dynamotest.Shared(t)
	s, err := Open(t.Context(), Options{Table: srv.Table(t), Endpoint: srv.Endpoint, Create: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openLocal(t) })
}

func TestAfterClose(t *testing.T) {
	storetest.RunAfterClose(t, openLocal(t), ErrClosed)
}

func TestOpenMissingTable(t *testing.T) {
	srv := dynamotest.Shared(t)
	table := srv.Table(t)
	_, err := Open(t.Context(), Options{Table: table, Endpoint: srv.Endpoint})
	if err == nil {
		t.Fatal("Open of a missing table without Create: no error")
	}
	for _, want := range []string{table, "does not exist", "--create-store", srv.Endpoint} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Open of a missing table: error %q does not say %q", err, want)
		}
	}
	if _, err := srv.Client().DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(table)}); err == nil {
		t.Error("Open without Create created the table")
	}
}

func TestOpenCreates(t *testing.T) {
	srv := dynamotest.Shared(t)
	table := srv.Table(t)
	s, err := Open(t.Context(), Options{Table: table, Endpoint: srv.Endpoint, Create: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Create(t.Context(), "r/x", []byte("kept")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	out, err := srv.Client().DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatalf("table after Open with Create: %v", err)
	}
	if d := out.Table; d.TableStatus != types.TableStatusActive || d.BillingModeSummary == nil ||
		d.BillingModeSummary.BillingMode != types.BillingModePayPerRequest {
		t.Errorf("created table: status %s, billing %+v; want ACTIVE, PAY_PER_REQUEST", d.TableStatus, d.BillingModeSummary)
	}
	// Opened again, with or without Create, the table and its contents are there.
	for _, create := range []bool{false, true} {
		s, err := Open(t.Context(), Options{Table: table, Endpoint: srv.Endpoint, Create: create})
		if err != nil {
			t.Fatalf("reopen with Create=%v: %v", create, err)
		}
		if v, err := s.Get(t.Context(), "r/x"); err != nil || string(v) != "kept" {
			t.Errorf("reopen with Create=%v: Get = %q, %v", create, v, err)
		}
		if got, want := s.Region(), DefaultRegion; got != want {
			t.Errorf("Region() = %q, want %q (the default with an endpoint)", got, want)
		}
		s.Close()
	}
}

func TestOpenForeignTable(t *testing.T) {
	srv := dynamotest.Shared(t)
	table := srv.Table(t)
	_, err := srv.Client().CreateTable(t.Context(), &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(t.Context(), Options{Table: table, Endpoint: srv.Endpoint, Create: true})
	if err == nil || !strings.Contains(err.Error(), "not a table made by aft") {
		t.Fatalf("Open of a table with another key schema: got %v, want an error saying it is not aft's", err)
	}
}

func TestOpenBadOptions(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"short table name", Options{Table: "ab", Endpoint: "http://127.0.0.1:1"}, "3 to 255"},
		{"bad table name", Options{Table: "a/b/c", Endpoint: "http://127.0.0.1:1"}, "not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(t.Context(), tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Open(%+v): got %v, want an error saying %q", tt.o, err, tt.want)
			}
		})
	}
}

// TestLongKeysAtLimit stores values of the largest size under the longest keys, in every
// way a value is written.
func TestLongKeysAtLimit(t *testing.T) {
	s := openLocal(t)
	defer s.Close()
	ctx := t.Context()
	long := func(c string) string { return "v/" + strings.Repeat(c, maxKeyLen-2) }
	noSlash := strings.Repeat("x", maxKeyLen)
	value := make([]byte, MaxValueSize)
	for i := range value {
		value[i] = byte(i)
	}
	if err := s.Put(ctx, []store.Item{{Key: long("a"), Value: value}, {Key: noSlash, Value: value}}); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if err := s.Create(ctx, "r/"+strings.Repeat("b", maxKeyLen-2), value); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if err := s.PutCreate(ctx, []store.Item{{Key: long("c"), Value: value}}, "r/"+strings.Repeat("d", maxKeyLen-2), value); err != nil {
		t.Fatalf("PutCreate: %v", err)
	}
	for _, key := range []string{long("a"), noSlash, "r/" + strings.Repeat("b", maxKeyLen-2), long("c"), "r/" + strings.Repeat("d", maxKeyLen-2)} {
		got, err := s.Get(ctx, key)
		if err != nil || len(got) != len(value) {
			t.Errorf("Get %.10s...: %d bytes, %v", key, len(got), err)
		}
	}
}

// TestPutCreatePaths runs PutCreate on both sides of the transaction's limits: one
// TransactWriteItems up to 99 items, and the two-step fallback beyond (and a plain
// conditional PutItem without items).
func TestPutCreatePaths(t *testing.T) {
	big := make([]byte, 300<<10)
	tests := []struct {
		name      string
		items     int
		size      int
		transact  bool
		transacts int // TransactWriteItems calls expected
	}{
		{"no items", 0, 10, true, 0},
		{"99 items", 99, 10, true, 1},
		{"100 items", 100, 10, false, 0},
		{"500 items", 500, 10, false, 0},
		{"14 items over 4 MB", 14, len(big), false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openLocal(t)
			defer s.Close()
			counter := &countingAPI{api: s.c}
			s.c = counter
			ctx := t.Context()
			items := make([]store.Item, tt.items)
			for i := range items {
				items[i] = store.Item{Key: fmt.Sprintf("v/pc/%04d", i), Value: big[:tt.size]}
			}
			if got := fitsTransaction(items, "r/pc", []byte("rec")); got != tt.transact {
				t.Fatalf("fitsTransaction = %v, want %v", got, tt.transact)
			}
			if err := s.PutCreate(ctx, items, "r/pc", []byte("rec")); err != nil {
				t.Fatalf("PutCreate: %v", err)
			}
			if got := counter.transacts.Load(); got != int64(tt.transacts) {
				t.Errorf("TransactWriteItems calls: %d, want %d", got, tt.transacts)
			}
			n := 0
			if err := s.List(ctx, "v/pc/", false, func(string, []byte) error { n++; return nil }); err != nil {
				t.Fatal(err)
			}
			if n != tt.items {
				t.Errorf("items written: %d, want %d", n, tt.items)
			}
			// Again on the same record: ErrExists, and the new items are not written.
			again := []store.Item{{Key: "v/pc/again", Value: []byte("x")}}
			for i := range tt.items {
				again = append(again, store.Item{Key: fmt.Sprintf("v/pc/again/%04d", i), Value: []byte("x")})
			}
			if err := s.PutCreate(ctx, again, "r/pc", []byte("rec2")); !errors.Is(err, store.ErrExists) {
				t.Fatalf("second PutCreate: got %v, want ErrExists", err)
			}
			if _, err := s.Get(ctx, "v/pc/again"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("item of the losing PutCreate: got %v, want ErrNotFound", err)
			}
			if v, err := s.Get(ctx, "r/pc"); err != nil || string(v) != "rec" {
				t.Errorf("record after the losing PutCreate: %q, %v", v, err)
			}
		})
	}
}

// TestPutCreateRecordKeyInItems: an item with the record's own key gives way to the record.
func TestPutCreateRecordKeyInItems(t *testing.T) {
	s := openLocal(t)
	defer s.Close()
	items := []store.Item{{Key: "r/same", Value: []byte("item")}, {Key: "v/1", Value: []byte("a")}, {Key: "v/1", Value: []byte("b")}}
	if err := s.PutCreate(t.Context(), items, "r/same", []byte("record")); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{"r/same": "record", "v/1": "b"} {
		if v, err := s.Get(t.Context(), key); err != nil || string(v) != want {
			t.Errorf("Get %s = %q, %v; want %q", key, v, err, want)
		}
	}
}
