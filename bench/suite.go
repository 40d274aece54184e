package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/report/folder"
	"github.com/aft-shim/aft/shim/store"
	"github.com/prometheus/client_golang/prometheus"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// SuiteConfig configures a whole bench run, as `aft bench --out` makes it: for every store
// and every injected latency, closed- and open-loop loads of the shim's API and of the
// gateway path, aft against plain; then per store, a kill -9 and restart of a shim process.
type SuiteConfig struct {
	Stores    []string        // store URLs; "" is the embedded store
	Latencies []time.Duration // injected store latencies, each a configuration per store
	Jitter    time.Duration   // plus a random extra up to this
	DataDir   string          // where in-process stores live
	NoSync    bool            // in-process embedded stores skip fsync
	Shape     Shape
	Clients   int           // closed-loop callers
	Closed    time.Duration // length of each closed-loop run
	Open      time.Duration // length of each open-loop run
	// Warmup is how long aft and plain run, unrecorded, on fresh stores before the first
	// run of a configuration (default 1s), so that no mode pays alone for filling the
	// key space and growing the stores' files.
	Warmup time.Duration
	// RateFractions are the offered rates of the open-loop runs, as fractions of the
	// closed-loop aft throughput of the same scenario and configuration.
	RateFractions []float64
	// Crash is the length of the load across a kill -9 and restart, with the kill at
	// KillAt; 0, or a nil ServeCommand, skips it.
	Crash, KillAt time.Duration
	// ServeCommand returns the command of a shim process serving on addr over the store
	// storeURL (data in dataDir for the embedded store), with no injected latency.
	ServeCommand func(addr, dataDir, storeURL string) *exec.Cmd
	// Status receives the progress lines (nil: none).
	Status io.Writer
}

// RunSuite runs the suite and returns its results, without Command, which the caller
// knows.
func RunSuite(ctx context.Context, cfg SuiteConfig) (*Results, error) {
	if cfg.Clients <= 0 {
		cfg.Clients = 16
	}
	if cfg.Status == nil {
		cfg.Status = io.Discard
	}
	if cfg.Warmup == 0 {
		cfg.Warmup = time.Second
	}
	s := &suite{cfg: cfg, res: &Results{Schema: SchemaVersion, Started: time.Now(), Shape: cfg.Shape, Machine: folder.ThisMachine()}}
	s.res.Machine.LoadBefore = folder.LoadAverage()
	s.total = len(cfg.Stores) * len(cfg.Latencies) * (5 + 4*len(cfg.RateFractions)) // api: aft, plain, aft-batch
	for _, url := range cfg.Stores {
		if BackendName(url) == "dynamodb" {
			s.total += len(cfg.Latencies) // a closed-loop run with DynamoDB's transactions
		}
	}
	for i, url := range cfg.Stores {
		for j, lat := range cfg.Latencies {
			sc := StoreConfig{URL: url, DataDir: filepath.Join(cfg.DataDir, fmt.Sprintf("s%d-l%d", i, j)), NoSync: cfg.NoSync, Latency: lat, Jitter: cfg.Jitter}
			if err := s.configuration(ctx, sc); err != nil {
				return s.res, err
			}
		}
	}
	if cfg.Crash > 0 && cfg.ServeCommand != nil {
		for i, url := range cfg.Stores {
			if BackendName(url) == "mem" {
				s.res.Notes = append(s.res.Notes, "no kill -9 and restart run on mem://: its data does not outlive the process")
				continue
			}
			if err := s.crash(ctx, url, filepath.Join(cfg.DataDir, fmt.Sprintf("crash-%d", i))); err != nil {
				return s.res, err
			}
		}
	} else {
		s.res.Notes = append(s.res.Notes, "no kill -9 and restart run (the shim is not a process of this run)")
	}
	s.res.Finished = time.Now()
	s.res.Machine.LoadAfter = folder.LoadAverage()
	return s.res, nil
}

type suite struct {
	cfg   SuiteConfig
	res   *Results
	n     int // runs done
	total int
}

func (s *suite) statusf(format string, args ...any) {
	fmt.Fprintf(s.cfg.Status, format+"\n", args...)
}

// label names a configuration in status lines.
func label(sc StoreConfig) string {
	return fmt.Sprintf("%s +%v", BackendName(sc.URL), sc.Latency)
}

// modeFn is the transaction of one mode.
type modeFn struct {
	mode string
	fn   TxnFunc
}

// configuration runs every load of one store and latency.
func (s *suite) configuration(ctx context.Context, sc StoreConfig) error {
	shim, desc, err := sc.OpenShim(ctx, "aft")
	if err != nil {
		return err
	}
	defer shim.Close()
	plain, _, err := sc.Open(ctx, "plain")
	if err != nil {
		return err
	}
	defer plain.Close()
	s.statusf("== %s (%s): shim on %s", label(sc), desc, shim.URL)

	lc := LoadClient(s.cfg.Clients)
	aftClient := client.New(shim.URL, client.WithHTTPClient(lc))
	if cfg := s.cfg; cfg.Warmup > 0 {
		s.statusf("  warming up: aft and plain for %v each", cfg.Warmup)
		for _, fn := range []TxnFunc{AftTxn(aftClient), DirectTxn(plain)} {
			if _, err := Run(ctx, Options{Shape: cfg.Shape, Clients: cfg.Clients, Duration: cfg.Warmup}, fn); err != nil {
				return fmt.Errorf("%s: warm up: %w", label(sc), err)
			}
		}
	}
	base := Record{Backend: BackendName(sc.URL), StoreLatencyMS: ms(sc.Latency)}
	if err := s.api(ctx, sc, base, aftClient, plain); err != nil {
		return err
	}
	mwReg := prometheus.NewRegistry()
	if err := s.gateway(ctx, sc, base, shim.URL, plain, mwReg, lc); err != nil {
		return err
	}
	s.res.Metrics = append(s.res.Metrics, scrape(shim.Registry, "shim", base.Backend, sc.Latency)...)
	s.res.Metrics = append(s.res.Metrics, scrape(mwReg, "middleware", base.Backend, sc.Latency)...)
	return nil
}

// api runs the loads of the shim's API: closed loop per mode, then open loop at fractions
// of aft's closed-loop throughput.
func (s *suite) api(ctx context.Context, sc StoreConfig, base Record, c *client.Client, plain store.Store) error {
	steps := new(Steps)
	aftFn := AftTxnSteps(c, steps)
	modes := []modeFn{{ModeAft, aftFn}, {ModePlain, DirectTxn(plain)}, {ModeAftBatch, AftBatchTxn(c)}}
	if dt, err := DynamoTxn(plain, sc.Latency); err == nil {
		modes = append(modes, modeFn{ModeDynamoDBTxn, dt})
	}
	var aftTPS float64
	for _, m := range modes {
		r, err := s.closed(ctx, sc, base, ScenarioAPI, m.mode, m.fn)
		if err != nil {
			return err
		}
		if m.mode == ModeAft {
			aftTPS = r.Throughput
			r.Steps = steps.Summary() // of the closed-loop run only
		}
		s.res.Runs = append(s.res.Runs, r)
	}
	for _, f := range s.cfg.RateFractions {
		for _, m := range modes[:2] {
			tr := ShapeTargeter(TxnScheme+"://shim/", s.cfg.Shape, int64(s.n)+1)
			hc := &http.Client{Transport: &TxnTransport{Fn: m.fn}}
			r, err := s.open(ctx, sc, base, ScenarioAPI, m.mode, f, aftTPS, tr, hc)
			if err != nil {
				return err
			}
			s.res.Runs = append(s.res.Runs, r)
		}
	}
	return nil
}

// gateway runs the loads of the invocation path: the function through the middleware and
// the shim (aft), and the same function called directly, on the store (plain). The
// middleware's metrics go to reg.
func (s *suite) gateway(ctx context.Context, sc StoreConfig, base Record, shimURL string, plain store.Store, reg *prometheus.Registry, hc *http.Client) error {
	fn, err := Serve(ShapeFunction(plain))
	if err != nil {
		return err
	}
	defer fn.Close()
	gw, mw, err := Gateway(shimURL, fn.URL, reg)
	if err != nil {
		return err
	}
	defer func() {
		gw.Close()
		wctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		mw.Wait(wctx)
	}()
	urls := []struct{ mode, url string }{{ModeAft, gw.URL + "/"}, {ModePlain, fn.URL + "/"}}
	var gwTPS float64
	for _, u := range urls {
		om := startOverhead(reg)
		r, err := s.closed(ctx, sc, base, ScenarioGateway, u.mode, HTTPTxn(hc, u.url))
		if err != nil {
			return err
		}
		if u.mode == ModeAft {
			gwTPS, r.OverheadMS = r.Throughput, om.meanMS()
		}
		s.res.Runs = append(s.res.Runs, r)
	}
	for _, f := range s.cfg.RateFractions {
		for _, u := range urls {
			tr := ShapeTargeter(u.url, s.cfg.Shape, int64(s.n)+1)
			om := startOverhead(reg)
			r, err := s.open(ctx, sc, base, ScenarioGateway, u.mode, f, gwTPS, tr, hc)
			if err != nil {
				return err
			}
			if u.mode == ModeAft {
				r.OverheadMS = om.meanMS()
			}
			s.res.Runs = append(s.res.Runs, r)
		}
	}
	return nil
}

// closed runs one closed-loop load.
func (s *suite) closed(ctx context.Context, sc StoreConfig, base Record, scenario, mode string, fn TxnFunc) (Record, error) {
	s.n++
	name := fmt.Sprintf("[%d/%d] %s: %s %s closed loop, %d clients", s.n, s.total, label(sc), scenario, mode, s.cfg.Clients)
	s.statusf("%s, %v", name, s.cfg.Closed)
	res, err := Run(ctx, Options{
		Shape: s.cfg.Shape, Clients: s.cfg.Clients, Duration: s.cfg.Closed,
		Progress: s.progress(name), ProgressEvery: 2 * time.Second,
	}, fn)
	if err != nil {
		return Record{}, fmt.Errorf("%s: %w", name, err)
	}
	r := base
	r.Scenario, r.Mode, r.Loop, r.Clients = scenario, mode, LoopClosed, s.cfg.Clients
	r.DurationS, r.Requests, r.Successes, r.Errors = res.Elapsed.Seconds(), res.Txns+res.Errors, res.Txns, res.Errors
	r.Throughput, r.Latency, r.CDF = res.TPS, res.Latency(), res.CDF()
	if res.LastErr != nil {
		r.LastError = res.LastErr.Error()
	}
	s.statusf("  -> %.0f/s, p50 %.2f ms, p99 %.2f ms, %d errors", r.Throughput, r.Latency.P50, r.Latency.P99, r.Errors)
	return r, nil
}

// open runs one open-loop load at fraction of ref requests per second.
func (s *suite) open(ctx context.Context, sc StoreConfig, base Record, scenario, mode string, fraction, ref float64, tr vegeta.Targeter, hc *http.Client) (Record, error) {
	s.n++
	rate := max(1, fraction*ref)
	name := fmt.Sprintf("[%d/%d] %s: %s %s open loop, %.0f/s (%.0f%% of aft's closed-loop rate)", s.n, s.total, label(sc), scenario, mode, rate, fraction*100)
	s.statusf("%s, %v", name, s.cfg.Open)
	res, err := Attack(ctx, tr, hc, OpenOptions{Rate: rate, Duration: s.cfg.Open, Progress: s.progress(name), ProgressEvery: 2 * time.Second})
	if err != nil {
		return Record{}, fmt.Errorf("%s: %w", name, err)
	}
	r := base
	r.Scenario, r.Mode, r.Loop, r.RateFraction, r.RateOffered = scenario, mode, LoopOpen, fraction, float64(int(rate+0.5))
	r.DurationS, r.Requests, r.Successes, r.Errors, r.Retried = res.Elapsed.Seconds(), res.Requests, res.Successes, res.Errors, res.Retried
	r.Throughput, r.Latency, r.CDF, r.Codes, r.LastError = res.Throughput(), res.lat.summary(), res.lat.cdf(), res.Codes, res.LastErr
	s.statusf("  -> %.0f/s of %.0f/s offered, p50 %.2f ms, p99 %.2f ms, %d errors", r.Throughput, r.RateOffered, r.Latency.P50, r.Latency.P99, r.Errors)
	return r, nil
}

// progress returns a Progress callback that prints a status line of the run name.
func (s *suite) progress(name string) func(int64, time.Duration) {
	var last int64
	var lastT time.Duration
	short, _, _ := strings.Cut(name, ",")
	return func(done int64, elapsed time.Duration) {
		if elapsed-lastT < time.Second/2 {
			return // the last line of a run right after a tick
		}
		fmt.Fprintf(s.cfg.Status, "  %s %5.1fs: %d ok (%.0f/s now)\n", short, elapsed.Seconds(), done, float64(done-last)/(elapsed-lastT).Seconds())
		last, lastT = done, elapsed
	}
}

// crash runs the kill -9 and restart load on one store.
func (s *suite) crash(ctx context.Context, storeURL, dataDir string) error {
	backend := BackendName(storeURL)
	s.statusf("== %s: kill -9 and restart of an aft serve process under load, %v, SIGKILL at %v", backend, s.cfg.Crash, s.cfg.KillAt)
	rec, err := CrashRestart(ctx, CrashOptions{
		Command:  func(addr string) *exec.Cmd { return s.cfg.ServeCommand(addr, dataDir, storeURL) },
		Shape:    s.cfg.Shape,
		Clients:  s.cfg.Clients,
		Duration: s.cfg.Crash,
		KillAt:   s.cfg.KillAt,
		Status:   func(f string, a ...any) { s.statusf("  "+f, a...) },
	})
	if err != nil {
		return fmt.Errorf("%s: %w", backend, err)
	}
	rec.Backend = backend
	s.statusf("  -> %.0f/s before, recovered in %.0f ms (restart %.0f ms), %.0f/s after", rec.BeforeTPS, rec.RecoveryMS, rec.RestartMS, rec.AfterTPS)
	s.res.Recoveries = append(s.res.Recoveries, rec)
	return nil
}
