package bench

import (
	"fmt"
	"strings"

	"github.com/aft-shim/aft/report"
	"github.com/aft-shim/aft/report/folder"
)

// writeMarkdown writes report.md: headlines, tables, charts and the schema of the raw files.
func writeMarkdown(b *strings.Builder, r *Results, charts []folder.Chart) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format+"\n", args...) }
	p("# aft bench report")
	p("")
	took := r.Finished.Sub(r.Started).Round(1e9)
	quick := ""
	if r.Quick {
		quick = " (a `--quick` run: short runs, rough figures)"
	}
	p("Made with `%s` on %s, in %v%s.", r.Command, r.Started.Format("2006-01-02 15:04 MST"), took, quick)
	p("")
	m := r.Machine
	p("**Machine:** %d cores (GOMAXPROCS %d), %s, %d MiB memory, %s, %s. The load generator, the shim, the middleware, the function and the local store servers all share these cores; the 1-minute load average was %.2f before the run (other work on the machine: above zero, noisier figures) and %.2f at its end (this run included).",
		m.Cores, m.GOMAXPROCS, m.CPU, m.MemoryMiB, m.OS, m.Go, m.LoadBefore, m.LoadAfter)
	p("")
	s := r.Shape
	p("**Transaction** (the AFT paper's shape): %d writes then %d reads of %d-byte values over %d keys, Zipf %.2f.", s.Writes, s.Reads, s.ValueSize, s.Keys, s.Zipf)
	p("")
	p("- **api, aft**: a client runs the transaction through the shim's HTTP API: begin, one call per write and read, commit.")
	p("- **api, plain**: the same reads and writes straight on the store, no transaction (one Put of the writes, then the reads).")
	p("- **api, dynamodb-txn**: the writes in one DynamoDB TransactWriteItems, the reads in one TransactGetItems.")
	p("- **gateway, aft**: one HTTP invocation of a function (Go SDK) doing the transaction, through the aft middleware (`aft proxy` in process), which begins and commits at the shim.")
	p("- **gateway, plain**: the same function called directly, doing the same work straight on the store.")
	p("- **closed loop**: N clients, each sending its next request when the last answered; **open loop**: vegeta at a constant rate (a fraction of aft's closed-loop throughput of the same scenario), whatever the answers.")
	p("  In open loop over the API, one vegeta hit is one whole transaction: a custom targeter draws the keys and an `http.RoundTripper` runs the transaction's calls, so latency is that of the whole transaction.")
	p("")
	writeHeadlines(p, r)
	writeClosed(p, r)
	writeOpen(p, r)
	writeSteps(p, r)
	writeRecoveries(p, r)
	if len(charts) > 0 {
		p("## Charts")
		p("")
		for _, c := range charts {
			p("![%s](%s.png)", c.Title, c.Name)
			p("")
			p("[SVG](%s.svg)", c.Name)
			p("")
		}
	}
	writeMetrics(p, r)
	if len(r.Notes) > 0 {
		p("## Notes")
		p("")
		for _, n := range r.Notes {
			p("- %s", n)
		}
		p("")
	}
	p("%s", schemaDoc)
}

type printer func(format string, args ...any)

func writeHeadlines(p printer, r *Results) {
	p("## Headlines")
	p("")
	fs := fractions(r)
	for _, c := range configs(r) {
		var parts []string
		a, pl := find(r, c, ScenarioAPI, ModeAft, LoopClosed, 0), find(r, c, ScenarioAPI, ModePlain, LoopClosed, 0)
		if a != nil && pl != nil {
			parts = append(parts, fmt.Sprintf("aft commits **%.0f txn/s**, **%s** the throughput of plain (%.0f/s), p50 %s ms vs %s ms (closed loop)",
				a.Throughput, folder.Ratio(a.Throughput, pl.Throughput), pl.Throughput, folder.Millis(a.Latency.P50), folder.Millis(pl.Latency.P50)))
		}
		if b := find(r, c, ScenarioAPI, ModeAftBatch, LoopClosed, 0); b != nil && pl != nil {
			parts = append(parts, fmt.Sprintf("in batches (a begin carrying the ops, then the commit) **%.0f txn/s**, **%s** plain's, p50 %s ms",
				b.Throughput, folder.Ratio(b.Throughput, pl.Throughput), folder.Millis(b.Latency.P50)))
		}
		if d := find(r, c, ScenarioAPI, ModeDynamoDBTxn, LoopClosed, 0); a != nil && d != nil {
			parts = append(parts, fmt.Sprintf("**%s** the throughput of DynamoDB transactions (%.0f/s)", folder.Ratio(a.Throughput, d.Throughput), d.Throughput))
		}
		if len(fs) > 0 {
			oa, op := find(r, c, ScenarioAPI, ModeAft, LoopOpen, fs[0]), find(r, c, ScenarioAPI, ModePlain, LoopOpen, fs[0])
			if oa != nil && op != nil {
				parts = append(parts, fmt.Sprintf("at %.0f/s offered, p50 %s ms vs %s ms (%s) and p99 %s ms vs %s ms (%s)%s",
					oa.RateOffered, folder.Millis(oa.Latency.P50), folder.Millis(op.Latency.P50), folder.Ratio(oa.Latency.P50, op.Latency.P50), folder.Millis(oa.Latency.P99), folder.Millis(op.Latency.P99), folder.Ratio(oa.Latency.P99, op.Latency.P99), behind(oa)))
			}
			ga, gp := find(r, c, ScenarioGateway, ModeAft, LoopOpen, fs[0]), find(r, c, ScenarioGateway, ModePlain, LoopOpen, fs[0])
			if ga != nil && gp != nil {
				parts = append(parts, fmt.Sprintf("an invocation through aft (middleware and shim) takes **%s ms at p50** vs %s ms called directly (%s; p99 %s vs %s ms) at %.0f invocations/s%s; "+
					"the middleware's own time (begin, commit, proxying) averaged **%s ms** of a mean invocation of %s ms",
					folder.Millis(ga.Latency.P50), folder.Millis(gp.Latency.P50), folder.Ratio(ga.Latency.P50, gp.Latency.P50), folder.Millis(ga.Latency.P99), folder.Millis(gp.Latency.P99), ga.RateOffered, behind(ga), folder.Millis(ga.OverheadMS), folder.Millis(ga.Latency.Mean)))
			}
		}
		ga, gp := find(r, c, ScenarioGateway, ModeAft, LoopClosed, 0), find(r, c, ScenarioGateway, ModePlain, LoopClosed, 0)
		if ga != nil && gp != nil {
			parts = append(parts, fmt.Sprintf("closed-loop invocations %.0f/s through aft vs %.0f/s direct (%s)", ga.Throughput, gp.Throughput, folder.Ratio(ga.Throughput, gp.Throughput)))
		}
		if len(parts) > 0 {
			p("- **%s**: %s.", c, strings.Join(parts, "; "))
		}
	}
	for _, rec := range r.Recoveries {
		if rec.RecoveryMS > 0 {
			p("- **kill -9 of aft serve (%s)**: the first transaction committed **%.0f ms** after SIGKILL (the restarted process was ready after %.0f ms); %.0f txn/s before, %.0f txn/s after.",
				rec.Backend, rec.RecoveryMS, rec.RestartMS, rec.BeforeTPS, rec.AfterTPS)
		} else {
			p("- **kill -9 of aft serve (%s)**: no transaction committed after the restart.", rec.Backend)
		}
	}
	p("")
}

func writeClosed(p printer, r *Results) {
	var rows [][]string
	for _, c := range configs(r) {
		for _, sc := range []string{ScenarioAPI, ScenarioGateway} {
			pl := find(r, c, sc, ModePlain, LoopClosed, 0)
			for _, m := range modes(r) {
				x := find(r, c, sc, m, LoopClosed, 0)
				if x == nil {
					continue
				}
				vs := ""
				if pl != nil && m != ModePlain {
					vs = fmt.Sprintf("%s / %s", folder.Ratio(x.Throughput, pl.Throughput), folder.Ratio(x.Latency.P50, pl.Latency.P50))
				}
				rows = append(rows, []string{c.String(), sc, m, fmt.Sprint(x.Clients), fmt.Sprintf("%.0f", x.Throughput),
					folder.Millis(x.Latency.P50), folder.Millis(x.Latency.P90), folder.Millis(x.Latency.P99), folder.Millis(x.Latency.P999), fmt.Sprint(x.Errors), vs, overhead(x)})
			}
		}
	}
	if len(rows) == 0 {
		return
	}
	p("## Closed loop")
	p("")
	table(p, []string{"configuration", "scenario", "mode", "clients", "throughput (/s)", "p50 (ms)", "p90 (ms)", "p99 (ms)", "p99.9 (ms)", "errors", "vs plain: throughput / p50", "middleware overhead, mean (ms)"}, rows)
}

func writeOpen(p printer, r *Results) {
	var rows [][]string
	for _, c := range configs(r) {
		for _, sc := range []string{ScenarioAPI, ScenarioGateway} {
			for _, f := range fractions(r) {
				for _, m := range modes(r) {
					x := find(r, c, sc, m, LoopOpen, f)
					if x == nil {
						continue
					}
					achieved := fmt.Sprintf("%.0f", x.Throughput)
					if saturated(x) {
						achieved += " (behind)"
					}
					rows = append(rows, []string{c.String(), sc, m, fmt.Sprintf("%.0f (%.0f%%)", x.RateOffered, f*100), achieved,
						folder.Millis(x.Latency.P50), folder.Millis(x.Latency.P90), folder.Millis(x.Latency.P99), folder.Millis(x.Latency.P999), fmt.Sprint(x.Errors), fmt.Sprint(x.Retried), overhead(x)})
				}
			}
		}
	}
	if len(rows) == 0 {
		return
	}
	p("## Open loop (vegeta, constant rate)")
	p("")
	p("The offered rate is a fraction of aft's closed-loop throughput in the same scenario and configuration; both modes get the same rate. " +
		"A run marked *behind* achieved less than 95%% of it: requests queued, and its latencies are mostly waiting.")
	p("")
	table(p, []string{"configuration", "scenario", "mode", "offered (/s)", "achieved (/s)", "p50 (ms)", "p90 (ms)", "p99 (ms)", "p99.9 (ms)", "errors", "retried", "middleware overhead, mean (ms)"}, rows)
}

func writeSteps(p printer, r *Results) {
	var rows [][]string
	for _, c := range configs(r) {
		x := find(r, c, ScenarioAPI, ModeAft, LoopClosed, 0)
		if x == nil || len(x.Steps) == 0 {
			continue
		}
		for _, step := range []string{StepBegin, StepWrite, StepRead, StepCommit} {
			l, ok := x.Steps[step]
			if !ok {
				continue
			}
			rows = append(rows, []string{c.String(), step, folder.Millis(l.P50), folder.Millis(l.P90), folder.Millis(l.P99), folder.Millis(l.P999), folder.Millis(l.Mean)})
		}
	}
	if len(rows) == 0 {
		return
	}
	p("## Inside an aft transaction (api, closed loop)")
	p("")
	p("Latency of each HTTP call to the shim, as the client saw it.")
	p("")
	table(p, []string{"configuration", "call", "p50 (ms)", "p90 (ms)", "p99 (ms)", "p99.9 (ms)", "mean (ms)"}, rows)
}

func writeRecoveries(p printer, r *Results) {
	if len(r.Recoveries) == 0 {
		return
	}
	p("## Recovery after kill -9")
	p("")
	p("`aft serve` runs as a process under closed-loop load; at the kill time it gets SIGKILL and is started again at once on the same address and storage. Recovery is the time from SIGKILL to the first transaction committed by the new process.")
	p("")
	var rows [][]string
	for _, rec := range r.Recoveries {
		first := "none"
		if rec.RecoveryMS > 0 {
			first = fmt.Sprintf("%.0f", rec.RecoveryMS)
		}
		rows = append(rows, []string{rec.Backend, fmt.Sprint(rec.Clients), fmt.Sprintf("%.2f", rec.KillAtS), fmt.Sprintf("%.0f", rec.RestartMS), first,
			fmt.Sprintf("%.0f", rec.BeforeTPS), fmt.Sprintf("%.0f", rec.AfterTPS), fmt.Sprint(rec.Successes), fmt.Sprint(rec.Errors)})
	}
	table(p, []string{"backend", "clients", "SIGKILL at (s)", "ready after (ms)", "first commit after (ms)", "before (txn/s)", "after (txn/s)", "committed", "failed"}, rows)
}

func writeMetrics(p printer, r *Results) {
	if len(r.Metrics) == 0 {
		return
	}
	p("## Shim and middleware metrics")
	p("")
	p("Prometheus counters (and histogram means) of the in-process shim and middleware, scraped after the runs of each configuration.")
	p("")
	p("<details><summary>%d series</summary>", len(r.Metrics))
	p("")
	var rows [][]string
	for _, m := range r.Metrics {
		c := config{m.Backend, m.StoreLatencyMS}
		rows = append(rows, []string{c.String(), m.Component, m.Name, m.Labels, fmt.Sprintf("%.6g", m.Value)})
	}
	table(p, []string{"configuration", "component", "metric", "labels", "value"}, rows)
	p("</details>")
	p("")
}

// saturated reports whether an open-loop run fell behind its offered rate (below 95%).
func saturated(x *Record) bool { return x.Loop == LoopOpen && x.Throughput < 0.95*x.RateOffered }

// behind is a remark for a headline on a run that fell behind its offered rate.
func behind(x *Record) string {
	if !saturated(x) {
		return ""
	}
	return fmt.Sprintf(" (but aft fell behind: %.0f/s of %.0f/s, so this latency is mostly queueing)", x.Throughput, x.RateOffered)
}

// overhead formats the middleware's mean overhead of a gateway aft run, "" for others.
func overhead(x *Record) string {
	if x.Scenario != ScenarioGateway || x.Mode != ModeAft {
		return ""
	}
	return folder.Millis(x.OverheadMS)
}

// table writes a markdown table and a blank line.
func table(p printer, header []string, rows [][]string) {
	p("%s", report.Table{Header: header, Rows: rows}.Compact())
}

// schemaDoc documents the raw files of a report folder.
const schemaDoc = "## Raw results\n\n" +
	"- `results.json`: everything this report is made from; `aft bench report --in DIR` renders it again, `aft bench compare A B` compares two.\n" +
	"- `runs.csv`: one row per load run, the fields of `runs` below without `cdf`, `steps` and `codes` (latencies as `p50_ms` ...).\n" +
	"- `timeline.csv`: one row per time bucket of each kill -9 run: `backend, t_s, ok, errors, ok_per_s`.\n\n" +
	"`results.json` (schema `aft-bench/1`): `command`, `started`, `finished`, `quick`, `machine` {`cores`, `gomaxprocs`, `cpu`, `memory_mib`, `os`, `go`, `load_before`, `load_after` (1-minute load averages)}, " +
	"`shape` {`writes`, `reads`, `keys`, `value_size`, `zipf`}, `notes`, and:\n\n" +
	"| field | meaning |\n|---|---|\n" +
	"| `runs[].scenario` | `api` (transactions through the shim's HTTP API) or `gateway` (invocations of a function) |\n" +
	"| `runs[].mode` | `aft`, `plain` (straight on the store, no transaction) or `dynamodb-txn` |\n" +
	"| `runs[].loop` | `closed` (`clients` callers) or `open` (vegeta at `rate_offered`/s, `rate_fraction` of aft's closed-loop throughput) |\n" +
	"| `runs[].backend`, `store_latency_ms` | the store (`embedded`, `mem`, `redis`, `dynamodb`, `s3`) and the latency injected into each storage call |\n" +
	"| `runs[].requests`, `successes`, `errors`, `retried` | counts; `retried`: gateway successes that took more than one attempt |\n" +
	"| `runs[].middleware_overhead_ms` | gateway aft runs: mean latency the middleware itself added per request (`aft_middleware_overhead_seconds`: its time less the function's) |\n" +
	"| `runs[].duration_s`, `throughput` | wall time, successes per second |\n" +
	"| `runs[].latency_ms` | `p50`, `p90`, `p99`, `p999`, `mean`, `max` of the successes, in ms (histogram buckets 1% wide) |\n" +
	"| `runs[].cdf` | `[{ms, q}]`: a fraction `q` of the successes took `ms` or less (at most 57 points) |\n" +
	"| `runs[].steps` | api aft runs: latency of each call (`begin`, `write`, `read`, `commit`), as `latency_ms` |\n" +
	"| `runs[].codes`, `last_error` | open loop: answers by HTTP status (`0`: none); the last error seen |\n" +
	"| `recoveries[]` | `backend`, `clients`, `kill_at_s`, `ready_at_s`, `first_ok_at_s`, `restart_ms`, `recovery_ms` (SIGKILL to first commit), `before_tps`, `after_tps`, `successes`, `errors`, `bucket_s`, `series` [{`t_s`, `ok`, `errors`}] |\n" +
	"| `metrics[]` | `component` (`shim`, `middleware`), `backend`, `store_latency_ms`, `name`, `labels`, `value`: Prometheus counters, and histogram means in ms (`*_mean_ms`) |\n"
