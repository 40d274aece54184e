package report

import (
	"errors"
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Lines is a line chart of series over a shared X axis, such as throughput over time,
// with optional vertical marks at moments worth naming ("kill -9", "restart").
type Lines struct {
	Title string
	// XLabel and YLabel name the axes with their units ("time (s)", "throughput (txn/s)").
	XLabel, YLabel string
	Series         []LineSeries
	Marks          []Mark
	// YFromZero starts the Y axis at zero (else it fits the data).
	YFromZero bool
}

// LineSeries is one line: points (X[i], Y[i]) in X order. A NaN Y breaks the line.
type LineSeries struct {
	Name  string
	X, Y  []float64
	Color color.Color // nil: the Palette colour of the series
}

// Mark is a vertical dashed line at X with a label at its top.
type Mark struct {
	X     float64
	Label string
}

// Plot implements Chart.
func (l Lines) Plot(Size) (*plot.Plot, error) {
	if len(l.Series) == 0 {
		return nil, errors.New("line chart: no series")
	}
	p := newPlot(l.Title, l.XLabel, l.YLabel)
	p.Add(grid(true, true))
	for i, s := range l.Series {
		if len(s.X) != len(s.Y) {
			return nil, fmt.Errorf("line chart: series %q has %d x and %d y values", s.Name, len(s.X), len(s.Y))
		}
		var pts plotter.XYs
		for j := range s.X {
			if !math.IsNaN(s.X[j]) && !math.IsNaN(s.Y[j]) {
				pts = append(pts, plotter.XY{X: s.X[j], Y: s.Y[j]})
			}
		}
		if len(pts) == 0 {
			continue
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return nil, fmt.Errorf("line chart: series %q: %w", s.Name, err)
		}
		line.Color = seriesColor(i, s.Color)
		line.Width = vg.Points(1.8)
		p.Add(line)
		p.Legend.Add(s.Name, line)
	}
	for _, m := range l.Marks {
		p.Add(mark{m})
	}
	if l.YFromZero {
		p.Y.Min = 0
		p.Y.Max = math.Max(p.Y.Max*1.1, 1)
	}
	return p, nil
}

func (Lines) legendOutside() bool { return true }

// mark draws a Mark: a plotter that widens the X range only.
type mark struct{ Mark }

// Plot implements plot.Plotter.
func (m mark) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	x := trX(m.X)
	style := draw.LineStyle{Color: color.Gray{Y: 0x55}, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(4), vg.Points(3)}}
	c.StrokeLine2(style, x, c.Min.Y, x, c.Max.Y)
	if m.Label != "" {
		ts := p.Legend.TextStyle
		ts.Font = sans(tickSize, false)
		ts.XAlign, ts.YAlign = draw.XLeft, draw.YTop
		ts.Color = color.Gray{Y: 0x33}
		c.FillText(ts, vg.Point{X: x + vg.Points(3), Y: c.Max.Y - vg.Points(3)}, m.Label)
	}
}

// DataRange implements plot.DataRanger: the mark's X, and no Y.
func (m mark) DataRange() (xmin, xmax, ymin, ymax float64) {
	return m.X, m.X, math.Inf(1), math.Inf(-1)
}
