package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/shim/backend"
)

// Execute validates c and runs it: the suite and its report folder with Out, a single run
// otherwise. A *ConfigError means c must change.
func Execute(ctx context.Context, c Config) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if c.Out != "" {
		return runSuiteCommand(ctx, &c)
	}
	return single(ctx, &c)
}

// single is a run without Out: aft over HTTP, then the comparison, printed.
func single(ctx context.Context, c *Config) error {
	s := &c.Shape
	dir, cleanup, err := dataDir(c.DataDir)
	if err != nil {
		return err
	}
	defer cleanup()
	sc := StoreConfig{URL: c.store(), DataDir: dir, NoSync: c.NoSync, Latency: c.latency(), Jitter: c.Jitter}
	shim, rss := c.Shim, selfRSS
	if shim == "" {
		srv, _, err := sc.OpenShim(ctx, "aft")
		if err != nil {
			return err
		}
		defer srv.Close()
		shim = srv.URL
	} else {
		rss = shimRSS(shim)
	}
	fmt.Fprintf(c.Stdout, "shape: %d writes then %d reads, %d-byte values, %d keys, zipf %.2f, %d clients, fsync %v, store latency %v (+%v jitter)\n",
		s.Writes, s.Reads, s.ValueSize, s.Keys, s.Zipf, c.Clients, !c.NoSync, c.latency(), c.Jitter)

	opts := c.Options
	var detail func() string
	if c.Shim == "" {
		detail = inProcessMemory(filepath.Join(dir, "aft", backend.DataFile))
	}
	copts := append([]client.Option{client.WithNodes(c.ShimNodes...)}, c.ShimOptions...)
	modes := []singleMode{{name: "aft over HTTP", mode: "aft", fn: AftTxn(client.New(shim, copts...)), rss: rss, marks: c.marks}}
	if c.Batches {
		modes = append(modes, singleMode{name: "aft in batches (begin with ops, commit)", mode: "aft-batch", fn: AftBatchTxn(client.New(shim, copts...)), rss: rss})
	}
	if c.Direct {
		st, desc, err := sc.Open(ctx, "direct")
		if err != nil {
			return err
		}
		defer st.Close()
		m := singleMode{name: "same work on the store", mode: "direct", fn: DirectTxn(st)}
		if c.Baseline == BaselineDynamoDBTxn {
			if m.fn, err = DynamoTxn(st, c.latency()); err != nil {
				return configErr("--baseline dynamodb-txn needs --store dynamodb://...")
			}
			m.name = "DynamoDB transactions"
		}
		fmt.Fprintf(c.Stdout, "comparison: %s (%s)\n", m.name, desc)
		modes = append(modes, m)
	}
	rounds := max(c.Rounds, 1)
	results := make([][]Result, len(modes)) // by mode, by round
	for round := range rounds {
		if rounds > 1 {
			fmt.Fprintf(c.Stdout, "round %d of %d\n", round+1, rounds)
		}
		for i, m := range modes {
			opts.Progress = progressLines(c.Stdout, m.mode, m.rss, detail, m.marks)
			if m.mode == "direct" {
				opts.Progress = progressLines(c.Stdout, m.mode, nil, nil, nil)
			}
			profile := c.CPUProfile
			if round > 0 {
				profile = "" // the first round's
			}
			res, err := c.runMode(ctx, m.name, m.mode, profile, opts, m.fn)
			if err != nil {
				return err
			}
			results[i] = append(results[i], res)
			if m.mode == "aft" && round == 0 && c.MemProfile != "" {
				if err := writeHeapProfile(c.MemProfile); err != nil {
					return err
				}
			}
		}
		modes[0].marks = nil
	}
	if !c.Direct {
		return nil
	}
	base := results[len(modes)-1]
	for i, label := range []string{"aft/store", "aft in batches/store"}[:len(modes)-1] {
		fmt.Fprintf(c.Stdout, "%sratio %s: %s\n", medianOf(rounds), label, ratios(results[i], base))
	}
	return nil
}

// singleMode is one kind of run of a single run.
type singleMode struct {
	name, mode string
	fn         TxnFunc
	rss        func() int64 // resident memory of the shim, for the progress lines
	marks      []int64      // RSSAt
}

// medianOf prefixes the ratios of several rounds.
func medianOf(rounds int) string {
	if rounds == 1 {
		return ""
	}
	return fmt.Sprintf("median of %d rounds, ", rounds)
}

// ratios describes the ratios of runs to base runs, round by round: throughput, p50 and
// p99 latency, as medians over the rounds (with their range when there are several).
func ratios(runs, base []Result) string {
	var tps, p50, p99 []float64
	for i := range runs {
		tps = append(tps, runs[i].TPS/base[i].TPS)
		p50 = append(p50, float64(runs[i].P50)/float64(base[i].P50))
		p99 = append(p99, float64(runs[i].P99)/float64(base[i].P99))
	}
	f := func(v []float64) string {
		slices.Sort(v)
		s := fmt.Sprintf("%.2fx", v[len(v)/2])
		if len(v) > 1 {
			s += fmt.Sprintf(" (%.2f-%.2f)", v[0], v[len(v)-1])
		}
		return s
	}
	return fmt.Sprintf("throughput %s, p50 latency %s, p99 latency %s", f(tps), f(p50), f(p99))
}

// dataDir returns dir, or a fresh temporary directory that cleanup removes.
func dataDir(dir string) (string, func(), error) {
	if dir != "" {
		return dir, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "aft-bench-")
	if err != nil {
		return "", nil, err
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}

// runMode runs fn, under a CPU profile with profile (to profile.mode), and prints its
// result and what it cost per transaction: CPU and allocations of this process, and of
// the shim when it runs apart (Shim).
func (c *Config) runMode(ctx context.Context, name, mode, profile string, opts Options, fn TxnFunc) (Result, error) {
	shim := c.Shim
	if mode == "direct" {
		shim = ""
	}
	meter := newCostMeter(shim)
	res, err := cpuProfiled(profile, mode, func() (Result, error) { return Run(ctx, opts, fn) })
	if err != nil {
		return res, err
	}
	printResult(c.Stdout, name, res)
	fmt.Fprintf(c.Stdout, "%-24s per txn: %s\n", "", meter.perTxn(res.Txns+res.Errors))
	return res, nil
}

func printResult(w io.Writer, name string, r Result) {
	fmt.Fprintf(w, "%-24s %s\n", name+":", r)
	if r.LastErr != nil {
		fmt.Fprintf(w, "%-24s last error: %v\n", "", r.LastErr)
	}
}

// progressLines returns a Progress callback that prints a status line per tick to w, with
// resident memory (rss, if not nil) and detail (if not nil), and resident memory when the
// count passes a mark.
func progressLines(w io.Writer, name string, rss func() int64, detail func() string, marks []int64) func(int64, time.Duration) {
	var last int64
	var lastT time.Duration
	return func(done int64, elapsed time.Duration) {
		rate := float64(done-last) / (elapsed - lastT).Seconds()
		line := fmt.Sprintf("  %s %6.1fs: %d txns (%.0f/s now)", name, elapsed.Seconds(), done, rate)
		if rss != nil {
			line += fmt.Sprintf(", rss %.1f MiB", mib(rss()))
		}
		if detail != nil {
			line += ", " + detail()
		}
		fmt.Fprintln(w, line)
		for len(marks) > 0 && done >= marks[0] {
			fmt.Fprintf(w, "  rss at %d txns: %.1f MiB\n", marks[0], mib(rss()))
			marks = marks[1:]
		}
		last, lastT = done, elapsed
	}
}
