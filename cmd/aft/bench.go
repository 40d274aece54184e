package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aft-shim/aft/bench"
)

// benchCmd runs the paper's transaction shape through aft over HTTP and, for comparison,
// the same work straight on the store. With --out it runs the whole suite of package bench
// (closed and open loop, the API and the gateway path, per store and injected latency, a
// kill -9 and restart) and writes a report folder. `aft bench report --in DIR` renders a
// report again from its results.json; `aft bench compare A B` compares two. It parses the
// flags into a bench.Config; package bench does the rest.
type benchCmd struct{}

func (benchCmd) Run(ctx context.Context, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "report":
			return benchReport(args[1:])
		case "compare":
			return benchCompare(args[1:])
		}
	}
	c := bench.Config{Args: args, Options: bench.Options{Shape: bench.PaperShape}}
	var stores stringList
	var latencies durations
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	s := &c.Shape
	fs.StringVar(&c.Shim, "shim", "", "base URL of a running shim (empty: start one in-process on a fresh embedded store)")
	fs.Var((*urlList)(&c.ShimNodes), "shim-nodes", "with --shim: more nodes of it on the same store (comma-separated base URLs); transactions spread over them all")
	fs.IntVar(&c.Clients, "clients", 16, "concurrent clients (closed loop)")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "length of each run (with --out: of each closed-loop run)")
	fs.Int64Var(&c.Txns, "txns", 0, "stop each run after this many transactions (0: duration only; without --duration, no time bound; not with --out)")
	fs.IntVar(&s.Writes, "writes", s.Writes, "writes per transaction")
	fs.IntVar(&s.Reads, "reads", s.Reads, "reads per transaction")
	fs.IntVar(&s.Keys, "keys", s.Keys, "key space")
	fs.IntVar(&s.ValueSize, "value-size", s.ValueSize, "bytes per value")
	fs.Float64Var(&s.Zipf, "zipf", s.Zipf, "Zipf exponent of key popularity (> 1; 0 for uniform)")
	fs.BoolVar(&c.Direct, "direct", true, "also run the same work straight on the embedded store")
	fs.BoolVar(&c.Batches, "batches", true, "also run aft in batches: a begin carrying the writes and reads, then the commit (with --out: always)")
	fs.BoolVar(&c.NoSync, "no-sync", false, "in-process stores skip fsync")
	fs.StringVar(&c.DataDir, "data-dir", "", "where in-process stores live (default: a temporary directory, removed after)")
	fs.DurationVar(&c.ProgressEvery, "progress", 2*time.Second, "interval of progress lines")
	fs.StringVar(&c.RSSAt, "rss-at", "", "comma-separated transaction counts at which to report resident memory, e.g. 100000,1000000")
	fs.Var(&stores, "store", "storage of the in-process shim and of the comparison, a --store URL of aft serve (default: a fresh embedded store); with --out it may be repeated, one set of runs per store")
	fs.StringVar(&c.Baseline, "baseline", bench.BaselineStore, "what aft is compared with: store (the same reads and writes straight on the store) or dynamodb-txn (DynamoDB's TransactWriteItems and TransactGetItems)")
	fs.Var(&latencies, "store-latency", "in-process stores: add this latency to every storage call; with --out a comma-separated list, each run besides the runs without (default with --out: 5ms)")
	fs.DurationVar(&c.Jitter, "store-jitter", 0, "in-process stores: plus a uniform random extra up to this")
	fs.StringVar(&c.MemProfile, "memprofile", "", "write a heap profile of the in-process shim to this file after the aft run")
	fs.IntVar(&c.Rounds, "rounds", 1, "run aft, aft in batches and the comparison this many times, interleaved, and give the median of each ratio (a noisy machine)")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write a CPU profile of this process (the clients, and the in-process shim if any) during each run to this path plus .aft, .aft-batch, .direct")
	fs.StringVar(&c.Out, "out", "", "run the whole suite and write a report folder here: report.md, charts (PNG, SVG), results.json, CSV")
	fs.BoolVar(&c.Quick, "quick", false, "with --out: short runs, a minute or two in all on the embedded store")
	fs.DurationVar(&c.OpenDuration, "open-duration", 10*time.Second, "with --out: length of each open-loop (vegeta) run")
	fs.StringVar(&c.Rates, "rates", "0.5,0.9", "with --out: open-loop rates, as fractions of aft's closed-loop throughput")
	fs.DurationVar(&c.CrashDuration, "crash-duration", 20*time.Second, "with --out: length of the load across a kill -9 and restart of aft serve (0: none)")
	fs.DurationVar(&c.KillAt, "kill-at", 8*time.Second, "with --out: when, into that load, the shim gets SIGKILL")
	fs.Var((*stringList)(&c.Notes), "note", "with --out: a line for the report's notes, such as the script that ran this (may be repeated)")
	var creds shimCreds
	creds.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var err error
	if c.ShimOptions, err = creds.options(); err != nil {
		return err
	}
	c.Stores, c.Latencies = stores, latencies
	c.Given = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { c.Given[f.Name] = true })
	if c.Given["txns"] && !c.Given["duration"] {
		c.Duration = 0 // --txns alone: the run goes on until that many
	}
	err = bench.Execute(ctx, c)
	if ce := (*bench.ConfigError)(nil); errors.As(err, &ce) {
		return usage("%v", err)
	}
	return err
}

// benchReport is `aft bench report --in DIR`: the report of DIR made again from its
// results.json.
func benchReport(args []string) error {
	fs := flag.NewFlagSet("bench report", flag.ContinueOnError)
	in := fs.String("in", "", "report folder with a results.json (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *in == "" {
		return usage("report: --in DIR is required")
	}
	return bench.RenderAgain(os.Stdout, *in)
}

// benchCompare is `aft bench compare A B`: the ratios of B's results to A's, as markdown
// on stdout.
func benchCompare(args []string) error {
	if err, ok := help("bench compare", args); ok {
		return err
	}
	if len(args) != 2 {
		return usage("compare: want two report folders (or results.json files): aft bench compare A B")
	}
	return bench.CompareFiles(os.Stdout, args[0], args[1])
}

// stringList is a flag that may be repeated.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// durations is a flag of comma-separated durations; repeating it adds more.
type durations []time.Duration

func (d *durations) String() string {
	var s []string
	for _, x := range *d {
		s = append(s, x.String())
	}
	return strings.Join(s, ",")
}

func (d *durations) Set(v string) error {
	for _, f := range strings.Split(v, ",") {
		x, err := time.ParseDuration(strings.TrimSpace(f))
		if err != nil || x < 0 {
			return fmt.Errorf("bad duration %q", f)
		}
		*d = append(*d, x)
	}
	return nil
}
