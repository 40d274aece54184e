package report

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	xfont "golang.org/x/image/font"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Chart is a chart that can be drawn at a size.
type Chart interface {
	// Plot returns the chart as a gonum plot for an image of size s.
	Plot(s Size) (*plot.Plot, error)
}

// Size is the size of a chart in pixels at 96 dots per inch: the size of its PNG, and of
// its SVG in CSS pixels. The zero Size means the chart's preferred size (see Sizer), else
// DefaultSize.
type Size struct {
	Width, Height int
}

// DefaultSize is the size of a chart given the zero Size that has no preferred size.
var DefaultSize = Size{Width: 960, Height: 540}

// dpi is the resolution of the PNG images gonum draws.
const dpi = 96

func (s Size) length() (w, h vg.Length) {
	return vg.Length(s.Width) * vg.Inch / dpi, vg.Length(s.Height) * vg.Inch / dpi
}

// Sizer is implemented by charts whose preferred size depends on their data, such as a
// bar chart with many categories.
type Sizer interface {
	PreferredSize() Size
}

// sizeOf resolves the zero Size.
func sizeOf(c Chart, s Size) Size {
	if s.Width > 0 && s.Height > 0 {
		return s
	}
	if z, ok := c.(Sizer); ok {
		return z.PreferredSize()
	}
	return DefaultSize
}

// Formats are the image formats Render and Save write.
var Formats = []string{"png", "svg"}

// Render draws c at size s in format ("png" or "svg") to w.
func Render(w io.Writer, c Chart, format string, s Size) error {
	if format != "png" && format != "svg" {
		return fmt.Errorf("report: format %q: want png or svg", format)
	}
	s = sizeOf(c, s)
	p, err := c.Plot(s)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	width, height := s.length()
	cv, err := draw.NewFormattedCanvas(width, height, format)
	if err != nil {
		return fmt.Errorf("report: draw %s: %w", format, err)
	}
	dc := draw.New(cv)
	if o, ok := c.(interface{ legendOutside() bool }); ok && o.legendOutside() {
		drawLegendOutside(p, dc)
	} else {
		p.Draw(dc)
	}
	if _, err := cv.WriteTo(w); err != nil {
		return fmt.Errorf("report: write %s: %w", format, err)
	}
	return nil
}

// Save draws c at size s to path, in the format its extension names (.png or .svg).
func Save(path string, c Chart, s Size) error {
	var b bytes.Buffer
	if err := Render(&b, c, strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), "."), s); err != nil {
		return err
	}
	return WriteFile(path, b.Bytes())
}

// SaveAll draws c at size s to base+".png" and base+".svg" and returns the two paths.
func SaveAll(base string, c Chart, s Size) ([]string, error) {
	var paths []string
	for _, f := range Formats {
		p := base + "." + f
		if err := Save(p, c, s); err != nil {
			return paths, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// Palette is the colour of series i (modulo its length) when the series names none: the
// Okabe-Ito colours, told apart by colour-blind readers too.
var Palette = []color.Color{
	color.RGBA{0x00, 0x72, 0xB2, 0xff}, // blue
	color.RGBA{0xD5, 0x5E, 0x00, 0xff}, // vermillion
	color.RGBA{0x00, 0x9E, 0x73, 0xff}, // bluish green
	color.RGBA{0xE6, 0x9F, 0x00, 0xff}, // orange
	color.RGBA{0xCC, 0x79, 0xA7, 0xff}, // reddish purple
	color.RGBA{0x56, 0xB4, 0xE9, 0xff}, // sky blue
	color.RGBA{0xF0, 0xE4, 0x42, 0xff}, // yellow
	color.RGBA{0x00, 0x00, 0x00, 0xff}, // black
}

func seriesColor(i int, c color.Color) color.Color {
	if c != nil {
		return c
	}
	return Palette[i%len(Palette)]
}

// Font sizes of the charts, in points.
const (
	titleSize  = 15
	labelSize  = 12
	tickSize   = 10
	legendSize = 11
)

func sans(size vg.Length, bold bool) font.Font {
	f := font.Font{Typeface: "Liberation", Variant: "Sans", Size: size}
	if bold {
		f.Weight = xfont.WeightBold
	}
	return f
}

// newPlot returns a plot with the title, axis labels and the house style: sans-serif
// text, a light grid, the legend at the top left inside the data area.
func newPlot(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = sans(titleSize, true)
	p.Title.Padding = vg.Points(8)
	p.X.Label.Text, p.Y.Label.Text = xLabel, yLabel
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = sans(labelSize, false)
		a.Tick.Label.Font = sans(tickSize, false)
		a.Label.Padding = vg.Points(6)
		a.Tick.Marker = niceTicks{}
	}
	p.Legend.TextStyle.Font = sans(legendSize, false)
	p.Legend.Top = true
	p.Legend.Left = false
	p.Legend.XOffs = -vg.Points(6)
	p.Legend.YOffs = -vg.Points(6)
	p.Legend.Padding = vg.Points(3)
	p.Legend.ThumbnailWidth = vg.Points(18)
	p.BackgroundColor = color.White
	return p
}

// grid returns a light grid along the value axis.
func grid(vertical, horizontal bool) *plotter.Grid {
	g := plotter.NewGrid()
	light := color.Gray{Y: 0xdd}
	g.Vertical.Color, g.Horizontal.Color = light, light
	g.Vertical.Width, g.Horizontal.Width = vg.Points(0.5), vg.Points(0.5)
	if !vertical {
		g.Vertical.Color = nil
	}
	if !horizontal {
		g.Horizontal.Color = nil
	}
	return g
}

// niceTicks places about six major ticks at round values (1, 2 or 5 times a power of
// ten), labelled without trailing zeros.
type niceTicks struct{}

// Ticks implements plot.Ticker.
func (niceTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) || math.IsInf(hi-lo, 0) {
		return []plot.Tick{{Value: lo, Label: formatFloat(lo)}}
	}
	raw := (hi - lo) / 6
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag * 10
	for _, m := range []float64{1, 2, 2.5, 5} {
		if raw <= m*mag {
			step = m * mag
			break
		}
	}
	var ticks []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
		if math.Abs(v) < step*1e-9 {
			v = 0
		}
		ticks = append(ticks, plot.Tick{Value: v, Label: formatTick(v, step)})
	}
	return ticks
}

// formatTick formats v with the decimals step needs.
func formatTick(v, step float64) string {
	decimals := max(0, int(-math.Floor(math.Log10(step)+1e-9)))
	if step*math.Pow(10, float64(decimals)) != math.Trunc(step*math.Pow(10, float64(decimals))) {
		decimals++
	}
	return strconv.FormatFloat(v, 'f', decimals, 64)
}

// drawLegendOutside draws p with its legend in a column right of the data, below the
// title, where it covers nothing.
func drawLegendOutside(p *plot.Plot, c draw.Canvas) {
	leg := p.Legend
	p.Legend = plot.NewLegend()
	r := leg.Rectangle(c)
	gap := vg.Points(10)
	lw := r.Max.X - r.Min.X + 2*gap
	if lw <= 2*gap { // no entries
		p.Draw(c)
		return
	}
	p.Draw(draw.Crop(c, 0, -lw, 0, 0))
	top := vg.Length(0)
	if p.Title.Text != "" {
		top = p.Title.TextStyle.Rectangle(p.Title.Text).Size().Y + p.Title.Padding
	}
	leg.Top, leg.Left = true, true
	leg.XOffs, leg.YOffs = 0, -vg.Points(6)
	leg.Draw(draw.Crop(c, c.Max.X-c.Min.X-lw+gap, 0, 0, -top))
}
