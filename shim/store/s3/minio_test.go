package s3_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aft-shim/aft/shim/store"
	"github.com/aft-shim/aft/shim/store/s3"
	"github.com/aft-shim/aft/shim/store/s3/miniotest"
	"github.com/aft-shim/aft/shim/store/storetest"
)

// startMinIO starts a MinIO server for the test and gives the SDK its credentials.
func startMinIO(t *testing.T) *miniotest.Server {
	t.Helper()
	m := miniotest.Start(t)
	for k, v := range m.Env() {
		t.Setenv(k, v)
	}
	return m
}

// TestConformanceMinIO runs the suite against MinIO: one bucket, a fresh prefix per subtest.
func TestConformanceMinIO(t *testing.T) {
	m := startMinIO(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return openAt(t, m.Endpoint, s3.Options{Bucket: "conformance", Prefix: freshBucket(t.Name()) + "/", Create: true})
	})
}

func TestAfterCloseMinIO(t *testing.T) {
	m := startMinIO(t)
	storetest.RunAfterClose(t, openAt(t, m.Endpoint, s3.Options{Bucket: "closed", Create: true}), s3.ErrClosed)
}

func TestOpenMissingBucketMinIO(t *testing.T) {
	testOpenMissingBucket(t, startMinIO(t).Endpoint)
}

// TestBadCredentialsMinIO checks that Open fails, and says why, when MinIO refuses the
// credentials.
func TestBadCredentialsMinIO(t *testing.T) {
	m := startMinIO(t)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong")
	_, err := s3.Open(t.Context(), s3.Options{Bucket: "bkt", Endpoint: m.Endpoint, PathStyle: true, Create: true})
	if err == nil {
		t.Fatal("Open with a wrong secret key: no error")
	}
	t.Logf("Open with a wrong secret key: %v", err)
}

// TestFaultMinIO stops MinIO in the middle of a run: every call fails with an error (not a
// hang, and neither ErrNotFound nor ErrExists), and once MinIO is back the store works
// again, with the values written before the crash.
func TestFaultMinIO(t *testing.T) {
	m := startMinIO(t)
	s := openAt(t, m.Endpoint, s3.Options{Bucket: "fault", Prefix: "shim/", Create: true})
	defer s.Close()
	if err := s.Put(t.Context(), []store.Item{{Key: "v/before", Value: []byte("before")}}); err != nil {
		t.Fatal(err)
	}

	m.Stop()
	calls := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"Get", func(ctx context.Context) error { _, err := s.Get(ctx, "v/before"); return err }},
		{"Put", func(ctx context.Context) error {
			return s.Put(ctx, []store.Item{{Key: "v/a", Value: []byte("a")}, {Key: "v/b", Value: []byte("b")}})
		}},
		{"Create", func(ctx context.Context) error { return s.Create(ctx, "r/down", []byte("r")) }},
		{"Delete", func(ctx context.Context) error { return s.Delete(ctx, []string{"v/before"}) }},
		{"List", func(ctx context.Context) error {
			return s.List(ctx, "", true, func(string, []byte) error { return nil })
		}},
	}
	// All at once: each takes the SDK's retries with backoff before it gives up.
	errs := make([]error, len(calls))
	took := make([]time.Duration, len(calls))
	var wg sync.WaitGroup
	for i, c := range calls {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			start := time.Now()
			errs[i] = c.call(ctx)
			took[i] = time.Since(start)
		})
	}
	wg.Wait()
	for i, c := range calls {
		err := errs[i]
		if err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrExists) || errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s with MinIO down: got %v, want the error of the failed requests", c.name, err)
		}
		t.Logf("%s with MinIO down, after %v: %v", c.name, took[i].Round(time.Millisecond), err)
	}

	m.Restart()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if got, err := s.Get(ctx, "v/before"); err != nil || string(got) != "before" {
		t.Fatalf("Get after restart: got %q, %v; want \"before\"", got, err)
	}
	if err := s.Create(ctx, "r/up", []byte("up")); err != nil {
		t.Fatalf("Create after restart: %v", err)
	}
	if err := s.Create(ctx, "r/up", []byte("again")); !errors.Is(err, store.ErrExists) {
		t.Fatalf("second Create after restart: got %v, want ErrExists", err)
	}
	if err := s.Put(ctx, []store.Item{{Key: "v/after", Value: []byte("after")}}); err != nil {
		t.Fatalf("Put after restart: %v", err)
	}
	var keys []string
	if err := s.List(ctx, "", false, func(k string, _ []byte) error { keys = append(keys, k); return nil }); err != nil {
		t.Fatalf("List after restart: %v", err)
	}
	slices.Sort(keys)
	// v/a, v/b and r/down were refused while MinIO was down.
	if want := []string{"r/up", "v/after", "v/before"}; !slices.Equal(keys, want) {
		t.Fatalf("List after restart: got %q, want %q", keys, want)
	}
}

// TestObjectKeysMinIO writes, through the SDK, object keys as they are, and checks that
// MinIO refuses those the escaping of keys.go avoids: the test documents why the escaping
// exists, and tells when a MinIO upgrade changes the rules.
func TestObjectKeysMinIO(t *testing.T) {
	m := startMinIO(t)
	s := openAt(t, m.Endpoint, s3.Options{Bucket: "raw", Create: true})
	defer s.Close()
	tests := []struct {
		key     string
		refused bool
	}{
		{"plain/key", false},
		{"a//b", true},
		{"a/./b", true},
		{"a/../b", true},
		{fmt.Sprintf("%0256d", 0), true},
		{"obj", false},
		{"obj/xl.meta", true}, // MinIO keeps the metadata of "obj" in obj/xl.meta
	}
	for _, tt := range tests {
		err := s3.PutRawForTest(t.Context(), s, tt.key, []byte("x"))
		if (err != nil) != tt.refused {
			t.Errorf("PutObject %.40q: got %v, want refused %v", tt.key, err, tt.refused)
		}
	}
}

func TestListAfterPagesMinIO(t *testing.T) {
	testListAfterPages(t, startMinIO(t).Endpoint)
}
