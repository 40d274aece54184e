package serve

import (
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		change  func(c *Config)
		wantErr string // "" for none
	}{
		{"defaults", func(*Config) {}, ""},
		{"mem store without data dir", func(c *Config) { c.Store, c.DataDir = "mem://", "" }, ""},
		{"bad listen", func(c *Config) { c.Listen = "nowhere" }, `--listen "nowhere": want host:port`},
		{"no data dir", func(c *Config) { c.DataDir = "" }, "--data-dir is empty"},
		{"bad store URL", func(c *Config) { c.Store = "ftp://x" }, "--store: bad store URL"},
		{"negative latency", func(c *Config) { c.StoreJitter = -time.Second }, "--store-latency and --store-jitter must not be negative"},
		{"negative body rate", func(c *Config) { c.BodyMinRate = -1 }, "--body-timeout and --body-min-rate must not be negative"},
		{"negative start timeout", func(c *Config) { c.StartTimeout = -time.Second }, "--start-timeout -1s must not be negative"},
		{"bad node id", func(c *Config) { c.Txn.Node = "a b" }, "--node-id: node id"},
		{"no shutdown time", func(c *Config) { c.ShutdownTimeout = 0 }, "--shutdown-timeout 0s must be positive"},
		{"bad log level", func(c *Config) { c.LogLevel = "loud" }, `--log-level "loud": want debug, info, warn or error`},
		{"impossible limits", func(c *Config) { c.Txn.MaxValueSize, c.Txn.MaxTxnBytes = 10<<20, 1<<20 }, "limits must satisfy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Defaults()
			tt.change(&c)
			err := c.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate() = %v, want no error", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Validate() = %v, want an error saying %q", err, tt.wantErr)
			}
		})
	}
}

// Validate fills the transaction manager's defaults, as the flags' help says them.
func TestValidateFillsTxnDefaults(t *testing.T) {
	c := Defaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Txn.IdleTimeout != 2*time.Minute || c.Txn.MaxValueSize != 4<<20 || c.Txn.MaxIdemKeys != c.Txn.MaxRunning {
		t.Errorf("txn config after Validate: %+v", c.Txn)
	}
}

// An --advertise made of an IPv6 pod IP, as Kubernetes substitutes $(POD_IP), gets its
// brackets: peers and functions dial it.
func TestValidateBracketsIPv6Advertise(t *testing.T) {
	c := Defaults()
	c.Advertise = "http://fd00:10:244::5:7654"
	if err := c.Validate(); err != nil || c.Advertise != "http://[fd00:10:244::5]:7654" {
		t.Errorf("Validate: %v, --advertise %q", err, c.Advertise)
	}
}

func TestLoggerLevel(t *testing.T) {
	var b strings.Builder
	c := Config{LogLevel: "warn"}
	log := c.Logger(&b)
	log.Info("hidden")
	log.Warn("shown")
	if got := b.String(); strings.Contains(got, "hidden") || !strings.Contains(got, "level=WARN msg=shown") {
		t.Errorf("log at warn wrote:\n%s", got)
	}
}
