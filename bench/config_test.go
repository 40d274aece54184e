package bench

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// flagDefaults is a Config as `aft bench` gives it with no flags.
func flagDefaults() Config {
	return Config{
		Options: Options{Shape: PaperShape, Clients: 16, Duration: 10 * time.Second, ProgressEvery: 2 * time.Second},
		Direct:  true, Baseline: BaselineStore, OpenDuration: 10 * time.Second, Rates: "0.5,0.9",
		CrashDuration: 20 * time.Second, KillAt: 8 * time.Second, Given: map[string]bool{},
	}
}

func TestValidateRejects(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no bound", func(c *Config) { c.Duration = 0 }, "set --duration or --txns"},
		{"zipf", func(c *Config) { c.Shape.Zipf = 0.5 }, "--zipf 0.5 must be above 1 (or 0 for uniform)"},
		{"baseline", func(c *Config) { c.Baseline = "x" }, `--baseline "x": want store or dynamodb-txn`},
		{"several stores", func(c *Config) { c.Stores = []string{"mem://", "mem://"} }, "several --store or --store-latency values need --out"},
		{"rss-at", func(c *Config) { c.RSSAt = "5,x" }, `--rss-at: bad count "x"`},
		{"out with shim", func(c *Config) { c.Out, c.Shim = "r", "http://x" }, "--out starts its own shims: drop --shim and --shim-nodes"},
		{"out with shim nodes", func(c *Config) { c.Out, c.ShimNodes = "r", []string{"http://x"} }, "--out starts its own shims: drop --shim and --shim-nodes"},
		{"out with txns", func(c *Config) { c.Out, c.Txns = "r", 5 }, "--out runs by time: drop --txns"},
		{"out with rounds", func(c *Config) { c.Out, c.Rounds = "r", 3 }, "--rounds is for runs without --out"},
		{"negative rounds", func(c *Config) { c.Rounds = -1 }, "--rounds -1: want 1 or more"},
		{"out with rss-at", func(c *Config) { c.Out, c.RSSAt = "r", "5" }, "--rss-at, --memprofile and --cpuprofile are for runs without --out"},
		{"rates", func(c *Config) { c.Out, c.Rates = "r", "0" }, `--rates: bad fraction "0": want a number above 0, such as 0.5`},
		{"kill-at", func(c *Config) { c.Out, c.Quick, c.KillAt = "r", true, 20*time.Second; c.Given["kill-at"] = true },
			"--kill-at 20s must fall inside --crash-duration 10s"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := flagDefaults()
			c.edit(&cfg)
			err := cfg.Validate()
			var ce *ConfigError
			if !errors.As(err, &ce) || err.Error() != c.want {
				t.Errorf("Validate() = %v, want the ConfigError %q", err, c.want)
			}
		})
	}
}

// TestValidateSuite checks the suite's defaults: quick durations for the flags not given,
// runs without latency and with 5ms, the embedded store.
func TestValidateSuite(t *testing.T) {
	c := flagDefaults()
	c.Out, c.Quick, c.OpenDuration, c.Given["open-duration"] = "r", true, time.Second, true
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Duration != 4*time.Second || c.OpenDuration != time.Second || c.CrashDuration != 10*time.Second || c.KillAt != 4*time.Second {
		t.Errorf("durations %v %v %v %v, want 4s 1s 10s 4s", c.Duration, c.OpenDuration, c.CrashDuration, c.KillAt)
	}
	if want := []time.Duration{0, 5 * time.Millisecond}; !slices.Equal(c.Latencies, want) {
		t.Errorf("latencies %v, want %v", c.Latencies, want)
	}
	if !slices.Equal(c.Stores, []string{""}) || !slices.Equal(c.fractions, []float64{0.5, 0.9}) {
		t.Errorf("stores %q, fractions %v; want the embedded store, [0.5 0.9]", c.Stores, c.fractions)
	}
}
