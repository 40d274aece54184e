package bench

import (
	"math"
	"time"
)

// hist is a latency histogram with logarithmic buckets 1% wide, from 1µs to about 6 minutes:
// fixed memory however long a run lasts, percentiles within 1%.
type hist struct {
	counts [histBuckets]uint64
	n      uint64
}

const (
	histBuckets = 2000
	histGrowth  = 1.01
)

var histLogGrowth = math.Log(histGrowth)

func (h *hist) add(d time.Duration) {
	us := float64(d) / float64(time.Microsecond)
	i := 0
	if us > 1 {
		i = min(int(math.Log(us)/histLogGrowth), histBuckets-1)
	}
	h.counts[i]++
	h.n++
}

func (h *hist) merge(o *hist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
}

// quantile returns the upper bound of the bucket holding quantile q (0 < q <= 1).
func (h *hist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(math.Pow(histGrowth, float64(i+1)) * float64(time.Microsecond))
		}
	}
	return time.Duration(math.Pow(histGrowth, histBuckets) * float64(time.Microsecond))
}
