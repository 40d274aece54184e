// Package report writes what a run measured in forms that people and programs read:
// markdown and plain-text tables, CSV, and charts drawn with gonum.org/v1/plot as PNG
// and SVG. The report folders made of them (results.json, the tables, the charts and
// report.md, with store secrets hidden) are package report/folder's.
//
// Three kinds of chart cover what the workload suite and the benchmarks show:
//
//   - Bars: values grouped by category, one bar per series in each group (anomalies by
//     scenario and mode, throughput by backend);
//   - Lines: series over a shared X axis, with optional vertical marks (throughput over
//     time across a kill -9 and restart);
//   - CDF: the empirical cumulative distribution of samples per series (request latencies).
//
// Every chart has a title, axis labels (give the unit in the label: "latency (ms)") and a
// legend, in a sans-serif font sized to be read at the default size. Save and SaveAll
// render a chart to files; Render writes it to any io.Writer:
//
//	c := report.Bars{Title: "Anomalies", CategoryLabel: "scenario", ValueLabel: "anomalies (count)",
//		Categories: []string{"crash", "zombie"},
//		Series: []report.BarSeries{{Name: "plain", Values: []float64{12, 3}}, {Name: "aft", Values: []float64{0, 0}}}}
//	paths, err := report.SaveAll("out/anomalies", c, report.Size{})
package report
