package redis

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		name string
		url  string
		want Options // with defaults; TLS compared as present or not
		tls  bool
		desc string
	}{
		{"plain", "redis://127.0.0.1:6379/0", Options{Addrs: []string{"127.0.0.1:6379"}}, false,
			"redis 127.0.0.1:6379 db 0"},
		{"default port and db", "redis://localhost", Options{Addrs: []string{"localhost:6379"}}, false,
			"redis localhost:6379 db 0"},
		{"db", "redis://h:7000/15", Options{Addrs: []string{"h:7000"}, DB: 15}, false,
			"redis h:7000 db 15"},
		{"trailing slash", "redis://h:7000/", Options{Addrs: []string{"h:7000"}}, false,
			"redis h:7000 db 0"},
		{"ipv6", "redis://[::1]:6380/2", Options{Addrs: []string{"[::1]:6380"}, DB: 2}, false,
			"redis [::1]:6380 db 2"},
		{"ipv6 default port", "redis://[::1]/", Options{Addrs: []string{"[::1]:6379"}}, false,
			"redis [::1]:6379 db 0"},
		{"tls", "rediss://cache.example.com:6380/1", Options{Addrs: []string{"cache.example.com:6380"}, DB: 1}, true,
			"rediss cache.example.com:6380 db 1"},
		{"credentials", "redis://user:p%40ss@h/0", Options{Addrs: []string{"h:6379"}, Username: "user", Password: "p@ss"}, false,
			"redis h:6379 db 0"},
		{"password only", "redis://:secret@h/0", Options{Addrs: []string{"h:6379"}, Password: "secret"}, false,
			"redis h:6379 db 0"},
		{"prefix", "redis://h/0?prefix=aft:", Options{Addrs: []string{"h:6379"}, Prefix: "aft:"}, false,
			"redis h:6379 db 0 prefix aft:"},
		{"prefix escaped", "redis://h/0?prefix=a%2Fb%3F%2A", Options{Addrs: []string{"h:6379"}, Prefix: "a/b?*"}, false,
			"redis h:6379 db 0 prefix a/b?*"},
		{"cluster by addrs", "redis://h1:7000,h2:7001,h3:6379/", Options{Addrs: []string{"h1:7000", "h2:7001", "h3:6379"}, Cluster: true}, false,
			"redis cluster h1:7000,h2:7001,h3:6379"},
		{"cluster by option", "rediss://cfg.example.com:6379?cluster=true&prefix=p:", Options{Addrs: []string{"cfg.example.com:6379"}, Cluster: true, Prefix: "p:"}, true,
			"rediss cluster cfg.example.com:6379 prefix p:"},
		{"cluster by addr options", "redis://h1:7000?addr=h2:7001&addr=h3:7002", Options{Addrs: []string{"h1:7000", "h2:7001", "h3:7002"}, Cluster: true}, false,
			"redis cluster h1:7000,h2:7001,h3:7002"},
		{"cluster false", "redis://h:1/3?cluster=false", Options{Addrs: []string{"h:1"}, DB: 3}, false,
			"redis h:1 db 3"},
		{"tuning", "redis://h/0?dial_timeout=2&read_timeout=1.5s&write_timeout=250ms&max_retries=-1&min_retry_backoff=1ms&max_retry_backoff=1s&pool_size=4&client_name=shim-1&scan_count=50&max_value_size=1048576",
			Options{Addrs: []string{"h:6379"}, DialTimeout: 2 * time.Second, ReadTimeout: 1500 * time.Millisecond, WriteTimeout: 250 * time.Millisecond,
				MaxRetries: -1, MinRetryBackoff: time.Millisecond, MaxRetryBackoff: time.Second, PoolSize: 4, ClientName: "shim-1", ScanCount: 50, MaxValueSize: 1 << 20}, false,
			"redis h:6379 db 0"},
		{"max value size at Redis' limit", "redis://h/0?max_value_size=536870912", Options{Addrs: []string{"h:6379"}, MaxValueSize: MaxStringSize}, false,
			"redis h:6379 db 0"},
		{"skip verify", "rediss://h/0?skip_verify=true", Options{Addrs: []string{"h:6379"}}, true,
			"rediss h:6379 db 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseURL(tt.url)
			if err != nil {
				t.Fatalf("ParseURL(%q): %v", tt.url, err)
			}
			want, err := tt.want.withDefaults()
			if err != nil {
				t.Fatal(err)
			}
			if (got.TLS != nil) != tt.tls {
				t.Errorf("TLS: got %v, want %v", got.TLS != nil, tt.tls)
			}
			if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(Options{}, "TLS")); diff != "" {
				t.Errorf("ParseURL(%q) (-want +got):\n%s", tt.url, diff)
			}
			if s := got.String(); s != tt.desc {
				t.Errorf("String: got %q, want %q", s, tt.desc)
			}
			if strings.Contains(got.String(), "secret") || strings.Contains(got.String(), "p@ss") {
				t.Errorf("String shows the password: %q", got.String())
			}
		})
	}
}

func TestParseURLSkipVerify(t *testing.T) {
	o, err := ParseURL("rediss://h/0?skip_verify=true")
	if err != nil {
		t.Fatal(err)
	}
	if !o.TLS.InsecureSkipVerify || o.TLS.ServerName != "" {
		t.Errorf("TLS: got InsecureSkipVerify %v ServerName %q, want true and \"\"", o.TLS.InsecureSkipVerify, o.TLS.ServerName)
	}
}

func TestParseURLErrors(t *testing.T) {
	tests := []struct {
		name string
		url  string
		want string // in the error
	}{
		{"scheme", "http://h:6379/0", `scheme "http"`},
		{"unix", "unix:///tmp/redis.sock", `scheme "unix"`},
		{"opaque", "redis:h:6379", "want redis://HOST:PORT/DB"},
		{"no host", "redis:///0", "no host"},
		{"empty", "redis://", "no host"},
		{"bad port", "redis://h:0/0", "bad port"},
		{"port too large", "redis://h:70000/0", "bad port"},
		{"empty address in list", "redis://h1:1,,h2:2/", `address ""`},
		{"db not a number", "redis://h/x", `database "x"`},
		{"db negative", "redis://h/-1", `database "-1"`},
		{"db path too deep", "redis://h/0/1", `database "0/1"`},
		{"db in cluster", "redis://h1:1,h2:2/3", "database 3: Redis Cluster has database 0 only"},
		{"db with cluster option", "redis://h:1/1?cluster=true", "database 1"},
		{"unknown option", "redis://h/0?prefx=a&db=1", "unknown option db, prefx"},
		{"bad bool", "redis://h/0?cluster=yes", `cluster="yes"`},
		{"bad duration", "redis://h/0?read_timeout=soon", `read_timeout="soon"`},
		{"negative duration", "redis://h/0?read_timeout=-1s", `read_timeout="-1s"`},
		{"bad number", "redis://h/0?pool_size=many", `pool_size="many"`},
		{"negative pool", "redis://h/0?pool_size=-2", "pool size -2"},
		{"retries", "redis://h/0?max_retries=-2", "max retries -2"},
		{"value size over Redis' limit", "redis://h/0?max_value_size=536870913", "max value size 536870913"},
		{"negative value size", "redis://h/0?max_value_size=-1", "max value size -1"},
		{"negative scan count", "redis://h/0?scan_count=-1", "scan count -1"},
		{"skip verify without tls", "redis://h/0?skip_verify=true", "only with rediss://"},
		{"bad addr option", "redis://h/0?addr=x:y", `address "x:y"`},
		{"bad url", "redis://h:port/0", "invalid port"},
		{"list with a port missing", "redis://h1:7000,h2/", "invalid port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := ParseURL(tt.url)
			if err == nil {
				t.Fatalf("ParseURL(%q) = %+v, want an error", tt.url, o)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseURL(%q): got %q, want it to say %q", tt.url, err, tt.want)
			}
		})
	}
}

func TestOptionsDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   Options
		want string // error, "" for none
	}{
		{"no address", Options{}, "no address"},
		{"address without port", Options{Addrs: []string{"h"}}, `address "h"`},
		{"ok", Options{Addrs: []string{"h:1"}}, ""},
		{"two addresses mean cluster", Options{Addrs: []string{"h:1", "h:2"}, DB: 1}, "Redis Cluster has database 0 only"},
		{"negative timeout", Options{Addrs: []string{"h:1"}, DialTimeout: -time.Second}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := tt.in.withDefaults()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("withDefaults: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("withDefaults: got %v, want an error saying %q", err, tt.want)
			case tt.want == "" && (o.MaxValueSize != DefaultMaxValueSize || o.ScanCount != DefaultScanCount || o.ClientName != DefaultClientName):
				t.Errorf("withDefaults: got %+v, want the defaults", o)
			}
		})
	}
}

func TestEscapeGlob(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"v/a.b~c-d_e", "v/a.b~c-d_e"},
		{"aft:", "aft:"},
		{"a*b", `a\*b`},
		{"a?b", `a\?b`},
		{"[x]", `\[x\]`},
		{`a\b`, `a\\b`},
		{"^-", "^-"},
		{`*?[]\`, `\*\?\[\]\\`},
	}
	for _, tt := range tests {
		if got := escapeGlob(tt.in); got != tt.want {
			t.Errorf("escapeGlob(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
