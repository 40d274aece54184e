package dynamodb

import (
	"strings"
	"testing"
)

func TestLayout(t *testing.T) {
	tests := []struct {
		key, group string
	}{
		{"v/k/123.abc", "v/"},
		{"r/t/abc", "r/"},
		{"r/", "r/"},
		{"v", ""},
		{"v~", ""},
		{"/x", "/"},
		{strings.Repeat("a", 511) + "/", strings.Repeat("a", 511) + "/"},
	}
	for _, tt := range tests {
		if got := group(tt.key); got != tt.group {
			t.Errorf("group(%q) = %q, want %q", tt.key, got, tt.group)
		}
		pk := pkOf(tt.key)
		if !strings.HasPrefix(pk, tt.group+"#") || len(pk) != len(tt.group)+3 {
			t.Errorf("pkOf(%q) = %q, want %q#SS", tt.key, pk, tt.group)
		}
		if size := itemSize(tt.key, MaxValueSize); size > maxItemSize {
			t.Errorf("item of %q at the value limit: %d bytes, over %d", tt.key, size, maxItemSize)
		}
	}
	// The shards spread keys.
	seen := map[int]bool{}
	for i := range 1000 {
		seen[shardOf("v/key/"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+string(rune('a'+i/26%26)))] = true
	}
	if len(seen) != shards {
		t.Errorf("1000 keys fell in %d shards of %d", len(seen), shards)
	}
	// The layout is fixed: tables hold these partition keys, so they must never change.
	golden := map[string]string{
		"v/k/1":                                  "v/#17",
		"r/t/abc":                                "r/#0d",
		"x":                                      "#07",
		"v/a/0000000000000001a.0123456789abcdef": "v/#1e",
	}
	for key, want := range golden {
		if got := pkOf(key); got != want {
			t.Errorf("pkOf(%q) = %q, want %q: the layout changed", key, got, want)
		}
	}
}

// TestLayoutOrdered: a key under store.OrderedPrefix lives in the partition of its
// directory, unsharded, which no GROUP#SS value can equal; other keys keep GROUP#SS.
func TestLayoutOrdered(t *testing.T) {
	longDir := "l/" + strings.Repeat("d", maxKeyLen-4) + "/"
	tests := []struct {
		key, pk string
	}{
		{"l/1700000000/00ab.x", "l/1700000000/"},
		{"l/1700000000/", "l/1700000000/"},
		{"l/x", "l/"},
		{"l/", "l/"},
		{"l/a/b/c", "l/a/b/"},
		{longDir + "k", longDir},
		{"lx/1700000000/00ab.x", "lx/#16"}, // not under l/: GROUP#SS
		{"v/l/1700000000/00ab.x", "v/#05"},
	}
	for _, tt := range tests {
		pk := pkOf(tt.key)
		if pk != tt.pk {
			t.Errorf("pkOf(%q) = %q, want %q", tt.key, pk, tt.pk)
		}
		if strings.HasPrefix(tt.key, "l/") && strings.Contains(pk, "#") {
			t.Errorf("pkOf(%q) = %q holds a \"#\": it could collide with a GROUP#SS", tt.key, pk)
		}
		if size := itemSize(tt.key, MaxValueSize); size > maxItemSize {
			t.Errorf("item of %q at the value limit: %d bytes, over %d", tt.key, size, maxItemSize)
		}
	}
}

func TestIsLocal(t *testing.T) {
	tests := []struct {
		endpoint string
		want     bool
	}{
		{"http://127.0.0.1:8000", true},
		{"http://dynamodb-local:8000", true},
		{"http://10.0.0.1:8000", true},
		{"https://localhost:8000", true},
		{"https://LOCALHOST", true},
		{"https://[::1]:8000", true},
		{"https://127.0.0.2", true},
		{"https://dynamodb.us-east-1.amazonaws.com", false},
		{"http://dynamodb.us-east-1.amazonaws.com", false},
		{"http://dynamodb.cn-north-1.amazonaws.com.cn", false},
		{"https://vpce-1.dynamodb.us-east-1.vpce.amazonaws.com", false},
		{"https://10.0.0.1", false},
		{"https://dynamodb-local:8000", false},
		{"%zz", false},
	}
	for _, tt := range tests {
		if got := isLocal(tt.endpoint); got != tt.want {
			t.Errorf("isLocal(%q) = %v, want %v", tt.endpoint, got, tt.want)
		}
	}
}

func TestCheckTableName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"aft", true},
		{"aft-e2e_1.x", true},
		{strings.Repeat("a", 255), true},
		{"ab", false},
		{strings.Repeat("a", 256), false},
		{"a b c", false},
		{"tab/le", false},
		{"tablé", false},
	}
	for _, tt := range tests {
		if err := checkTableName(tt.name); (err == nil) != tt.ok {
			t.Errorf("checkTableName(%q) = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}
