package bench

import (
	"fmt"
	"math"

	"github.com/aft-shim/aft/report"
	"gonum.org/v1/plot"
)

// latencyCDF is a latency CDF drawn from the sampled points of results.json (Record.CDF):
// lines of the fraction of requests at or below each latency, over a log latency axis. It
// is a report.Lines on a log scale rather than a report.CDF, which wants every sample.
type latencyCDF struct {
	report.Lines
}

// Plot implements report.Chart.
func (c latencyCDF) Plot(s report.Size) (*plot.Plot, error) {
	p, err := c.Lines.Plot(s)
	if err != nil {
		return nil, err
	}
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = logTicks{}
	p.Y.Min, p.Y.Max = 0, 1
	p.Y.Tick.Marker = plot.ConstantTicks([]plot.Tick{{Value: 0, Label: "0"}, {Value: 0.25, Label: "0.25"},
		{Value: 0.5, Label: "0.5"}, {Value: 0.75, Label: "0.75"}, {Value: 0.9, Label: "0.9"}, {Value: 1, Label: "1"}})
	return p, nil
}

// logTicks labels the powers of ten in range and their multiples by 2 and 5.
type logTicks struct{}

// Ticks implements plot.Ticker.
func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	if lo <= 0 || hi <= lo {
		return ticks
	}
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		for _, m := range []float64{1, 2, 5} {
			if v := m * math.Pow(10, e); v >= lo && v <= hi {
				ticks = append(ticks, plot.Tick{Value: v, Label: fmt.Sprintf("%g", v)})
			}
		}
	}
	return ticks
}
