package main

import (
	"errors"
	"testing"
	"time"

	"github.com/aft-shim/aft/shim/serve"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		bad  bool
	}{
		{"512", 512, false}, {"4KiB", 4 << 10, false}, {"64MiB", 64 << 20, false}, {"1GiB", 1 << 30, false},
		{"2MB", 2e6, false}, {"7 B", 7, false}, {"", 0, true}, {"-1", 0, true}, {"1.5MiB", 0, true}, {"lots", 0, true},
		{"99999999999GiB", 0, true},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.bad)
		}
	}
}

func TestServeFlagsAndEnvironment(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		env       map[string]string
		check     func(c serve.Config) bool
		wantUsage bool
	}{
		{"defaults", nil, nil, func(c serve.Config) bool {
			return c.Listen == "127.0.0.1:7654" && c.DataDir == "./aft-data" && c.Store == "" && c.ShutdownTimeout == 10*time.Second &&
				c.BodyTimeout == 10*time.Second && c.BodyMinRate == 64<<10
		}, false},
		{"environment fills flags", nil, map[string]string{"AFT_DATA_DIR": "/tmp/x", "AFT_LISTEN": "127.0.0.1:1", "AFT_MAX_VALUE_SIZE": "1MiB"},
			func(c serve.Config) bool {
				return c.DataDir == "/tmp/x" && c.Listen == "127.0.0.1:1" && c.Txn.MaxValueSize == 1<<20
			}, false},
		{"command line wins", []string{"--data-dir", "/cli"}, map[string]string{"AFT_DATA_DIR": "/env"},
			func(c serve.Config) bool { return c.DataDir == "/cli" }, false},
		{"mem store", []string{"--store", "mem://"}, nil, func(c serve.Config) bool { return c.Store == "mem://" }, false},
		{"unknown flag", []string{"--nope"}, nil, nil, true},
		{"bad listen", []string{"--listen", "nowhere"}, nil, nil, true},
		{"bad store URL", []string{"--store", "ftp://x"}, nil, nil, true},
		{"bad env value", nil, map[string]string{"AFT_TXN_TIMEOUT": "soon"}, nil, true},
		{"bad size", []string{"--cache-size", "big"}, nil, nil, true},
		{"impossible limits", []string{"--max-value-size", "10MiB", "--max-txn-size", "1MiB"}, nil, nil, true},
		{"stray argument", []string{"extra"}, nil, nil, true},
		{"body bounds", []string{"--body-timeout", "3s"}, map[string]string{"AFT_BODY_MIN_RATE": "1MiB"},
			func(c serve.Config) bool { return c.BodyTimeout == 3*time.Second && c.BodyMinRate == 1<<20 }, false},
		{"negative body timeout", []string{"--body-timeout", "-1s"}, nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			cfg, err := (&serveCmd{}).config(tt.args)
			var ue *usageError
			if tt.wantUsage {
				if !errors.As(err, &ue) {
					t.Errorf("err = %v, want a usage error", err)
				}
				return
			}
			if err != nil || !tt.check(cfg) {
				t.Errorf("config %+v, err %v", cfg, err)
			}
		})
	}
}
