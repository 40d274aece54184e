package bench

import (
	"fmt"
	"image/color"
	"slices"
	"strings"

	"github.com/aft-shim/aft/report"
	"github.com/aft-shim/aft/report/folder"
)

// WriteFolder writes the whole report folder dir: results.json, runs.csv, timeline.csv,
// the charts (PNG and SVG, drawn by package report) and report.md. The files besides
// results.json are made from r alone, so that Render can make them again.
func WriteFolder(dir string, r *Results) error {
	return folder.Write(dir, []folder.JSON{{Name: folder.ResultsFile, Value: r}}, r.Files())
}

// Render makes the report of dir (a report folder, or its results.json) again from its
// results.json, into that folder (folder.Dir).
func Render(dir string) error {
	_, _, err := folder.Rerender(dir, "", Load, func(r *Results) ([]folder.JSON, folder.Files) { return nil, r.Files() })
	return err
}

// Files returns the files of a report folder made from r: the CSV tables, the charts
// and report.md.
func (r *Results) Files() folder.Files {
	charts := drawCharts(r)
	var b strings.Builder
	writeMarkdown(&b, r, charts)
	return folder.Files{CSV: r.tables(), Charts: charts, Markdown: b.String()}
}

// config is one store and injected latency: the runs made together.
type config struct {
	Backend   string
	LatencyMS float64
}

func (c config) String() string {
	if c.LatencyMS == 0 {
		return c.Backend
	}
	return fmt.Sprintf("%s +%gms", c.Backend, c.LatencyMS)
}

func (c config) slug() string { return fmt.Sprintf("%s-%gms", c.Backend, c.LatencyMS) }

// configs returns the configurations of r in the order they ran.
func configs(r *Results) []config {
	var out []config
	for _, x := range r.Runs {
		if c := (config{x.Backend, x.StoreLatencyMS}); !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// find returns the run of c with the scenario, mode and loop (and, open loop, the rate
// fraction), nil if there is none.
func find(r *Results, c config, scenario, mode, loop string, fraction float64) *Record {
	for i, x := range r.Runs {
		if x.Backend == c.Backend && x.StoreLatencyMS == c.LatencyMS && x.Scenario == scenario && x.Mode == mode && x.Loop == loop &&
			(loop == LoopClosed || x.RateFraction == fraction) {
			return &r.Runs[i]
		}
	}
	return nil
}

// fractions returns the open-loop rate fractions of r, lowest first.
func fractions(r *Results) []float64 {
	var out []float64
	for _, x := range r.Runs {
		if x.Loop == LoopOpen && !slices.Contains(out, x.RateFraction) {
			out = append(out, x.RateFraction)
		}
	}
	slices.Sort(out)
	return out
}

// modes returns the modes of r in a fixed order: aft, plain, dynamodb-txn.
func modes(r *Results) []string {
	var out []string
	for _, m := range []string{ModeAft, ModeAftBatch, ModePlain, ModeDynamoDBTxn} {
		if slices.ContainsFunc(r.Runs, func(x Record) bool { return x.Mode == m }) {
			out = append(out, m)
		}
	}
	return out
}

// seriesColor is the colour of a scenario and mode in every chart of a report.
func seriesColor(scenario, mode string) color.Color {
	i := map[string]int{
		ScenarioAPI + "/" + ModeAft: 0, ScenarioAPI + "/" + ModePlain: 1, ScenarioAPI + "/" + ModeDynamoDBTxn: 2,
		ScenarioGateway + "/" + ModeAft: 3, ScenarioGateway + "/" + ModePlain: 4, ScenarioAPI + "/" + ModeAftBatch: 5,
	}[scenario+"/"+mode]
	return report.Palette[i%len(report.Palette)]
}

// seriesName names a scenario and mode in legends.
func seriesName(scenario, mode string) string {
	switch scenario + "/" + mode {
	case ScenarioAPI + "/" + ModeAft:
		return "aft txn via shim API"
	case ScenarioAPI + "/" + ModeAftBatch:
		return "aft txn in batches (begin with ops, commit)"
	case ScenarioAPI + "/" + ModePlain:
		return "plain: same work on the store"
	case ScenarioAPI + "/" + ModeDynamoDBTxn:
		return "DynamoDB transactions"
	case ScenarioGateway + "/" + ModeAft:
		return "function via aft middleware"
	case ScenarioGateway + "/" + ModePlain:
		return "function called directly"
	}
	return scenario + " " + mode
}

// drawCharts returns the charts of the report: the throughput bars, a latency CDF per
// configuration and the throughput over time of every recovery.
func drawCharts(r *Results) []folder.Chart {
	var refs []folder.Chart
	save := func(file, title string, c report.Chart) {
		size := report.DefaultSize
		if b, ok := c.(report.Bars); ok && len(b.Categories)*len(b.Series) > 6 {
			size.Width = 1200 // room for the value labels of many bars
		}
		refs = append(refs, folder.Chart{Name: file, Title: title, Chart: c, Size: size})
	}
	cs := configs(r)
	throughputCharts(r, cs, save)
	fs := fractions(r)
	for _, c := range cs {
		loop, frac, how := LoopClosed, 0.0, fmt.Sprintf("closed loop, %d clients", firstClients(r))
		if len(fs) > 0 {
			loop, frac, how = LoopOpen, fs[0], fmt.Sprintf("open loop at %.0f%% of aft's closed-loop rate", fs[0]*100)
		}
		lc := report.Lines{Title: fmt.Sprintf("Latency CDF, %s (%s)", c, how), XLabel: "latency (ms, log scale)", YLabel: "fraction of requests at or below"}
		for _, sc := range []string{ScenarioAPI, ScenarioGateway} {
			for _, m := range modes(r) {
				x := find(r, c, sc, m, loop, frac)
				if x == nil || len(x.CDF) == 0 {
					continue
				}
				s := report.LineSeries{Name: seriesName(sc, m), Color: seriesColor(sc, m)}
				for _, p := range x.CDF {
					if p.LatencyMS > 0 { // a log axis
						s.X, s.Y = append(s.X, p.LatencyMS), append(s.Y, p.Fraction)
					}
				}
				lc.Series = append(lc.Series, s)
			}
		}
		if len(lc.Series) == 0 {
			continue
		}
		save("cdf-"+c.slug(), lc.Title, latencyCDF{lc})
	}
	for _, rec := range r.Recoveries {
		lc := report.Lines{Title: fmt.Sprintf("Throughput across a kill -9 and restart of aft serve (%s, %d clients)", rec.Backend, rec.Clients),
			XLabel: "time since the load began (s)", YLabel: "committed transactions per second", YFromZero: true}
		// Only the commits: the failures while the shim is down come as fast as the clients
		// retry (every 5 ms), and their line would flatten this one; they are in timeline.csv.
		ok := report.LineSeries{Name: "committed", Color: seriesColor(ScenarioAPI, ModeAft)}
		for _, b := range rec.Series {
			ok.X = append(ok.X, b.AtS+rec.BucketS/2) // the rate over the bucket, drawn at its middle
			ok.Y = append(ok.Y, float64(b.OK)/rec.BucketS)
		}
		lc.Series = []report.LineSeries{ok}
		lc.Marks = []report.Mark{{X: rec.KillAtS, Label: "SIGKILL"}}
		if rec.FirstOKAtS > 0 {
			m := report.Mark{X: rec.FirstOKAtS, Label: fmt.Sprintf("first commit +%.0f ms", rec.RecoveryMS)}
			if n := len(rec.Series); n > 0 && rec.FirstOKAtS-rec.KillAtS < 0.15*(rec.Series[n-1].AtS+rec.BucketS) {
				// Too close for two labels side by side: one label for both lines.
				lc.Marks[0].Label += ", " + m.Label
				m.Label = ""
			}
			lc.Marks = append(lc.Marks, m)
		}
		save("recovery-"+rec.Backend, lc.Title, lc)
	}
	return refs
}

// throughputCharts draws the closed-loop throughput: aft relative to plain for every
// configuration on one scale, then the transactions per second of each backend.
func throughputCharts(r *Results, cs []config, save func(file, title string, c report.Chart)) {
	if len(cs) == 0 {
		return
	}
	rel := report.Bars{Title: "Throughput of aft relative to plain (closed loop)",
		CategoryLabel: "backend (+ injected latency per storage call)", ValueLabel: "aft / plain throughput (x; above 1: aft faster)",
		ValueLabels: true, Format: func(v float64) string { return fmt.Sprintf("%.2f", v) }}
	for _, c := range cs {
		rel.Categories = append(rel.Categories, c.String())
	}
	for _, sc := range []string{ScenarioAPI, ScenarioGateway} {
		s := report.BarSeries{Name: map[string]string{ScenarioAPI: "API: aft txn / plain", ScenarioGateway: "gateway: via aft / direct"}[sc], Color: seriesColor(sc, ModeAft)}
		for _, c := range cs {
			a, p := find(r, c, sc, ModeAft, LoopClosed, 0), find(r, c, sc, ModePlain, LoopClosed, 0)
			v := 0.0
			if a != nil && p != nil && p.Throughput > 0 {
				v = a.Throughput / p.Throughput
			}
			s.Values = append(s.Values, v)
		}
		rel.Series = append(rel.Series, s)
	}
	save("throughput-ratio", rel.Title, rel)
	var backends []string
	for _, c := range cs {
		if !slices.Contains(backends, c.Backend) {
			backends = append(backends, c.Backend)
		}
	}
	for _, b := range backends {
		bc := report.Bars{Title: fmt.Sprintf("Closed-loop throughput on %s (%d clients)", b, firstClients(r)),
			CategoryLabel: "injected latency per storage call", ValueLabel: "throughput (transactions/s)",
			ValueLabels: true, Format: func(v float64) string { return fmt.Sprintf("%.0f", v) }}
		var mine []config
		for _, c := range cs {
			if c.Backend == b {
				mine = append(mine, c)
				bc.Categories = append(bc.Categories, fmt.Sprintf("+%g ms", c.LatencyMS))
			}
		}
		for _, sc := range []string{ScenarioAPI, ScenarioGateway} {
			for _, m := range modes(r) {
				s := report.BarSeries{Name: seriesName(sc, m), Color: seriesColor(sc, m)}
				found := true
				for _, c := range mine {
					x := find(r, c, sc, m, LoopClosed, 0)
					if x == nil {
						found = false // a mode of other backends (dynamodb-txn)
						break
					}
					s.Values = append(s.Values, x.Throughput)
				}
				if found {
					bc.Series = append(bc.Series, s)
				}
			}
		}
		if len(bc.Series) == 0 {
			continue
		}
		save("throughput-"+b, bc.Title, bc)
	}
}

func firstClients(r *Results) int {
	for _, x := range r.Runs {
		if x.Clients > 0 {
			return x.Clients
		}
	}
	return 0
}
