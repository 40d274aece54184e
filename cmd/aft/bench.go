package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aft-shim/aft/bench"
	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/shim/backend"
	"github.com/aft-shim/aft/shim/server"
	"github.com/aft-shim/aft/shim/store"
	"github.com/aft-shim/aft/shim/store/dynamodb"
	"github.com/aft-shim/aft/shim/store/faults"
	"github.com/aft-shim/aft/shim/txn"
	"github.com/prometheus/client_golang/prometheus"
)

// benchCmd runs the paper's transaction shape through aft over HTTP and, for comparison,
// the same work straight on the embedded store, in one run.
type benchCmd struct {
	shim     string
	opts     bench.Options
	direct   bool
	noSync   bool
	dataDir  string
	every    time.Duration
	rssMarks string
	memProf  string
	latency  time.Duration
	jitter   time.Duration
	store    string
	baseline string
}

func (b *benchCmd) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	s := &b.opts.Shape
	*s = bench.PaperShape
	fs.StringVar(&b.shim, "shim", "", "base URL of a running shim (empty: start one in-process on a fresh embedded store)")
	fs.IntVar(&b.opts.Clients, "clients", 16, "concurrent clients (closed loop)")
	fs.DurationVar(&b.opts.Duration, "duration", 10*time.Second, "length of each run")
	fs.Int64Var(&b.opts.Txns, "txns", 0, "stop each run after this many transactions (0: duration only)")
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
	fs.StringVar(&b.store, "store", "", "storage of the in-process shim and of the comparison, a --store URL of aft serve (default: a fresh embedded store)")
	fs.StringVar(&b.baseline, "baseline", "store", "what aft is compared with: store (the same reads and writes straight on the store) or dynamodb-txn (DynamoDB's TransactWriteItems and TransactGetItems)")
	fs.DurationVar(&b.latency, "store-latency", 0, "in-process stores: add this latency to every storage call")
	fs.DurationVar(&b.jitter, "store-jitter", 0, "in-process stores: plus a uniform random extra up to this")
	fs.StringVar(&b.memProf, "memprofile", "", "write a heap profile of the in-process shim to this file after the aft run")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if b.opts.Duration <= 0 && b.opts.Txns <= 0 {
		return usage("set --duration or --txns")
	}
	if s.Zipf != 0 && s.Zipf <= 1 {
		return usage("--zipf %v must be above 1 (or 0 for uniform)", s.Zipf)
	}
	if err := backend.Check(b.store); err != nil {
		return usage("--store: %v", err)
	}
	if b.baseline != "store" && b.baseline != "dynamodb-txn" {
		return usage("--baseline %q: want store or dynamodb-txn", b.baseline)
	}
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
	shim, rss := b.shim, selfRSS
	if shim == "" {
		st, _, err := b.open(ctx, dir+"/aft")
		if err != nil {
			return err
		}
		stop, addr, err := startShim(ctx, st)
		if err != nil {
			return err
		}
		defer stop()
		shim = "http://" + addr
	} else {
		rss = metricsRSS(shim)
	}
	fmt.Printf("shape: %d writes then %d reads, %d-byte values, %d keys, zipf %.2f, %d clients, fsync %v, store latency %v (+%v jitter)\n",
		s.Writes, s.Reads, s.ValueSize, s.Keys, s.Zipf, b.opts.Clients, !b.noSync, b.latency, b.jitter)

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
	st, desc, err := b.open(ctx, dir+"/direct")
	if err != nil {
		return err
	}
	defer st.Close()
	fn := bench.DirectTxn(st)
	name := "same work on the store"
	if b.baseline == "dynamodb-txn" {
		if fn, err = b.dynamoTxn(st); err != nil {
			return err
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

func (b *benchCmd) faults() faults.Options {
	return faults.Options{Latency: b.latency, Jitter: b.jitter}
}

// open opens the store of the run (a fresh embedded one in dir by default) with the
// injected latency.
func (b *benchCmd) open(ctx context.Context, dir string) (store.Store, string, error) {
	st, desc, err := backend.Open(ctx, b.store, backend.Options{DataDir: dir, CreateStore: true, NoSync: b.noSync})
	if err != nil {
		return nil, "", err
	}
	if b.latency > 0 || b.jitter > 0 {
		st, _ = faults.Wrap(st, b.faults())
	}
	return st, desc, nil
}

// dynamoTxn is the work of one transaction done with DynamoDB's own transactions: the
// writes in one TransactWriteItems, the reads in one TransactGetItems. The injected
// latency is added to each of the two round trips.
func (b *benchCmd) dynamoTxn(st store.Store) (bench.TxnFunc, error) {
	var ds *dynamodb.Store
	switch s := st.(type) {
	case *dynamodb.Store:
		ds = s
	case interface{ Unwrap() store.Store }:
		ds, _ = s.Unwrap().(*dynamodb.Store)
	}
	if ds == nil {
		return nil, usage("--baseline dynamodb-txn needs --store dynamodb://...")
	}
	return func(ctx context.Context, writeKeys, readKeys []string, value []byte) error {
		// A DynamoDB transaction may not name one item twice, and Zipf draws repeat keys.
		var items []store.Item
		for _, k := range unique(writeKeys) {
			items = append(items, store.Item{Key: "d/" + k, Value: value})
		}
		var reads []string
		for _, k := range unique(readKeys) {
			reads = append(reads, "d/"+k)
		}
		time.Sleep(2 * b.latency)
		_, err := ds.Transact(ctx, items, reads)
		return err
	}, nil
}

// startShim runs a shim in this process over st, which it closes when stopped.
func startShim(ctx context.Context, st store.Store) (stop func(), addr string, err error) {
	m, err := txn.New(ctx, st, txn.Config{})
	if err != nil {
		st.Close()
		return nil, "", err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		m.Close()
		st.Close()
		return nil, "", err
	}
	srv := &http.Server{Handler: server.New(m, prometheus.NewRegistry(), nil)}
	go srv.Serve(ln)
	return func() { srv.Close(); m.Close(); st.Close() }, ln.Addr().String(), nil
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

// unique returns keys without repeats, in order.
func unique(keys []string) []string {
	var out []string
	for _, k := range keys {
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}
