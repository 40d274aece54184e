package report

import (
	"errors"
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Bars is a bar chart of values grouped by category: in each category one bar per series,
// side by side, told apart by colour and named in the legend.
type Bars struct {
	Title string
	// CategoryLabel names what the categories are ("scenario"); ValueLabel names the
	// values, with their unit ("anomalies (count)", "throughput (txn/s)").
	CategoryLabel, ValueLabel string
	Categories                []string
	Series                    []BarSeries
	// Horizontal draws the categories down the Y axis and the bars to the right, the first
	// category on top: easier to read with many or long category names.
	Horizontal bool
	// ValueLabels writes each bar's value at its end, so that a zero is visible as "0".
	ValueLabels bool
	// Format formats a value label; nil: Cell.
	Format func(float64) string
}

// BarSeries is one series of a bar chart: a value per category.
type BarSeries struct {
	Name   string
	Values []float64
	Color  color.Color // nil: the Palette colour of the series
}

// PreferredSize is taller (horizontal) or wider (vertical) with more bars.
func (b Bars) PreferredSize() Size {
	bars := len(b.Categories) * max(1, len(b.Series))
	if b.Horizontal {
		return Size{Width: 960, Height: max(360, 140+bars*14+len(b.Categories)*8)}
	}
	return Size{Width: max(640, 160+bars*22+len(b.Categories)*12), Height: 540}
}

// validate checks that every series has a value per category.
func (b Bars) validate() error {
	if len(b.Categories) == 0 || len(b.Series) == 0 {
		return errors.New("bar chart: no categories or no series")
	}
	for _, s := range b.Series {
		if len(s.Values) != len(b.Categories) {
			return fmt.Errorf("bar chart: series %q has %d values for %d categories", s.Name, len(s.Values), len(b.Categories))
		}
	}
	return nil
}

// Plot implements Chart.
func (b Bars) Plot(s Size) (*plot.Plot, error) {
	if err := b.validate(); err != nil {
		return nil, err
	}
	p := newPlot(b.Title, b.CategoryLabel, b.ValueLabel)
	if b.Horizontal {
		p.X.Label.Text, p.Y.Label.Text = b.ValueLabel, b.CategoryLabel
	}
	w, h := s.length()
	along := w - 140 // the length the categories share, less the margins
	if b.Horizontal {
		along = h - 120
	}
	n := len(b.Categories)
	barWidth := max(vg.Points(2), along*0.8/vg.Length(n*len(b.Series)))

	// index maps category i to its place on the axis: the first on top when horizontal.
	index := func(i int) float64 {
		if b.Horizontal {
			return float64(n - 1 - i)
		}
		return float64(i)
	}
	p.Add(grid(b.Horizontal, !b.Horizontal))
	top := 0.0
	for si, ser := range b.Series {
		vals := make(plotter.Values, n)
		for i, v := range ser.Values {
			vals[int(index(i))] = v
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				top = max(top, v)
			}
		}
		bc, err := plotter.NewBarChart(vals, barWidth)
		if err != nil {
			return nil, fmt.Errorf("bar chart: series %q: %w", ser.Name, err)
		}
		bc.Horizontal = b.Horizontal
		bc.Color = seriesColor(si, ser.Color)
		bc.LineStyle.Width = 0
		offset := (vg.Length(si) - vg.Length(len(b.Series)-1)/2) * barWidth
		if b.Horizontal {
			offset = -offset // the first series on top within its group
		}
		bc.Offset = offset
		p.Add(bc)
		p.Legend.Add(ser.Name, bc)
		if b.ValueLabels {
			l, err := b.labels(ser, index, offset)
			if err != nil {
				return nil, err
			}
			p.Add(l)
		}
	}
	names := make([]string, n)
	for i, c := range b.Categories {
		names[int(index(i))] = c
	}
	// Room past the longest bar for its label.
	headroom := 1.02
	if b.ValueLabels {
		headroom = 1.1
	}
	if b.Horizontal {
		p.NominalY(names...)
		p.Y.Min, p.Y.Max = -0.5, float64(n)-0.5
		p.X.Min, p.X.Max = 0, math.Max(1, top*headroom)
		p.Y.Tick.Label.Font = sans(labelSize-1, false)
	} else {
		p.NominalX(names...)
		p.X.Min, p.X.Max = -0.5, float64(n)-0.5
		p.Y.Min, p.Y.Max = 0, math.Max(1, top*headroom)
		if n > 6 {
			p.X.Tick.Label.Rotation = math.Pi / 6
			p.X.Tick.Label.XAlign = draw.XRight
			p.X.Tick.Label.YAlign = draw.YCenter
		}
	}
	return p, nil
}

func (Bars) legendOutside() bool { return true }

// labels returns the value labels of one series, at the end of its bars.
func (b Bars) labels(ser BarSeries, index func(int) float64, offset vg.Length) (*plotter.Labels, error) {
	format := b.Format
	if format == nil {
		format = func(v float64) string { return Cell(v) }
	}
	var xy plotter.XYLabels
	for i, v := range ser.Values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		pt := plotter.XY{X: index(i), Y: v}
		if b.Horizontal {
			pt = plotter.XY{X: v, Y: index(i)}
		}
		xy.XYs = append(xy.XYs, pt)
		xy.Labels = append(xy.Labels, format(v))
	}
	l, err := plotter.NewLabels(xy)
	if err != nil {
		return nil, fmt.Errorf("bar chart: labels of %q: %w", ser.Name, err)
	}
	style := text.Style{Color: color.Gray{Y: 0x30}, Font: sans(tickSize-1, false), Handler: plot.DefaultTextHandler}
	if b.Horizontal {
		style.XAlign, style.YAlign = draw.XLeft, draw.YCenter
		l.Offset = vg.Point{X: vg.Points(3), Y: offset}
	} else {
		style.XAlign, style.YAlign = draw.XCenter, draw.YBottom
		l.Offset = vg.Point{X: offset, Y: vg.Points(2)}
	}
	for i := range l.TextStyle {
		l.TextStyle[i] = style
	}
	return l, nil
}
