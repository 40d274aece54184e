package txn

import (
	"fmt"
	"testing"

	"github.com/aft-shim/aft/shim/store/mem"
)

// BenchmarkReadSet reads n distinct committed keys in one transaction (keys written ten per
// transaction), and reports the cost of one read: it must not grow with n.
func BenchmarkReadSet(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 40_000} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			m, err := New(ctx, mem.New(), Config{MaxReadSet: n})
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			key := func(i int) string { return fmt.Sprintf("k%06d", i) }
			for i := 0; i < n; i += 10 {
				info, _ := m.Begin(ctx, BeginOptions{})
				for j := i; j < min(i+10, n); j++ {
					if err := m.Write(info.ID, key(j), []byte("v")); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := m.Commit(ctx, info.ID, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for it := 0; it < b.N; it++ {
				info, _ := m.Begin(ctx, BeginOptions{})
				for i := 0; i < n; i++ {
					if r, err := m.Read(ctx, info.ID, key(i)); err != nil || !r.Found {
						b.Fatalf("read %s: %+v, %v", key(i), r, err)
					}
				}
				_, _ = m.Abort(ctx, info.ID)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/read")
		})
	}
}
