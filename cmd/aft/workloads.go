package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/aft-shim/aft/bench"
	"github.com/aft-shim/aft/internal/redact"
	"github.com/aft-shim/aft/report/folder"
	"github.com/aft-shim/aft/shim/backend"
	"github.com/aft-shim/aft/workloads"
)

// workloadsCmd runs the workload suite: every scenario in plain mode, in aft mode and,
// on DynamoDB, with DynamoDB's transactions; it prints the anomaly table and writes a
// report folder. `aft workloads report` renders a folder again from its results.json;
// `aft workloads compare A B` prints what changed between two runs.
type workloadsCmd struct {
	quick     bool
	store     string
	scenarios string
	modes     string
	out       string
	dataDir   string
	list      bool
}

func (w *workloadsCmd) Run(ctx context.Context, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "report":
			return w.render(args[1:])
		case "compare":
			return w.compare(args[1:])
		}
	}
	fs := flag.NewFlagSet("workloads", flag.ContinueOnError)
	fs.BoolVar(&w.quick, "quick", false, "a short run of every scenario (well under a minute)")
	fs.StringVar(&w.store, "store", "", "storage backend `URL`, as aft serve takes it (empty: an embedded store in a temporary directory; mem://, redis://, dynamodb://, s3://)")
	fs.StringVar(&w.scenarios, "scenarios", "", "comma-separated scenarios to run (default all; --list names them)")
	fs.StringVar(&w.modes, "modes", "", "comma-separated modes: plain, aft, dynamodb-txn (default plain,aft, and dynamodb-txn on DynamoDB)")
	fs.StringVar(&w.out, "out", "", "write the report folder `DIR`: report.md, results.json, results.csv, charts (default: print only)")
	fs.StringVar(&w.dataDir, "data-dir", "", "where the embedded stores and the shim processes keep their data (default: a temporary directory, removed after)")
	fs.BoolVar(&w.list, "list", false, "list the scenarios and exit")
	var creds shimCreds
	creds.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	shimOpts, err := creds.options()
	if err != nil {
		return err
	}
	if w.list {
		for _, s := range workloads.Catalogue() {
			fmt.Printf("%-22s %s\n", s.Name, s.Title)
		}
		return nil
	}
	if err := backend.Check(w.store); err != nil {
		return usage("--store: %v", err)
	}
	o := workloads.Options{Store: w.store, DataDir: w.dataDir, Quick: w.quick, Scenarios: wlSplit(w.scenarios),
		ServeCommand: wlServeCommand(), Progress: wlProgress, ShimOptions: shimOpts}
	for _, m := range wlSplit(w.modes) {
		o.Modes = append(o.Modes, workloads.Mode(m))
	}
	if _, err := workloads.Select(o.Scenarios); err != nil {
		return usage("--scenarios: %v", err)
	}
	start := time.Now()
	results, err := workloads.Run(ctx, o)
	if err != nil {
		return err
	}
	info := workloads.NewRunInfo(bench.CommandLine(append([]string{"workloads"}, args...)...), o, start)
	wlPrintResults(results)
	fmt.Printf("took %.1fs\n", info.Seconds)
	if w.out != "" {
		if err := workloads.WriteAll(w.out, results, info); err != nil {
			return err
		}
		fmt.Printf("report: %s/%s\n", strings.TrimRight(w.out, "/"), workloads.FileReport)
	}
	return wlVerdict(results)
}

// wlVerdict is an error when aft mode showed an anomaly or a run failed.
func wlVerdict(results []workloads.Result) error {
	var bad, failed []string
	for _, r := range results {
		switch {
		case r.Error != "":
			failed = append(failed, r.Scenario+"/"+string(r.Mode))
		case r.Mode == workloads.Aft && r.Anomalies.Total() > 0:
			bad = append(bad, fmt.Sprintf("%s (%v)", r.Scenario, r.Anomalies))
		}
	}
	var errs []error
	if len(bad) > 0 {
		errs = append(errs, fmt.Errorf("aft mode showed anomalies: %s", strings.Join(bad, "; ")))
	}
	if len(failed) > 0 {
		errs = append(errs, fmt.Errorf("runs failed: %s", strings.Join(failed, ", ")))
	}
	return errors.Join(errs...)
}

// wlProgress prints a status line per scenario and mode: its start, then its outcome,
// the secrets of any store URL in it hidden.
func wlProgress(e workloads.Event) {
	if e.Result == nil {
		fmt.Printf("[%2d/%d] %-22s %-12s ", e.Index, e.Total, e.Scenario, e.Mode)
		return
	}
	r := e.Result
	switch {
	case r.Skipped != "":
		fmt.Printf("skipped: %s\n", redact.Text(r.Skipped))
	case r.Error != "":
		fmt.Printf("%5.1fs  FAILED: %s\n", r.Seconds, redact.Text(r.Error))
	default:
		fmt.Printf("%5.1fs  %3d requests, %3d acked, %4d deliveries  anomalies: %v\n", r.Seconds, r.Requests, r.Acked, r.Deliveries, r.Anomalies)
	}
}

// wlPrintResults prints the anomaly table and one summary line per mode.
func wlPrintResults(results []workloads.Result) {
	fmt.Println()
	fmt.Print(workloads.AnomalyTable(results).Text())
	fmt.Println()
	for _, l := range workloads.Summary(results) {
		fmt.Println(l)
	}
}

// render is `aft workloads report --in DIR [--out DIR]`.
func (w *workloadsCmd) render(args []string) error {
	fs := flag.NewFlagSet("workloads report", flag.ContinueOnError)
	in := fs.String("in", "", "report folder (or results.json) to render again")
	out := fs.String("out", "", "write the report here (default: the --in folder)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *in == "" {
		return usage("--in DIR is required")
	}
	dir, results, err := workloads.Rerender(*in, *out) // a new --out folder gets the raw results too
	if err != nil {
		return err
	}
	wlPrintResults(results)
	fmt.Printf("report: %s/%s\n", strings.TrimRight(dir, "/"), workloads.FileReport)
	return nil
}

// compare is `aft workloads compare A B`.
func (w *workloadsCmd) compare(args []string) error {
	if err, ok := help("workloads compare", args); ok {
		return err
	}
	fs := flag.NewFlagSet("workloads compare", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return &usageError{err}
	}
	if fs.NArg() != 2 {
		return usage("want two report folders (or results.json files): aft workloads compare A B")
	}
	a, b, err := folder.LoadTwo(fs.Arg(0), fs.Arg(1), func(path string) ([]workloads.Result, error) {
		results, _, err := workloads.ReadDir(path)
		return results, err
	})
	if err != nil {
		return err
	}
	t, same := workloads.Compare(a, b)
	fmt.Printf("A: %s\nB: %s\n\n", fs.Arg(0), fs.Arg(1))
	if len(t.Rows) == 0 {
		fmt.Printf("no differences (%d scenario/mode pairs)\n", same)
		return nil
	}
	fmt.Print(t.Text())
	fmt.Printf("\n%d differ, %d the same\n", len(t.Rows), same)
	return nil
}

// wlServeCommand runs this binary's `aft serve`, configured by its flags alone.
func wlServeCommand() func(args ...string) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		return nil
	}
	return workloads.ServeCommand(exe)
}

func wlSplit(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
