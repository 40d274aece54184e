package txn

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aft-shim/aft/shim/index"
	"github.com/aft-shim/aft/shim/record"
	"github.com/aft-shim/aft/shim/store"
	"github.com/aft-shim/aft/shim/store/bolt"
	"github.com/aft-shim/aft/shim/store/mem"
)

// storeKeys returns every key in st, sorted.
func storeKeys(t *testing.T, st store.Store) []string {
	t.Helper()
	var keys []string
	if err := st.List(ctx, "", false, func(k string, _ []byte) error { keys = append(keys, k); return nil }); err != nil {
		t.Fatal(err)
	}
	sort.Strings(keys)
	return keys
}

func TestReadSetLimit(t *testing.T) {
	m := newManager(t, mem.New(), Config{MaxReadSet: 3})
	commitAll(t, m, "a", "1", "b", "2", "c", "3", "d", "4")
	id := begin(t, m, "")
	mustWrite(t, m, id, "own", "x")
	for _, k := range []string{"a", "b", "nothing"} {
		readString(t, m, id, k)
	}
	_, err := m.Read(ctx, id, "d")
	if !errors.Is(err, ErrReadSetTooLarge) || !strings.Contains(err.Error(), "3 keys") {
		t.Errorf("fourth distinct read: %v, want ErrReadSetTooLarge naming the limit 3", err)
	}
	// Keys read before, and the transaction's own writes, are still read.
	if got := readString(t, m, id, "a") + readString(t, m, id, "own"); got != "1x" {
		t.Errorf("reads of a key read before and of an own write = %q, want 1x", got)
	}
	mustCommit(t, m, id)
}

// TestDeletedKeyLeaves: a key whose last version is a delete leaves the index and the
// store once no running transaction can read an older version, and the delete is older
// than the orphan grace.
func TestDeletedKeyLeaves(t *testing.T) {
	st := mem.New()
	clock := newFakeClock()
	m := newManager(t, st, Config{GCInterval: time.Hour, Now: clock.Now})
	commitAll(t, m, "k", "v")
	del := begin(t, m, "")
	if err := m.Delete(del, "k"); err != nil {
		t.Fatal(err)
	}
	mustCommit(t, m, del)
	m.collect()
	if s := m.idx.Stats(); s != (index.Stats{Txns: 1, Keys: 1, Versions: 1}) {
		t.Errorf("index after collection within the orphan grace: %+v, want the delete kept", s)
	}
	clock.advance(m.cfg.OrphanGrace + time.Second)
	m.collect()
	if s := m.idx.Stats(); s != (index.Stats{}) {
		t.Errorf("index after collection: %+v, want empty", s)
	}
	if keys := storeKeys(t, st); len(keys) != 0 {
		t.Errorf("store after collection holds %q, want nothing", keys)
	}
	id := begin(t, m, "")
	if got := readString(t, m, id, "k"); got != "<none>" {
		t.Errorf("read of the deleted key = %q", got)
	}
}

// TestDeleteKeptForAReader: a transaction begun before a delete, which read another key
// of the transaction it read the deleted key's older version with, still reads that older
// version after collections; the delete goes only once nothing can need it.
func TestDeleteKeptForAReader(t *testing.T) {
	st := mem.New()
	clock := newFakeClock()
	m := newManager(t, st, Config{GCInterval: time.Hour, Now: clock.Now})
	commitAll(t, m, "k", "old", "l", "old")
	reader := begin(t, m, "")
	readString(t, m, reader, "l")
	del := begin(t, m, "")
	if err := m.Delete(del, "k"); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, m, del, "l", "new")
	mustCommit(t, m, del)
	m.collect()
	if got := readString(t, m, reader, "k"); got != "old" {
		t.Errorf("reader begun before the delete reads k = %q after collection, want old", got)
	}
	mustCommit(t, m, reader)
	commitAll(t, m, "l", "newer") // the delete is now its transaction's last version
	clock.advance(m.cfg.OrphanGrace + time.Second)
	m.collect()
	if s := m.idx.Stats(); s != (index.Stats{Txns: 1, Keys: 1, Versions: 1}) {
		t.Errorf("index after collection: %+v, want only l", s)
	}
	if keys := storeKeys(t, st); len(keys) != 2 {
		t.Errorf("store holds %q, want l's record and data only", keys)
	}
}

// TestExpiredResultOfNewestWrites: a keyed commit whose writes stay newest (so collection
// never compacts its record) loses its result after the retention: the key is new again,
// and the writes stay, after a restart too.
func TestExpiredResultOfNewestWrites(t *testing.T) {
	st := mem.New()
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	cfg := Config{ResultRetention: time.Hour, Now: clock, GCInterval: time.Hour}
	m := newManager(t, st, cfg)
	id := begin(t, m, "job")
	mustWrite(t, m, id, "k", "first")
	if _, err := m.Commit(ctx, id, []byte("answer")); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()
	if err := m.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	again, err := m.Begin(ctx, BeginOptions{IdemKey: "job"})
	if err != nil || again.Status != Running {
		t.Fatalf("begin with the key past its retention = %+v, %v; want a new running attempt", again, err)
	}
	mustWrite(t, m, again.ID, "j", "second")
	if _, err := m.Commit(ctx, again.ID, []byte("answer 2")); err != nil {
		t.Fatalf("commit of the new attempt: %v", err)
	}
	m.collect()
	m.Close()

	m2 := newManager(t, st, cfg)
	r := begin(t, m2, "")
	if got := readString(t, m2, r, "k") + " " + readString(t, m2, r, "j"); got != "first second" {
		t.Errorf("after restart read k, j = %q, want first second", got)
	}
	if b, err := m2.Begin(ctx, BeginOptions{IdemKey: "job"}); err != nil || b.ID != again.ID || string(b.Result) != "answer 2" {
		t.Errorf("begin with the key after restart = %+v, %v; want the second attempt's result", b, err)
	}
}

// TestReleaseCutShort: a crash between writing the keyless record and deleting the keyed
// one leaves both; recovery keeps the keyless one and deletes the other, and collection
// later deletes the record by its keyless name.
func TestReleaseCutShort(t *testing.T) {
	st := mem.New()
	cfg := Config{GCInterval: time.Hour}
	m := newManager(t, st, cfg)
	id := begin(t, m, "job")
	mustWrite(t, m, id, "k", "first")
	info, err := m.Commit(ctx, id, []byte("answer"))
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	rec := &record.Record{Version: info.Version, Attempt: 1, Writes: []record.Write{{Key: "k"}}}
	if err := st.Put(ctx, []store.Item{{Key: record.RecordKey("", id), Value: rec.Marshal()}}); err != nil {
		t.Fatal(err)
	}
	m2 := newManager(t, st, cfg)
	b, err := m2.Begin(ctx, BeginOptions{IdemKey: "job"})
	if err != nil || b.Status != Running {
		t.Fatalf("begin with a released key after restart = %+v, %v; want a new attempt", b, err)
	}
	if _, err := m2.Abort(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	commitAll(t, m2, "k", "second")
	m2.collect()
	if keys := storeKeys(t, st); len(keys) != 2 || strings.Contains(strings.Join(keys, " "), id) {
		t.Errorf("store holds %q, want only the second commit", keys)
	}
}

// recoveryHeap starts a manager over n records with 1 MiB results whose writes stay
// newest, in the embedded store (which holds them outside the heap), and returns the heap
// it keeps after start and the most seen during start.
func recoveryHeap(tb testing.TB, n int) (kept, peak uint64) {
	st, err := bolt.Open(filepath.Join(tb.TempDir(), "aft.db"), bolt.Options{NoSync: true})
	if err != nil {
		tb.Fatal(err)
	}
	defer st.Close()
	m, err := New(ctx, st, Config{})
	if err != nil {
		tb.Fatal(err)
	}
	defer m.Close()
	result := make([]byte, MaxResultSize)
	for i := 0; i < n; i++ {
		info, _ := m.Begin(ctx, BeginOptions{IdemKey: fmt.Sprint("job", i)})
		if err := m.Write(info.ID, fmt.Sprint("k", i), []byte("v")); err != nil {
			tb.Fatal(err)
		}
		if _, err := m.Commit(ctx, info.ID, result); err != nil {
			tb.Fatal(err)
		}
	}
	m.Close()
	// A collection every 10% of heap growth: the peak then shows what is held, not how
	// much garbage a lazy collector let pile up.
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	stop, done := make(chan struct{}), make(chan struct{})
	go func() { // samples the heap while the manager starts
		defer close(done)
		var s runtime.MemStats
		for {
			runtime.ReadMemStats(&s)
			peak = max(peak, s.HeapAlloc-min(base, s.HeapAlloc))
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	m2, err := New(ctx, st, Config{})
	close(stop)
	<-done
	if err != nil {
		tb.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	kept = ms.HeapAlloc - min(base, ms.HeapAlloc)
	m2.Close()
	return kept, peak
}

// TestRecoveryKeepsNoResults: recovery holds what the index needs, not the results: its
// heap never comes near the 200 MiB the results take (it did hold them all until the index
// was built).
func TestRecoveryKeepsNoResults(t *testing.T) {
	const n = 200
	kept, peak := recoveryHeap(t, n)
	t.Logf("recovery of %d records with 1 MiB results: heap kept %d KiB, peak %d KiB", n, kept>>10, peak>>10)
	if peak > n/2<<20 {
		t.Errorf("recovery of %d records with 1 MiB results took %d MiB of heap, want less than half the results", n, peak>>20)
	}
}

// BenchmarkRecoveryHeap reports the heap a start over 200 records with 1 MiB results keeps
// and its peak.
func BenchmarkRecoveryHeap(b *testing.B) {
	for range b.N {
		kept, peak := recoveryHeap(b, 200)
		b.ReportMetric(float64(kept)/(1<<20), "MiB-kept")
		b.ReportMetric(float64(peak)/(1<<20), "MiB-peak")
	}
}
