package report

import (
	"bytes"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sampleCharts are charts of each kind, as the workload suite and the bench draw them.
func sampleCharts() map[string]Chart {
	lat := func(scale float64, n int) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = scale * (1 + math.Pow(float64(i)/float64(n), 4)*20)
		}
		return v
	}
	var tx, plain, aft []float64
	for i := 0; i < 60; i++ {
		tx = append(tx, float64(i)/2)
		y := 900.0
		if i >= 20 && i < 26 {
			y = 0
		}
		plain = append(plain, 1500+50*math.Sin(float64(i)))
		aft = append(aft, y+30*math.Cos(float64(i)))
	}
	return map[string]Chart{
		"bars": Bars{
			Title: "Anomalies by scenario and mode", CategoryLabel: "scenario", ValueLabel: "anomalies (count)",
			Categories: []string{"crash-partial", "duplicate-sequential", "zombie", "composition", "store-faults"},
			Series: []BarSeries{
				{Name: "plain", Values: []float64{14, 24, 9, 17, 6}},
				{Name: "aft", Values: []float64{0, 0, 0, 0, 0}},
				{Name: "dynamodb-txn", Values: []float64{7, 24, 9, 11, 3}},
			},
			Horizontal: true, ValueLabels: true,
		},
		"vbars": Bars{
			Title: "Throughput by backend", CategoryLabel: "backend", ValueLabel: "throughput (txn/s)",
			Categories: []string{"embedded", "redis", "dynamodb"},
			Series:     []BarSeries{{Name: "aft", Values: []float64{2400, 1800, 300}}, {Name: "store", Values: []float64{5100, 4000, 700}}},
		},
		"lines": Lines{
			Title: "Throughput across kill -9 of the shim", XLabel: "time (s)", YLabel: "throughput (txn/s)",
			Series:    []LineSeries{{Name: "store", X: tx, Y: plain}, {Name: "aft", X: tx, Y: aft}},
			Marks:     []Mark{{X: 10, Label: "kill -9"}, {X: 13, Label: "restart"}},
			YFromZero: true,
		},
		"cdf": CDF{
			Title: "Request latency", XLabel: "latency (ms)", LogX: true,
			Series: []Samples{{Name: "store", Values: lat(0.4, 5000)}, {Name: "aft", Values: lat(1.2, 5000)}},
		},
	}
}

// legendNames are the names each sample chart must show in its legend.
var legendNames = map[string][]string{
	"bars":  {"plain", "aft", "dynamodb-txn", "crash-partial", "store-faults", "anomalies (count)", "scenario"},
	"vbars": {"aft", "store", "embedded", "throughput (txn/s)"},
	"lines": {"store", "aft", "kill -9", "restart", "time (s)", "throughput (txn/s)"},
	"cdf":   {"store (n=5000)", "aft (n=5000)", "latency (ms)", "fraction of samples"},
}

// TestChartsSVG checks that each SVG names its title, axes and legend entries. With
// REPORT_CHART_DIR set it also keeps the PNG and SVG files there, to look at.
func TestChartsSVG(t *testing.T) {
	keep := os.Getenv("REPORT_CHART_DIR")
	for name, c := range sampleCharts() {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			if err := Render(&b, c, "svg", Size{}); err != nil {
				t.Fatal(err)
			}
			svg := b.String()
			if !strings.HasPrefix(strings.TrimSpace(svg), "<?xml") || !strings.Contains(svg, "<svg") {
				t.Fatalf("not an SVG document: %.100s", svg)
			}
			p, _ := c.Plot(DefaultSize)
			for _, want := range append(legendNames[name], p.Title.Text) {
				if !strings.Contains(svg, ">"+htmlEscape(want)) {
					t.Errorf("SVG lacks the text %q", want)
				}
			}
			if keep != "" {
				if _, err := SaveAll(filepath.Join(keep, name), c, Size{}); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(s)
}

func TestChartsPNGSize(t *testing.T) {
	charts := sampleCharts()
	tests := []struct {
		chart string
		size  Size
		want  Size
	}{
		{"lines", Size{}, DefaultSize},
		{"cdf", Size{Width: 640, Height: 400}, Size{640, 400}},
		{"bars", Size{}, charts["bars"].(Sizer).PreferredSize()},
		{"vbars", Size{Width: 800, Height: 300}, Size{800, 300}},
	}
	for _, tc := range tests {
		t.Run(tc.chart, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tc.chart+".png")
			if err := Save(path, charts[tc.chart], tc.size); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			img, err := png.Decode(f)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if got := img.Bounds().Size(); got.X != tc.want.Width || got.Y != tc.want.Height {
				t.Errorf("PNG is %dx%d, want %dx%d", got.X, got.Y, tc.want.Width, tc.want.Height)
			}
		})
	}
}

func TestSaveAll(t *testing.T) {
	base := filepath.Join(t.TempDir(), "charts", "lat")
	paths, err := SaveAll(base, sampleCharts()["cdf"], Size{Width: 400, Height: 300})
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 2 || paths[0] != base+".png" || paths[1] != base+".svg" {
		t.Fatalf("paths %v", paths)
	}
	for _, p := range paths {
		if st, err := os.Stat(p); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", p, err)
		}
	}
}

func TestChartErrors(t *testing.T) {
	tests := []struct {
		name  string
		chart Chart
	}{
		{"bars without series", Bars{Categories: []string{"a"}}},
		{"bars with a short series", Bars{Categories: []string{"a", "b"}, Series: []BarSeries{{Name: "x", Values: []float64{1}}}}},
		{"lines without series", Lines{}},
		{"lines with uneven series", Lines{Series: []LineSeries{{Name: "x", X: []float64{1, 2}, Y: []float64{1}}}}},
		{"cdf without samples", CDF{Series: []Samples{{Name: "x"}}}},
		{"cdf log without positive samples", CDF{LogX: true, Series: []Samples{{Name: "x", Values: []float64{0, -1}}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := Render(&bytes.Buffer{}, tc.chart, "png", Size{}); err == nil {
				t.Error("no error")
			}
		})
	}
	if err := Render(&bytes.Buffer{}, sampleCharts()["cdf"], "gif", Size{}); err == nil {
		t.Error("gif accepted")
	}
}

func TestCDFPoints(t *testing.T) {
	pts := cdfPoints([]float64{3, 1, 2, math.NaN(), 4}, false, 0)
	want := []float64{1, 2, 3, 4}
	if len(pts) != 4 {
		t.Fatalf("points %v", pts)
	}
	for i, p := range pts {
		if p.X != want[i] || p.Y != float64(i+1)/4 {
			t.Errorf("point %d = %v", i, p)
		}
	}
	big := make([]float64, 10000)
	for i := range big {
		big[i] = float64(i)
	}
	thin := cdfPoints(big, false, 100)
	if len(thin) > 102 || thin[len(thin)-1].Y != 1 || thin[0].X != 0 {
		t.Errorf("thinned to %d points, first %v last %v", len(thin), thin[0], thin[len(thin)-1])
	}
}

func TestNiceTicks(t *testing.T) {
	tests := []struct {
		lo, hi float64
		want   string
	}{
		{0, 27.6, "0 5 10 15 20 25"},
		{0, 1, "0.0 0.2 0.4 0.6 0.8 1.0"},
		{0, 1200, "0 200 400 600 800 1000 1200"},
		{0, 12, "0 2 4 6 8 10 12"}, {0, 14, "0.0 2.5 5.0 7.5 10.0 12.5"},
		{3, 3, "3"},
	}
	for _, tc := range tests {
		var got []string
		for _, tk := range (niceTicks{}).Ticks(tc.lo, tc.hi) {
			got = append(got, tk.Label)
		}
		if g := strings.Join(got, " "); g != tc.want {
			t.Errorf("ticks(%v, %v) = %q, want %q", tc.lo, tc.hi, g, tc.want)
		}
	}
}
