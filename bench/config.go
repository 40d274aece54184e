package bench

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aft-shim/aft/bench/mode"
	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/shim/backend"
)

// The baselines of a run without Out (Config.Baseline).
const (
	BaselineStore       = "store"                  // the same reads and writes straight on the store (DirectTxn)
	BaselineDynamoDBTxn = string(mode.DynamoDBTxn) // DynamoDB's own transactions (DynamoTxn)
)

// Config is a run of `aft bench`, as its flags give it (cmd/aft parses them into it).
// Without Out it is a single run: aft over HTTP, then the comparison, printed; with Out the
// whole suite (RunSuite) and a report folder. Execute validates it and runs it.
type Config struct {
	// Options are the shape, the clients and the bound of each run; ProgressEvery is the
	// interval of the progress lines of a single run (Progress is set by the run).
	Options
	Shim      string   // base URL of a running shim; "" starts one in process
	ShimNodes []string // more nodes of that shim on the same store: transactions spread over all
	// ShimOptions configure the clients of a single run's shim: the credentials that a
	// Shim run with --auth-file or TLS wants (client.Credentials). Not with Out.
	ShimOptions []client.Option
	Direct      bool            // a single run also runs the comparison
	Batches     bool            // a single run also runs aft in batches (AftBatchTxn)
	Rounds      int             // a single run runs its modes this many times, interleaved, and gives median ratios
	NoSync      bool            // in-process stores skip fsync
	DataDir     string          // where in-process stores live; "" is a temporary directory, removed after
	RSSAt       string          // comma-separated counts at which a single run prints resident memory
	MemProfile  string          // a single run writes a heap profile of the in-process shim here
	CPUProfile  string          // a single run writes a CPU profile of each of its runs: CPUProfile.MODE
	Stores      []string        // --store URLs ("" or none: a fresh embedded store); several need Out
	Baseline    string          // BaselineStore or BaselineDynamoDBTxn (single runs)
	Latencies   []time.Duration // injected store latencies; several need Out (default with Out: 5ms)
	Jitter      time.Duration   // plus a uniform random extra up to this

	Out           string        // the suite's report folder; "" is a single run
	Quick         bool          // the suite's short runs, for the durations not in Given
	OpenDuration  time.Duration // each open-loop run of the suite
	Rates         string        // the suite's open-loop rates: comma-separated fractions of aft's closed-loop throughput
	CrashDuration time.Duration // the load across a kill -9 and restart (0: none)
	KillAt        time.Duration // when, into that load, the shim gets SIGKILL
	Notes         []string      // lines for the report's notes
	// Given holds the names of the flags given on the command line: Quick and the default
	// latency of the suite do not override them.
	Given map[string]bool
	// Args are the words of the command line after `aft bench`, for the report (secrets
	// hidden, CommandLine).
	Args []string
	// Binary is the aft executable that the kill -9 run starts as `aft serve` (default:
	// this process's executable).
	Binary string
	// Stdout receives what the run prints (default os.Stdout).
	Stdout io.Writer

	marks     []int64   // RSSAt, parsed
	fractions []float64 // Rates, parsed
}

// ConfigError is a Config that cannot run: a bad flag value or combination. Its message
// names the flag to change.
type ConfigError struct{ msg string }

func (e *ConfigError) Error() string { return e.msg }

func configErr(format string, args ...any) error {
	return &ConfigError{fmt.Sprintf(format, args...)}
}

// Validate fills the defaults of c and rejects bad values and combinations, with a
// *ConfigError. With Quick, it sets the suite's durations not given on the command line
// to their quick values.
func (c *Config) Validate() error {
	if c.Stdout == nil {
		c.Stdout = os.Stdout
	}
	if c.Baseline == "" {
		c.Baseline = BaselineStore
	}
	if c.Duration <= 0 && c.Txns <= 0 {
		return configErr("set --duration or --txns")
	}
	if c.Rounds < 0 {
		return configErr("--rounds %d: want 1 or more", c.Rounds)
	}
	if s := c.Shape.Zipf; s != 0 && s <= 1 {
		return configErr("--zipf %v must be above 1 (or 0 for uniform)", s)
	}
	for _, st := range c.Stores {
		if err := backend.Check(st); err != nil {
			return configErr("--store: %v", err)
		}
	}
	if c.Baseline != BaselineStore && c.Baseline != BaselineDynamoDBTxn {
		return configErr("--baseline %q: want store or dynamodb-txn", c.Baseline)
	}
	if c.Out == "" {
		if len(c.Stores) > 1 || len(c.Latencies) > 1 {
			return configErr("several --store or --store-latency values need --out")
		}
		var err error
		c.marks, err = parseList(c.RSSAt, func(f string) (int64, error) {
			n, err := strconv.ParseInt(f, 10, 64)
			if err != nil || n <= 0 {
				return 0, configErr("--rss-at: bad count %q", f)
			}
			return n, nil
		})
		return err
	}
	return c.validateSuite()
}

// validateSuite is Validate of a run with Out.
func (c *Config) validateSuite() error {
	switch {
	case c.Shim != "" || len(c.ShimNodes) > 0:
		return configErr("--out starts its own shims: drop --shim and --shim-nodes")
	case len(c.ShimOptions) > 0:
		return configErr("--out starts its own shims, which want no token: drop --shim-token-file, --shim-ca and AFT_SHIM_TOKEN")
	case c.Txns > 0:
		return configErr("--out runs by time: drop --txns")
	case c.Baseline != BaselineStore:
		return configErr("--out compares with DynamoDB transactions on every dynamodb:// store: drop --baseline")
	case c.Rounds > 1:
		return configErr("--rounds is for runs without --out")
	case c.RSSAt != "" || c.MemProfile != "" || c.CPUProfile != "":
		return configErr("--rss-at, --memprofile and --cpuprofile are for runs without --out")
	}
	var err error
	c.fractions, err = parseList(c.Rates, func(f string) (float64, error) {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || v <= 0 || v > 10 {
			return 0, configErr("--rates: bad fraction %q: want a number above 0, such as 0.5", f)
		}
		return v, nil
	})
	if err != nil {
		return err
	}
	if c.Quick { // the flags given on the command line still win
		c.Duration, c.OpenDuration = c.pick("duration", c.Duration, 4*time.Second), c.pick("open-duration", c.OpenDuration, 3*time.Second)
		c.CrashDuration, c.KillAt = c.pick("crash-duration", c.CrashDuration, 10*time.Second), c.pick("kill-at", c.KillAt, 4*time.Second)
	}
	if c.CrashDuration > 0 && (c.KillAt <= 0 || c.KillAt >= c.CrashDuration) {
		return configErr("--kill-at %v must fall inside --crash-duration %v", c.KillAt, c.CrashDuration)
	}
	if len(c.Stores) == 0 {
		c.Stores = []string{""}
	}
	extra := c.Latencies
	if !c.Given["store-latency"] {
		extra = []time.Duration{5 * time.Millisecond}
	}
	c.Latencies = []time.Duration{0}
	for _, l := range extra {
		if l > 0 && !slices.Contains(c.Latencies, l) {
			c.Latencies = append(c.Latencies, l)
		}
	}
	return nil
}

// pick returns def unless the flag name was given on the command line.
func (c *Config) pick(name string, v, def time.Duration) time.Duration {
	if c.Given[name] {
		return v
	}
	return def
}

// store is the one store URL of a single run.
func (c *Config) store() string {
	if len(c.Stores) == 0 {
		return ""
	}
	return c.Stores[0]
}

// latency is the one injected latency of a single run.
func (c *Config) latency() time.Duration {
	if len(c.Latencies) == 0 {
		return 0
	}
	return c.Latencies[0]
}

// parseList parses the comma-separated values of s with parse, skipping empty ones.
func parseList[T any](s string, parse func(string) (T, error)) ([]T, error) {
	var out []T
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := parse(f)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
