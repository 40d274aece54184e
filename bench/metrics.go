package bench

import (
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// scrape reads the aft_ counters and histograms of g, for the report's summary. The
// function label is dropped (there is one function).
func scrape(g prometheus.Gatherer, component, backend string, latency time.Duration) []Metric {
	fams, err := g.Gather()
	if err != nil {
		return nil
	}
	var out []Metric
	for _, f := range fams {
		name := f.GetName()
		if !strings.HasPrefix(name, "aft_") {
			continue
		}
		for _, m := range f.GetMetric() {
			x := Metric{Component: component, Backend: backend, StoreLatencyMS: ms(latency), Name: name, Labels: labels(m)}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				x.Value = m.GetCounter().GetValue()
			case dto.MetricType_HISTOGRAM:
				h := m.GetHistogram()
				if h.GetSampleCount() == 0 {
					continue
				}
				x.Name += "_mean_ms"
				x.Value = h.GetSampleSum() / float64(h.GetSampleCount()) * 1000
			default:
				continue
			}
			if x.Value != 0 {
				out = append(out, x)
			}
		}
	}
	return out
}

func labels(m *dto.Metric) string {
	var kv []string
	for _, l := range m.GetLabel() {
		if l.GetName() != "function" {
			kv = append(kv, l.GetName()+"="+l.GetValue())
		}
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}

// histTotals returns the sum and count of the histogram name in g, over all its series.
func histTotals(g prometheus.Gatherer, name string) (sum float64, count uint64) {
	fams, err := g.Gather()
	if err != nil {
		return 0, 0
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			sum += m.GetHistogram().GetSampleSum()
			count += m.GetHistogram().GetSampleCount()
		}
	}
	return sum, count
}

// overheadMeter measures the mean of the middleware's overhead histogram over one run.
type overheadMeter struct {
	g      prometheus.Gatherer
	sum0   float64
	count0 uint64
}

const overheadMetric = "aft_middleware_overhead_seconds"

func startOverhead(g prometheus.Gatherer) *overheadMeter {
	m := &overheadMeter{g: g}
	m.sum0, m.count0 = histTotals(g, overheadMetric)
	return m
}

// meanMS returns the mean overhead since the start, in milliseconds (0 without requests).
func (m *overheadMeter) meanMS() float64 {
	sum, count := histTotals(m.g, overheadMetric)
	if count <= m.count0 {
		return 0
	}
	return (sum - m.sum0) / float64(count-m.count0) * 1000
}

// shimRSS returns a function that reads the resident memory of the shim at shimURL from
// its /metrics (process_resident_memory_bytes), 0 if unknown.
func shimRSS(shimURL string) func() int64 {
	return func() int64 {
		v := shimMetrics(shimURL, "process_resident_memory_bytes")
		return int64(v[0])
	}
}

// shimMetrics reads the values of the unlabelled metrics names from the /metrics of the shim
// at shimURL, 0 for those it cannot read.
func shimMetrics(shimURL string, names ...string) []float64 {
	out := make([]float64, len(names))
	resp, err := http.Get(strings.TrimRight(shimURL, "/") + "/metrics")
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		for i, name := range names {
			if v, ok := strings.CutPrefix(line, name+" "); ok {
				out[i], _ = strconv.ParseFloat(v, 64)
			}
		}
	}
	return out
}
