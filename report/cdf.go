package report

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// CDF draws, per series, the empirical cumulative distribution of samples such as request
// latencies: at x, the fraction of the samples that are at most x.
type CDF struct {
	Title string
	// XLabel names the samples with their unit ("latency (ms)"). YLabel defaults to
	// "fraction of samples ≤ x".
	XLabel, YLabel string
	Series         []Samples
	// LogX draws the X axis on a log scale, for samples over several orders of magnitude;
	// samples that are not positive are left out then.
	LogX bool
	// MaxPoints bounds the points drawn per series (default 2000): a large sample is
	// thinned to evenly spaced quantiles, its minimum and maximum kept.
	MaxPoints int
}

// Samples is one series of a CDF.
type Samples struct {
	Name   string
	Values []float64
	Color  color.Color // nil: the Palette colour of the series
}

// Plot implements Chart.
func (d CDF) Plot(Size) (*plot.Plot, error) {
	if len(d.Series) == 0 {
		return nil, errors.New("cdf: no series")
	}
	ylabel := d.YLabel
	if ylabel == "" {
		ylabel = "fraction of samples ≤ x"
	}
	p := newPlot(d.Title, d.XLabel, ylabel)
	p.Add(grid(true, true))
	p.Legend.Top = false // the curves climb to the top right
	p.Legend.YOffs = vg.Points(6)
	if d.LogX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	drawn := 0
	for i, s := range d.Series {
		pts := cdfPoints(s.Values, d.LogX, d.MaxPoints)
		if len(pts) == 0 {
			continue
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return nil, fmt.Errorf("cdf: series %q: %w", s.Name, err)
		}
		line.Color = seriesColor(i, s.Color)
		line.Width = vg.Points(1.8)
		p.Add(line)
		p.Legend.Add(fmt.Sprintf("%s (n=%d)", s.Name, len(s.Values)), line)
		drawn++
	}
	if drawn == 0 {
		return nil, errors.New("cdf: no samples to draw")
	}
	p.Y.Min, p.Y.Max = 0, 1
	p.Y.Tick.Marker = plot.ConstantTicks([]plot.Tick{{Value: 0, Label: "0"}, {Value: 0.25, Label: "0.25"},
		{Value: 0.5, Label: "0.5"}, {Value: 0.75, Label: "0.75"}, {Value: 0.9, Label: "0.9"}, {Value: 0.99, Label: "0.99"}, {Value: 1, Label: "1"}})
	return p, nil
}

// cdfPoints returns the steps of the empirical CDF of vs, at most limit points.
func cdfPoints(vs []float64, logX bool, limit int) plotter.XYs {
	if limit <= 0 {
		limit = 2000
	}
	var s []float64
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) || (logX && v <= 0) {
			continue
		}
		s = append(s, v)
	}
	if len(s) == 0 {
		return nil
	}
	slices.Sort(s)
	n := len(s)
	step := max(1, n/limit)
	pts := make(plotter.XYs, 0, n/step+2)
	for i := 0; i < n; i += step {
		pts = append(pts, plotter.XY{X: s[i], Y: float64(i+1) / float64(n)})
	}
	if last := pts[len(pts)-1]; last.Y != 1 {
		pts = append(pts, plotter.XY{X: s[n-1], Y: 1})
	}
	return pts
}
