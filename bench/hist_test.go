package bench

import (
	"math"
	"testing"
	"time"
)

func TestHistPercentiles(t *testing.T) {
	uniform := func() *hist { // 1..1000 ms
		h := new(hist)
		for i := 1; i <= 1000; i++ {
			h.add(time.Duration(i) * time.Millisecond)
		}
		return h
	}
	for _, tt := range []struct {
		name string
		h    *hist
		want Latency // within 1%
	}{
		{"uniform 1..1000 ms", uniform(), Latency{P50: 500, P90: 900, P99: 990, P999: 999, Mean: 500.5, Max: 1000}},
		{"one sample", func() *hist { h := new(hist); h.add(3 * time.Millisecond); return h }(), Latency{P50: 3, P90: 3, P99: 3, P999: 3, Mean: 3, Max: 3}},
		{"a slow tail of 0.5%", func() *hist {
			h := new(hist)
			for i := 0; i < 1000; i++ {
				d := time.Millisecond
				if i%200 == 0 {
					d = 100 * time.Millisecond
				}
				h.add(d)
			}
			return h
		}(), Latency{P50: 1, P90: 1, P99: 1, P999: 100, Mean: 1.495, Max: 100}},
		{"empty", new(hist), Latency{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.h.summary()
			for _, f := range []struct {
				name      string
				got, want float64
			}{{"p50", got.P50, tt.want.P50}, {"p90", got.P90, tt.want.P90}, {"p99", got.P99, tt.want.P99},
				{"p99.9", got.P999, tt.want.P999}, {"mean", got.Mean, tt.want.Mean}, {"max", got.Max, tt.want.Max}} {
				if math.Abs(f.got-f.want) > 0.01*f.want+1e-9 {
					t.Errorf("%s = %v ms, want %v ms within 1%%", f.name, f.got, f.want)
				}
				if f.got > got.Max+1e-9 {
					t.Errorf("%s = %v ms is above the largest sample %v ms", f.name, f.got, got.Max)
				}
			}
		})
	}
}

func TestHistMerge(t *testing.T) {
	var a, b, all hist
	for i := 1; i <= 100; i++ {
		d := time.Duration(i) * time.Millisecond
		all.add(d)
		if i%2 == 0 {
			a.add(d)
		} else {
			b.add(d)
		}
	}
	a.merge(&b)
	if a.summary() != all.summary() {
		t.Errorf("merged %+v, want %+v", a.summary(), all.summary())
	}
}

func TestHistCDF(t *testing.T) {
	h := new(hist)
	for i := 1; i <= 10000; i++ {
		h.add(time.Duration(i) * time.Microsecond * 10)
	}
	cdf := h.cdf()
	if n := len(cdf); n < 50 || n > len(cdfQuantiles) {
		t.Fatalf("%d points, want 50..%d", n, len(cdfQuantiles))
	}
	for i := 1; i < len(cdf); i++ {
		if cdf[i].LatencyMS <= cdf[i-1].LatencyMS || cdf[i].Fraction <= cdf[i-1].Fraction {
			t.Fatalf("not increasing at %d: %+v then %+v", i, cdf[i-1], cdf[i])
		}
	}
	if last := cdf[len(cdf)-1]; last.Fraction != 1 || last.LatencyMS != 100 {
		t.Errorf("last point %+v, want 100%% at the largest sample, 100 ms", last)
	}
	if (&hist{}).cdf() != nil {
		t.Error("CDF of an empty histogram is not empty")
	}
	// Few distinct values: one point per value, at the highest fraction reached there.
	h = new(hist)
	h.add(time.Millisecond)
	h.add(2 * time.Millisecond)
	if got := h.cdf(); len(got) != 2 || got[0].Fraction != 0.5 || got[1].Fraction != 1 {
		t.Errorf("cdf of {1ms, 2ms} = %+v, want 2 points at 0.5 and 1", got)
	}
}
