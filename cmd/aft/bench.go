package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aft-shim/aft/bench"
	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/report/folder"
	"github.com/aft-shim/aft/shim/backend"
)

// benchCmd runs the paper's transaction shape through aft over HTTP and, for comparison,
// the same work straight on the store. With --out it runs the whole suite of package bench
// (closed and open loop, the API and the gateway path, per store and injected latency, a
// kill -9 and restart) and writes a report folder. `aft bench report --in DIR` renders a
// report again from its results.json; `aft bench compare A B` compares two.
type benchCmd struct {
	shim      string
	opts      bench.Options
	direct    bool
	noSync    bool
	dataDir   string
	every     time.Duration
	rssMarks  string
	memProf   string
	latencies durations
	jitter    time.Duration
	stores    stringList
	baseline  string

	// --out: the suite
	out      string
	quick    bool
	openDur  time.Duration
	rates    string
	crashDur time.Duration
	killAt   time.Duration
	notes    stringList
	given    map[string]bool
	args     []string // as given, for the report's command line
}

func (b *benchCmd) Run(ctx context.Context, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "report":
			return benchReport(args[1:])
		case "compare":
			return benchCompare(args[1:])
		}
	}
	b.args = args
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	s := &b.opts.Shape
	*s = bench.PaperShape
	fs.StringVar(&b.shim, "shim", "", "base URL of a running shim (empty: start one in-process on a fresh embedded store)")
	fs.IntVar(&b.opts.Clients, "clients", 16, "concurrent clients (closed loop)")
	fs.DurationVar(&b.opts.Duration, "duration", 10*time.Second, "length of each run (with --out: of each closed-loop run)")
	fs.Int64Var(&b.opts.Txns, "txns", 0, "stop each run after this many transactions (0: duration only; not with --out)")
	fs.IntVar(&s.Writes, "writes", s.Writes, "writes per transaction")
	fs.IntVar(&s.Reads, "reads", s.Reads, "reads per transaction")
	fs.IntVar(&s.Keys, "keys", s.Keys, "key space")
	fs.IntVar(&s.ValueSize, "value-size", s.ValueSize, "bytes per value")
	fs.Float64Var(&s.Zipf, "zipf", s.Zipf, "Zipf exponent of key popularity (> 1; 0 for uniform)")
	fs.BoolVar(&b.direct, "direct", true, "also run the same work straight on the embedded store")
	fs.BoolVar(&b.noSync, "no-sync", false, "in-process stores skip fsync")
	fs.StringVar(&b.dataDir, "data-dir", "", "where in-process stores live (default: a temporary directory, removed after)")
	fs.DurationVar(&b.every, "progress", 2*time.Second, "interval of progress lines")
	fs.StringVar(&b.rssMarks, "rss-at", "", "comma-separated transaction counts at which to report resident memory, e.g. 100000,1000000")
	fs.Var(&b.stores, "store", "storage of the in-process shim and of the comparison, a --store URL of aft serve (default: a fresh embedded store); with --out it may be repeated, one set of runs per store")
	fs.StringVar(&b.baseline, "baseline", "store", "what aft is compared with: store (the same reads and writes straight on the store) or dynamodb-txn (DynamoDB's TransactWriteItems and TransactGetItems)")
	fs.Var(&b.latencies, "store-latency", "in-process stores: add this latency to every storage call; with --out a comma-separated list, each run besides the runs without (default with --out: 5ms)")
	fs.DurationVar(&b.jitter, "store-jitter", 0, "in-process stores: plus a uniform random extra up to this")
	fs.StringVar(&b.memProf, "memprofile", "", "write a heap profile of the in-process shim to this file after the aft run")
	fs.StringVar(&b.out, "out", "", "run the whole suite and write a report folder here: report.md, charts (PNG, SVG), results.json, CSV")
	fs.BoolVar(&b.quick, "quick", false, "with --out: short runs, a minute or two in all on the embedded store")
	fs.DurationVar(&b.openDur, "open-duration", 10*time.Second, "with --out: length of each open-loop (vegeta) run")
	fs.StringVar(&b.rates, "rates", "0.5,0.9", "with --out: open-loop rates, as fractions of aft's closed-loop throughput")
	fs.DurationVar(&b.crashDur, "crash-duration", 20*time.Second, "with --out: length of the load across a kill -9 and restart of aft serve (0: none)")
	fs.DurationVar(&b.killAt, "kill-at", 8*time.Second, "with --out: when, into that load, the shim gets SIGKILL")
	fs.Var(&b.notes, "note", "with --out: a line for the report's notes, such as the script that ran this (may be repeated)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	b.given = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { b.given[f.Name] = true })
	if b.opts.Duration <= 0 && b.opts.Txns <= 0 {
		return usage("set --duration or --txns")
	}
	if s.Zipf != 0 && s.Zipf <= 1 {
		return usage("--zipf %v must be above 1 (or 0 for uniform)", s.Zipf)
	}
	for _, st := range b.stores {
		if err := backend.Check(st); err != nil {
			return usage("--store: %v", err)
		}
	}
	if b.baseline != "store" && b.baseline != "dynamodb-txn" {
		return usage("--baseline %q: want store or dynamodb-txn", b.baseline)
	}
	if b.out != "" {
		return b.suite(ctx)
	}
	if len(b.stores) > 1 || len(b.latencies) > 1 {
		return usage("several --store or --store-latency values need --out")
	}
	return b.single(ctx)
}

// store is the one store URL of a run without --out.
func (b *benchCmd) store() string {
	if len(b.stores) == 0 {
		return ""
	}
	return b.stores[0]
}

// latency is the one injected latency of a run without --out.
func (b *benchCmd) latency() time.Duration {
	if len(b.latencies) == 0 {
		return 0
	}
	return b.latencies[0]
}

// single is a run without --out: aft over HTTP, then the comparison, printed.
func (b *benchCmd) single(ctx context.Context) error {
	s := &b.opts.Shape
	marks, err := parseMarks(b.rssMarks)
	if err != nil {
		return err
	}
	dir := b.dataDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "aft-bench-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}
	sc := bench.StoreConfig{URL: b.store(), DataDir: dir, NoSync: b.noSync, Latency: b.latency(), Jitter: b.jitter}
	shim, rss := b.shim, selfRSS
	if shim == "" {
		st, _, err := sc.Open(ctx, "aft")
		if err != nil {
			return err
		}
		srv, err := bench.StartShim(ctx, st)
		if err != nil {
			return err
		}
		defer srv.Close()
		shim = srv.URL
	} else {
		rss = metricsRSS(shim)
	}
	fmt.Printf("shape: %d writes then %d reads, %d-byte values, %d keys, zipf %.2f, %d clients, fsync %v, store latency %v (+%v jitter)\n",
		s.Writes, s.Reads, s.ValueSize, s.Keys, s.Zipf, b.opts.Clients, !b.noSync, b.latency(), b.jitter)

	b.opts.ProgressEvery = b.every
	var detail func() string
	if b.shim == "" {
		detail = inProcessMemory(dir + "/aft/" + backend.DataFile)
	}
	b.opts.Progress = progress("aft", rss, detail, marks)
	aft, err := bench.Run(ctx, b.opts, bench.AftTxn(client.New(shim)))
	if err != nil {
		return err
	}
	report("aft over HTTP", aft)
	if b.memProf != "" {
		if err := writeHeapProfile(b.memProf); err != nil {
			return err
		}
	}
	if !b.direct {
		return nil
	}
	st, desc, err := sc.Open(ctx, "direct")
	if err != nil {
		return err
	}
	defer st.Close()
	fn := bench.DirectTxn(st)
	name := "same work on the store"
	if b.baseline == "dynamodb-txn" {
		if fn, err = bench.DynamoTxn(st, b.latency()); err != nil {
			return usage("--baseline dynamodb-txn needs --store dynamodb://...")
		}
		name = "DynamoDB transactions"
	}
	fmt.Printf("comparison: %s (%s)\n", name, desc)
	b.opts.Progress = progress("direct", nil, nil, nil)
	res, err := bench.Run(ctx, b.opts, fn)
	if err != nil {
		return err
	}
	report(name, res)
	fmt.Printf("ratio aft/store: throughput %.2fx, p50 latency %.2fx, p99 latency %.2fx\n",
		aft.TPS/res.TPS, float64(aft.P50)/float64(res.P50), float64(aft.P99)/float64(res.P99))
	return nil
}

func report(name string, r bench.Result) {
	fmt.Printf("%-24s %s\n", name+":", r)
	if r.LastErr != nil {
		fmt.Printf("%-24s last error: %v\n", "", r.LastErr)
	}
}

func parseMarks(s string) ([]int64, error) {
	var marks []int64
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil || n <= 0 {
			return nil, usage("--rss-at: bad count %q", f)
		}
		marks = append(marks, n)
	}
	return marks, nil
}

// progress prints a status line per tick, and resident memory when the count passes a mark.
func progress(name string, rss func() int64, detail func() string, marks []int64) func(int64, time.Duration) {
	var last int64
	var lastT time.Duration
	return func(done int64, elapsed time.Duration) {
		rate := float64(done-last) / (elapsed - lastT).Seconds()
		line := fmt.Sprintf("  %s %6.1fs: %d txns (%.0f/s now)", name, elapsed.Seconds(), done, rate)
		if rss != nil {
			line += fmt.Sprintf(", rss %.1f MiB", float64(rss())/(1<<20))
		}
		if detail != nil {
			line += ", " + detail()
		}
		fmt.Println(line)
		for len(marks) > 0 && done >= marks[0] {
			fmt.Printf("  rss at %d txns: %.1f MiB\n", marks[0], float64(rss())/(1<<20))
			marks = marks[1:]
		}
		last, lastT = done, elapsed
	}
}

// selfRSS reads this process's resident set size from /proc.
func selfRSS() int64 { return procStatus("VmRSS:") }

// procStatus reads one kB field of /proc/self/status, in bytes.
func procStatus(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// metricsRSS reads a shim's resident memory from its /metrics.
func metricsRSS(shim string) func() int64 {
	return func() int64 {
		resp, err := http.Get(strings.TrimRight(shim, "/") + "/metrics")
		if err != nil {
			return 0
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "process_resident_memory_bytes "); ok {
				f, _ := strconv.ParseFloat(v, 64)
				return int64(f)
			}
		}
		return 0
	}
}

// inProcessMemory describes the Go heap in use and the size of the store's file.
func inProcessMemory(dbFile string) func() string {
	return func() string {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		var size int64
		if fi, err := os.Stat(dbFile); err == nil {
			size = fi.Size()
		}
		return fmt.Sprintf("anon %.1f MiB, file-backed %.1f MiB, heap in use %.1f MiB, store file %.1f MiB",
			mib(procStatus("RssAnon:")), mib(procStatus("RssFile:")), mib(int64(ms.HeapInuse)), mib(size))
	}
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("memprofile: %w", err)
	}
	defer f.Close()
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		return fmt.Errorf("memprofile: %w", err)
	}
	return nil
}

// suite runs the whole suite (--out) and writes the report folder.
func (b *benchCmd) suite(ctx context.Context) error {
	switch {
	case b.shim != "":
		return usage("--out starts its own shims: drop --shim")
	case b.opts.Txns > 0:
		return usage("--out runs by time: drop --txns")
	case b.baseline != "store":
		return usage("--out compares with DynamoDB transactions on every dynamodb:// store: drop --baseline")
	case b.rssMarks != "" || b.memProf != "":
		return usage("--rss-at and --memprofile are for runs without --out")
	}
	fractions, err := parseFractions(b.rates)
	if err != nil {
		return err
	}
	closed, open, crash, killAt := b.opts.Duration, b.openDur, b.crashDur, b.killAt
	if b.quick { // the flags given on the command line still win
		closed, open, crash, killAt = b.pick("duration", closed, 4*time.Second), b.pick("open-duration", open, 3*time.Second),
			b.pick("crash-duration", crash, 10*time.Second), b.pick("kill-at", killAt, 4*time.Second)
	}
	if crash > 0 && (killAt <= 0 || killAt >= crash) {
		return usage("--kill-at %v must fall inside --crash-duration %v", killAt, crash)
	}
	stores := []string(b.stores)
	if len(stores) == 0 {
		stores = []string{""}
	}
	latencies := []time.Duration{0}
	extra := []time.Duration(b.latencies)
	if !b.given["store-latency"] {
		extra = []time.Duration{5 * time.Millisecond}
	}
	for _, l := range extra {
		if l > 0 && !slices.Contains(latencies, l) {
			latencies = append(latencies, l)
		}
	}
	bin, err := os.Executable()
	if err != nil {
		return fmt.Errorf("bench: find the aft binary for the kill -9 run: %w", err)
	}
	if err := os.MkdirAll(b.out, 0o755); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	dir := b.dataDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "aft-bench-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}
	logf, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	defer logf.Close()
	cfg := bench.SuiteConfig{
		Stores: stores, Latencies: latencies, Jitter: b.jitter, DataDir: dir, NoSync: b.noSync,
		Shape: b.opts.Shape, Clients: b.opts.Clients, Closed: closed, Open: open, RateFractions: fractions,
		Crash: crash, KillAt: killAt, Status: os.Stdout,
		ServeCommand: func(addr, dataDir, storeURL string) *exec.Cmd {
			args := []string{"serve", "--listen", addr, "--data-dir", dataDir, "--log-level", "warn"}
			if storeURL != "" {
				args = append(args, "--store", storeURL, "--create-store")
			}
			if b.noSync {
				args = append(args, "--no-sync")
			}
			cmd := exec.Command(bin, args...)
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, "AFT_") { // the flags alone configure it
					cmd.Env = append(cmd.Env, kv)
				}
			}
			cmd.Stdout, cmd.Stderr = logf, logf
			return cmd
		},
	}
	fmt.Printf("aft bench: %d store(s) x %d latenc(ies), closed loop %v, open loop %v at %v of aft's rate, kill -9 run %v; report in %s\n",
		len(stores), len(latencies), closed, open, fractions, crash, b.out)
	res, err := bench.RunSuite(ctx, cfg)
	if err != nil {
		return err
	}
	res.Command = commandLine(append([]string{"bench"}, b.args...)...)
	res.Quick = b.quick
	res.Notes = append(b.notes, res.Notes...)
	if err := writeResults(b.out, res); err != nil {
		return err
	}
	fmt.Printf("report: %s\n", filepath.Join(b.out, "report.md"))
	return nil
}

// pick returns def unless the flag name was given on the command line.
func (b *benchCmd) pick(name string, v, def time.Duration) time.Duration {
	if b.given[name] {
		return v
	}
	return def
}

// writeResults writes results.json, the CSV files and the report into dir.
func writeResults(dir string, res *bench.Results) error {
	if err := res.Save(filepath.Join(dir, "results.json")); err != nil {
		return err
	}
	if err := res.WriteCSV(dir); err != nil {
		return err
	}
	return bench.WriteReport(dir, res)
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
	if err := bench.Render(*in); err != nil {
		return err
	}
	fmt.Printf("report: %s\n", filepath.Join(folder.Dir(*in), folder.ReportFile))
	return nil
}

// benchCompare is `aft bench compare A B`: the ratios of B's results to A's, as markdown
// on stdout.
func benchCompare(args []string) error {
	if len(args) != 2 {
		return usage("compare: want two report folders (or results.json files): aft bench compare A B")
	}
	a, b, err := folder.LoadTwo(args[0], args[1], bench.Load)
	if err != nil {
		return err
	}
	fmt.Print(bench.Compare(a, b))
	return nil
}

// commandLine returns the command `aft words...` that made a run, as a shell would read it back,
// the secrets of any URL in it hidden (backend.Redact): a flag's value as --flag=VALUE or as
// the word after the flag.
func commandLine(words ...string) string {
	shown := []string{"aft"}
	for _, a := range words {
		if name, val, eq := strings.Cut(a, "="); eq && strings.HasPrefix(a, "-") {
			a = name + "=" + backend.Redact(val)
		} else {
			a = backend.Redact(a)
		}
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$&;|<>()*?`") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		shown = append(shown, a)
	}
	return strings.Join(shown, " ")
}

// parseFractions parses --rates: fractions above 0.
func parseFractions(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || v <= 0 || v > 10 {
			return nil, usage("--rates: bad fraction %q: want a number above 0, such as 0.5", f)
		}
		out = append(out, v)
	}
	return out, nil
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
