package bench

import (
	"strconv"

	"github.com/aft-shim/aft/report"
	"github.com/aft-shim/aft/report/folder"
)

// runsHeader are the columns of runs.csv: one row per Run, the fields of results.json
// without the CDF and the per-step latencies.
var runsHeader = []string{
	"scenario", "mode", "loop", "backend", "store_latency_ms", "clients", "rate_fraction", "rate_offered",
	"duration_s", "requests", "successes", "errors", "retried", "throughput", "middleware_overhead_ms",
	"p50_ms", "p90_ms", "p99_ms", "p999_ms", "mean_ms", "max_ms", "last_error",
}

// timelineHeader are the columns of timeline.csv: one row per Bucket of every Recovery.
var timelineHeader = []string{"backend", "t_s", "ok", "errors", "ok_per_s"}

// tables returns runs.csv and timeline.csv.
func (r *Results) tables() []folder.CSV {
	runs := report.Table{Header: runsHeader}
	for _, x := range r.Runs {
		runs.Rows = append(runs.Rows, []string{
			x.Scenario, x.Mode, x.Loop, x.Backend, num(x.StoreLatencyMS), strconv.Itoa(x.Clients), num(x.RateFraction), num(x.RateOffered),
			num(x.DurationS), itoa(x.Requests), itoa(x.Successes), itoa(x.Errors), itoa(x.Retried), num(x.Throughput), num(x.OverheadMS),
			num(x.Latency.P50), num(x.Latency.P90), num(x.Latency.P99), num(x.Latency.P999), num(x.Latency.Mean), num(x.Latency.Max), x.LastError,
		})
	}
	timeline := report.Table{Header: timelineHeader}
	for _, rec := range r.Recoveries {
		for _, b := range rec.Series {
			timeline.Rows = append(timeline.Rows, []string{rec.Backend, num(b.AtS), itoa(b.OK), itoa(b.Errors), num(float64(b.OK) / rec.BucketS)})
		}
	}
	return []folder.CSV{{Name: "runs.csv", Table: runs}, {Name: "timeline.csv", Table: timeline}}
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
func itoa(n int64) string  { return strconv.FormatInt(n, 10) }
