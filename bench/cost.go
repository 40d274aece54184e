package bench

import (
	"fmt"
	"runtime/metrics"
	"syscall"
	"time"
)

// cost is what a run spent: CPU time and heap allocations, of this process (the clients,
// and an in-process shim) and, when the shim runs apart, of the shim (from its /metrics).
type cost struct {
	cpu, shimCPU       time.Duration
	allocs, shimAllocs float64
}

// costMeter measures a run's cost from its start.
type costMeter struct {
	shim  string // base URL of a shim that runs apart, or ""
	start cost
}

func newCostMeter(shimURL string) *costMeter {
	m := &costMeter{shim: shimURL}
	m.start = m.now()
	return m
}

func (m *costMeter) now() cost {
	var c cost
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		c.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	s := []metrics.Sample{{Name: "/gc/heap/allocs:objects"}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 {
		c.allocs = float64(s[0].Value.Uint64())
	}
	if m.shim != "" {
		v := shimMetrics(m.shim, "process_cpu_seconds_total", "go_memstats_mallocs_total")
		c.shimCPU, c.shimAllocs = time.Duration(v[0]*float64(time.Second)), v[1]
	}
	return c
}

// perTxn describes the cost since the start per transaction of n.
func (m *costMeter) perTxn(n int64) string {
	if n <= 0 {
		return "no transactions"
	}
	end := m.now()
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(n) }
	s := fmt.Sprintf("this process %.0f µs CPU, %.0f allocs", per(end.cpu-m.start.cpu), (end.allocs-m.start.allocs)/float64(n))
	if m.shim != "" {
		s += fmt.Sprintf("; aft serve %.0f µs CPU, %.0f allocs", per(end.shimCPU-m.start.shimCPU), (end.shimAllocs-m.start.shimAllocs)/float64(n))
	}
	return s
}
