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
	sum    time.Duration // of all samples, for the mean
	max    time.Duration
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
	h.sum += d
	h.max = max(h.max, d)
}

func (h *hist) merge(o *hist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

// quantile returns the upper bound of the bucket holding quantile q (0 < q <= 1), but no
// more than the largest sample.
func (h *hist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := max(uint64(math.Ceil(q*float64(h.n))), 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(time.Duration(math.Pow(histGrowth, float64(i+1))*float64(time.Microsecond)), h.max)
		}
	}
	return h.max
}

// mean returns the mean of the samples, 0 without any.
func (h *hist) mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return h.sum / time.Duration(h.n)
}

// summary returns the percentiles of the report, in milliseconds.
func (h *hist) summary() Latency {
	return Latency{
		P50: ms(h.quantile(0.50)), P90: ms(h.quantile(0.90)), P99: ms(h.quantile(0.99)),
		P999: ms(h.quantile(0.999)), Mean: ms(h.mean()), Max: ms(h.max),
	}
}

// cdfQuantiles are the points at which a CDF is sampled: the first percent, every other
// percent, then finer into the tail, where the differences between runs are.
var cdfQuantiles = func() []float64 {
	qs := []float64{0.001, 0.01}
	for i := 2; i < 100; i += 2 {
		qs = append(qs, float64(i)/100)
	}
	return append(qs, 0.99, 0.995, 0.999, 0.9995, 0.9999, 1)
}()

// cdf samples the distribution at cdfQuantiles, dropping repeats: at most 57 points
// whatever the number of samples.
func (h *hist) cdf() []CDFPoint {
	if h.n == 0 {
		return nil
	}
	var pts []CDFPoint
	for _, q := range cdfQuantiles {
		p := CDFPoint{LatencyMS: ms(h.quantile(q)), Fraction: q}
		if n := len(pts); n > 0 && pts[n-1].LatencyMS == p.LatencyMS {
			pts[n-1] = p // keep the highest fraction reached at this latency
			continue
		}
		pts = append(pts, p)
	}
	return pts
}

// ms converts a duration to milliseconds, rounded to the microsecond.
func ms(d time.Duration) float64 { return math.Round(float64(d)/float64(time.Microsecond)) / 1000 }
