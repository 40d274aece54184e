package bolt_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aft-shim/aft/shim/store"
	"github.com/aft-shim/aft/shim/store/bolt"
)

// benchValueSize is the size of the values the benchmarks write.
const benchValueSize = 4 << 10

// reportRates reports the writes per second and per commit of the b.N writes just made.
func reportRates(b *testing.B, s *bolt.Store, before bolt.Stats) {
	b.Helper()
	if sec := b.Elapsed().Seconds(); sec > 0 {
		b.ReportMetric(float64(b.N)/sec, "ops/s")
	}
	st := s.Stats()
	if c := st.Commits - before.Commits; c > 0 {
		b.ReportMetric(float64(st.Ops-before.Ops)/float64(c), "ops/commit")
	}
}

// BenchmarkPutSerial writes one 4 KiB value at a time, with fsync on: the latency of one
// commit.
func BenchmarkPutSerial(b *testing.B) {
	s := open(b, b.TempDir(), bolt.Options{})
	defer s.Close()
	value := make([]byte, benchValueSize)
	ctx := b.Context()
	before := s.Stats()
	i := 0
	for b.Loop() {
		key := fmt.Sprintf("v/serial/%09d", i)
		i++
		if err := s.Put(ctx, []store.Item{{Key: key, Value: value}}); err != nil {
			b.Fatal(err)
		}
	}
	reportRates(b, s, before)
}

// BenchmarkPutParallel writes 4 KiB values, one per Put, from a pool of concurrent writers
// with fsync on: the throughput of the group commit.
func BenchmarkPutParallel(b *testing.B) {
	for _, writers := range []int{16, 64} {
		b.Run(fmt.Sprint("writers=", writers), func(b *testing.B) {
			s := open(b, b.TempDir(), bolt.Options{})
			defer s.Close()
			value := make([]byte, benchValueSize)
			ctx := b.Context()
			before := s.Stats()
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for w := range writers {
				wg.Go(func() {
					for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
						key := fmt.Sprintf("v/%02d/%09d", w, i)
						if err := s.Put(ctx, []store.Item{{Key: key, Value: value}}); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			reportRates(b, s, before)
		})
	}
}
