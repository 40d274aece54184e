package s3_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/aft-shim/aft/shim/store"
	"github.com/aft-shim/aft/shim/store/s3"
	"github.com/aft-shim/aft/shim/store/storetest"
)

// startFake serves S3 in-process with gofakes3 (conditional writes included) and returns
// its endpoint.
func startFake(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(gofakes3.New(s3mem.New(), gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	t.Cleanup(srv.Close)
	return srv.URL
}

// bucketSeq numbers the buckets the tests create, so that every store starts empty.
var bucketSeq atomic.Int64

// freshBucket returns a bucket name not used before in this test process.
func freshBucket(name string) string {
	n := strings.ToLower(strings.NewReplacer("/", "-", "_", "-", "\"", "").Replace(name))
	return fmt.Sprintf("t%d-%.40s", bucketSeq.Add(1), strings.Trim(n, "-."))
}

// openAt opens a store at endpoint, failing the test on an error.
func openAt(t *testing.T, endpoint string, o s3.Options) *s3.Store {
	t.Helper()
	o.Endpoint, o.PathStyle, o.Region = endpoint, true, "us-east-1"
	s, err := s3.Open(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformanceFake(t *testing.T) {
	endpoint := startFake(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return openAt(t, endpoint, s3.Options{Bucket: freshBucket(t.Name()), Prefix: "aft/", Create: true})
	})
}

func TestConformanceFakeSmallLimit(t *testing.T) {
	endpoint := startFake(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return openAt(t, endpoint, s3.Options{Bucket: freshBucket(t.Name()), Create: true, MaxValueSize: 1000})
	})
}

func TestAfterCloseFake(t *testing.T) {
	s := openAt(t, startFake(t), s3.Options{Bucket: "closed", Create: true})
	storetest.RunAfterClose(t, s, s3.ErrClosed)
}

// TestPrefixesIsolated checks that two stores on one bucket under sibling prefixes see
// only their own keys.
func TestPrefixesIsolated(t *testing.T) {
	endpoint := startFake(t)
	a := openAt(t, endpoint, s3.Options{Bucket: "shared", Prefix: "a/", Create: true})
	b := openAt(t, endpoint, s3.Options{Bucket: "shared", Prefix: "ab/"})
	defer a.Close()
	defer b.Close()
	ctx := t.Context()
	if err := a.Put(ctx, []store.Item{{Key: "k", Value: []byte("a")}}); err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, []store.Item{{Key: "k", Value: []byte("b")}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		s    *s3.Store
		want string
	}{
		{"a", a, "k=a"},
		{"b", b, "k=b"},
	}
	for _, tt := range tests {
		var got []string
		err := tt.s.List(ctx, "", true, func(key string, v []byte) error {
			got = append(got, key+"="+string(v))
			return nil
		})
		if err != nil || strings.Join(got, ",") != tt.want {
			t.Errorf("List of store %s: got %q, %v; want [%s]", tt.name, got, err, tt.want)
		}
	}
}

func TestOpenMissingBucketFake(t *testing.T) {
	testOpenMissingBucket(t, startFake(t))
}

// testOpenMissingBucket checks that Open fails on a missing bucket with an error that names
// it and the flag that creates it, and creates it with Create.
func testOpenMissingBucket(t *testing.T, endpoint string) {
	o := s3.Options{Bucket: "no-such-bucket", Endpoint: endpoint, PathStyle: true, Region: "us-east-1"}
	_, err := s3.Open(t.Context(), o)
	if err == nil || !strings.Contains(err.Error(), "no-such-bucket") || !strings.Contains(err.Error(), "--create-store") {
		t.Fatalf("Open of a missing bucket: got %v, want an error naming the bucket and --create-store", err)
	}
	o.Create = true
	s, err := s3.Open(t.Context(), o)
	if err != nil {
		t.Fatalf("Open with Create: %v", err)
	}
	if err := s.Create(t.Context(), "k", []byte("v")); err != nil {
		t.Fatalf("Create in the new bucket: %v", err)
	}
	s.Close()
	o.Create = false
	s, err = s3.Open(context.Background(), o)
	if err != nil {
		t.Fatalf("Open of the created bucket: %v", err)
	}
	s.Close()
}

// TestDummyCredentialsFake opens a store on a local endpoint with no credentials anywhere:
// the store falls back to the dummy ones, which gofakes3 does not check.
func TestDummyCredentialsFake(t *testing.T) {
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	endpoint := startFake(t)
	s, err := s3.Open(t.Context(), s3.Options{Bucket: "dummy", Endpoint: endpoint, PathStyle: true, Create: true})
	if err != nil {
		t.Fatalf("Open without credentials on %s: %v", endpoint, err)
	}
	defer s.Close()
	if err := s.Create(t.Context(), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
}

// TestPutSameKeyTwice checks that of a key given twice in one Put, the last value stays, as
// if the items were written in order.
func TestPutSameKeyTwice(t *testing.T) {
	s := openAt(t, startFake(t), s3.Options{Bucket: "twice", Create: true})
	defer s.Close()
	items := []store.Item{{Key: "k", Value: []byte("first")}}
	for i := range 40 {
		items = append(items, store.Item{Key: fmt.Sprint("o/", i), Value: []byte("o")})
	}
	items = append(items, store.Item{Key: "k", Value: []byte("last")})
	if err := s.Put(t.Context(), items); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(t.Context(), "k"); err != nil || string(got) != "last" {
		t.Fatalf("Get k: got %q, %v; want \"last\"", got, err)
	}
}

func TestListAfterPagesFake(t *testing.T) {
	testListAfterPages(t, startFake(t))
}

// testListAfterPages checks ListAfter where the conformance suite does not go: listings of
// more than one ListObjectsV2 page (continuation tokens), and names over the 200 bytes after
// which the escaping cuts a segment in chunks, next to names that end at the cut or go on
// with the characters that sort below and above the chunk marker.
func testListAfterPages(t *testing.T, endpoint string) {
	s := openAt(t, endpoint, s3.Options{Bucket: "pages", Prefix: "shim/", Create: true})
	defer s.Close()
	ctx := t.Context()
	const dir = store.OrderedPrefix + "1700000000/"
	long := strings.Repeat("f", 200)
	var keys []string
	for i := range 1100 {
		keys = append(keys, fmt.Sprintf("%s%016x.k%d", dir, i*7919, i))
	}
	for _, name := range []string{long[:199], long, long + "-", long + ".", long + "0", long + "_x", long + "~", long + "ff", long + long + "z"} {
		keys = append(keys, dir+name)
	}
	items := make([]store.Item, len(keys))
	for i, k := range keys {
		items[i] = store.Item{Key: k, Value: []byte{}}
	}
	items = append(items, store.Item{Key: dir + "sub/x", Value: []byte{}}) // not directly in dir
	if err := s.Put(ctx, items); err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	listAfter := func(after string, limit int) []string {
		t.Helper()
		var got []string
		if err := s.ListAfter(ctx, dir, after, limit, func(k string) error { got = append(got, k); return nil }); err != nil {
			t.Fatalf("ListAfter(%q, %d): %v", after, limit, err)
		}
		return got
	}
	tests := []struct {
		name  string
		after string
		limit int
		want  []string
	}{
		{"all", "", 5000, keys},
		{"over a page", "", 1050, keys[:1050]},
		{"after a key, over a page", keys[20], 5000, keys[21:]},
		{"after a long name", dir + long, 5000, keys[slices.Index(keys, dir+long)+1:]},
		{"after a cut", dir + long[:150] + "/", 3, keys[slices.Index(keys, dir+long[:199]):][:3]},
	}
	for _, tt := range tests {
		if got := listAfter(tt.after, tt.limit); !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %d keys %q, want %d keys %q", tt.name, len(got), ends(got), len(tt.want), ends(tt.want))
		}
	}
}

// ends returns the first and the last of keys, for messages.
func ends(keys []string) []string {
	if len(keys) < 2 {
		return keys
	}
	return []string{keys[0], keys[len(keys)-1]}
}
