package bolt_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aft-shim/aft/shim/store"
	"github.com/aft-shim/aft/shim/store/bolt"
	"github.com/aft-shim/aft/shim/store/storetest"
)

// open opens a store in the file data.db of dir, failing the test on an error.
func open(t testing.TB, dir string, opts bolt.Options) *bolt.Store {
	t.Helper()
	s, err := bolt.Open(filepath.Join(dir, "data.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, t.TempDir(), bolt.Options{}) })
}

func TestConformanceSmallBatches(t *testing.T) {
	opts := bolt.Options{MaxBatch: 3, MaxBatchBytes: 1000, MaxValueSize: 4 << 20}
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, t.TempDir(), opts) })
}

func TestReopen(t *testing.T) {
	storetest.RunReopen(t, func(t *testing.T, dir string) store.Store { return open(t, dir, bolt.Options{}) })
}

func TestOpenCreatesDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	s := open(t, dir, bolt.Options{})
	defer s.Close()
	tests := []struct {
		path string
		want os.FileMode
	}{
		{dir, 0o700 | os.ModeDir},
		{filepath.Join(dir, "data.db"), 0o600},
	}
	for _, tt := range tests {
		fi, err := os.Stat(tt.path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode() &^ 0o022; got != tt.want&^0o022 {
			t.Errorf("mode of %s: got %v, want %v", tt.path, fi.Mode(), tt.want)
		}
	}
	if got, want := s.Path(), filepath.Join(dir, "data.db"); got != want {
		t.Errorf("Path: got %s, want %s", got, want)
	}
}

func TestOpenInUse(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, bolt.Options{})
	defer s.Close()
	start := time.Now()
	second, err := bolt.Open(filepath.Join(dir, "data.db"), bolt.Options{LockTimeout: 200 * time.Millisecond})
	if err == nil {
		second.Close()
		t.Fatal("second Open of a store in use: no error")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("second Open took %v", d)
	}
	if want := "data dir " + dir + " is in use by another process"; !strings.Contains(err.Error(), want) {
		t.Errorf("second Open: got %q, want it to say %q", err, want)
	}
}

func TestOpenDefaultLockTimeout(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, bolt.Options{})
	defer s.Close()
	start := time.Now()
	if _, err := bolt.Open(filepath.Join(dir, "data.db"), bolt.Options{}); err == nil {
		t.Fatal("second Open of a store in use: no error")
	}
	if d := time.Since(start); d < bolt.DefaultLockTimeout/2 || d > 3*time.Second {
		t.Errorf("second Open failed after %v, want about %v", d, bolt.DefaultLockTimeout)
	}
}

func TestOpenBadOptions(t *testing.T) {
	_, err := bolt.Open(filepath.Join(t.TempDir(), "data.db"), bolt.Options{MaxValueSize: 1 << 31})
	if err == nil {
		t.Fatal("Open with MaxValueSize 2 GiB: no error")
	}
}

func TestMaxValueSize(t *testing.T) {
	tests := []struct {
		name string
		opts bolt.Options
		want int
	}{
		{"default", bolt.Options{}, bolt.DefaultMaxValueSize},
		{"set", bolt.Options{MaxValueSize: 1000}, 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t, t.TempDir(), tt.opts)
			defer s.Close()
			if got := s.MaxValueSize(); got != tt.want {
				t.Errorf("MaxValueSize: got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestAfterClose(t *testing.T) {
	storetest.RunAfterClose(t, open(t, t.TempDir(), bolt.Options{}), bolt.ErrClosed)
}

// TestCloseDrains closes the store while writers are busy: every write that succeeded is
// in the reopened store, and every write fails or succeeds without a panic.
func TestCloseDrains(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, bolt.Options{NoSync: true})
	const writers = 16
	var mu sync.Mutex
	var ok []string
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range 200 {
				key := fmt.Sprintf("v/%02d/%03d", w, i)
				err := s.Put(context.Background(), []store.Item{{Key: key, Value: []byte(key)}})
				if errors.Is(err, bolt.ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("Put %s: %v", key, err)
					return
				}
				mu.Lock()
				ok = append(ok, key)
				mu.Unlock()
			}
		})
	}
	time.Sleep(5 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	s = open(t, dir, bolt.Options{})
	defer s.Close()
	for _, key := range ok {
		if _, err := s.Get(context.Background(), key); err != nil {
			t.Fatalf("Get %s, written before Close: %v", key, err)
		}
	}
}

// TestErrorsWrapped checks the operation prefix of errors.
func TestErrorsWrapped(t *testing.T) {
	s := open(t, t.TempDir(), bolt.Options{MaxValueSize: 10})
	defer s.Close()
	ctx := context.Background()
	if err := s.Create(ctx, "r/1", nil); err != nil {
		t.Fatal(err)
	}
	_, getErr := s.Get(ctx, "v/none")
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"Get", getErr, "bolt get v/none: not found"},
		{"Create", s.Create(ctx, "r/1", nil), "bolt create r/1: already exists"},
		{"TooLarge", s.Put(ctx, []store.Item{{Key: "v/x", Value: make([]byte, 11)}}), "bolt put: value of v/x too large: 11 bytes, limit 10"},
		{"EmptyKey", s.Put(ctx, []store.Item{{Key: "", Value: nil}}), "bolt put : key required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err == nil || tt.err.Error() != tt.want {
				t.Errorf("got %v, want %q", tt.err, tt.want)
			}
		})
	}
}

// TestListLargeValues lists values larger in total than one page of List.
func TestListLargeValues(t *testing.T) {
	s := open(t, t.TempDir(), bolt.Options{NoSync: true})
	defer s.Close()
	const n = 12
	items := make([]store.Item, n)
	for i := range items {
		v := make([]byte, 1<<20)
		v[0], v[len(v)-1] = byte(i), byte(i)
		items[i] = store.Item{Key: fmt.Sprintf("v/%02d", i), Value: v}
	}
	if err := s.Put(t.Context(), items); err != nil {
		t.Fatal(err)
	}
	i := 0
	err := s.List(t.Context(), "v/", true, func(key string, value []byte) error {
		if want := items[i].Key; key != want {
			return fmt.Errorf("key %d: got %s, want %s", i, key, want)
		}
		if len(value) != 1<<20 || value[0] != byte(i) || value[len(value)-1] != byte(i) {
			return fmt.Errorf("value of %s: wrong", key)
		}
		i++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if i != n {
		t.Fatalf("List: got %d keys, want %d", i, n)
	}
}
