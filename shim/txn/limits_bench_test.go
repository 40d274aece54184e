package txn

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/aft-shim/aft/shim/store/mem"
)

// BenchmarkBeginHeap measures the heap that 200,000 begins with distinct idempotency keys
// leave behind (running transactions and tracked keys), with the default limits:
//
//	go test -run '^$' -bench BeginHeap -benchtime 1x ./shim/txn/
func BenchmarkBeginHeap(b *testing.B) {
	const begins = 200_000
	for range b.N {
		m, err := New(ctx, mem.New(), Config{})
		if err != nil {
			b.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		refused := 0
		for i := range begins {
			if _, err := m.Begin(ctx, BeginOptions{IdemKey: fmt.Sprintf("request-%08d", i)}); err != nil {
				refused++
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20), "heap-MB")
		b.ReportMetric(float64(refused), "refused")
		b.ReportMetric(float64(m.Running()), "running")
		m.Close()
	}
}
