package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
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
	opts.Progress = progressLines(c.Stdout, "aft", rss, detail, c.marks)
	aft, err := c.runMode(ctx, "aft over HTTP", "aft", opts, AftTxn(client.New(shim)))
	if err != nil {
		return err
	}
	if c.MemProfile != "" {
		if err := writeHeapProfile(c.MemProfile); err != nil {
			return err
		}
	}
	var batched Result
	if c.Batches {
		opts.Progress = progressLines(c.Stdout, "aft-batch", rss, detail, nil)
		batched, err = c.runMode(ctx, "aft in batches (begin with ops, commit)", "aft-batch", opts, AftBatchTxn(client.New(shim)))
		if err != nil {
			return err
		}
	}
	if !c.Direct {
		return nil
	}
	st, desc, err := sc.Open(ctx, "direct")
	if err != nil {
		return err
	}
	defer st.Close()
	fn := DirectTxn(st)
	name := "same work on the store"
	if c.Baseline == BaselineDynamoDBTxn {
		if fn, err = DynamoTxn(st, c.latency()); err != nil {
			return configErr("--baseline dynamodb-txn needs --store dynamodb://...")
		}
		name = "DynamoDB transactions"
	}
	fmt.Fprintf(c.Stdout, "comparison: %s (%s)\n", name, desc)
	opts.Progress = progressLines(c.Stdout, "direct", nil, nil, nil)
	res, err := c.runMode(ctx, name, "direct", opts, fn)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "ratio aft/store: throughput %.2fx, p50 latency %.2fx, p99 latency %.2fx\n",
		aft.TPS/res.TPS, float64(aft.P50)/float64(res.P50), float64(aft.P99)/float64(res.P99))
	if c.Batches {
		fmt.Fprintf(c.Stdout, "ratio aft in batches/store: throughput %.2fx, p50 latency %.2fx, p99 latency %.2fx\n",
			batched.TPS/res.TPS, float64(batched.P50)/float64(res.P50), float64(batched.P99)/float64(res.P99))
	}
	return nil
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

// runMode runs fn, under a CPU profile with CPUProfile (to CPUProfile.mode), and prints its
// result and what it cost per transaction: CPU and allocations of this process, and of
// the shim when it runs apart (Shim).
func (c *Config) runMode(ctx context.Context, name, mode string, opts Options, fn TxnFunc) (Result, error) {
	shim := c.Shim
	if mode == "direct" {
		shim = ""
	}
	meter := newCostMeter(shim)
	res, err := cpuProfiled(c.CPUProfile, mode, func() (Result, error) { return Run(ctx, opts, fn) })
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
