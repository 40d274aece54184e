package folder

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"no URL", "dial tcp: refused", "dial tcp: refused"},
		{"error text", "redis: dial redis://:s3cret@h:6379/0: refused", "redis: dial redis://:xxxxx@h:6379/0: refused"},
		{"quoted", `open store "redis://u:s3cret@h/0": no`, `open store "redis://xxxxx@h/0": no`},
		{"command line", "aft bench --store redis://u:s3cret@h:6379/0 --out x", "aft bench --store redis://u:xxxxx@h:6379/0 --out x"},
		{"two URLs and line breaks", "a redis://:p1@h\n\tb rediss://u:p2@h/1 c", "a redis://:xxxxx@h\n\tb rediss://u:xxxxx@h/1 c"},
		{"no secret", "shim on http://127.0.0.1:7654 up", "shim on http://127.0.0.1:7654 up"},
		{"white space kept", "  x  y \n", "  x  y \n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Redact(tt.in); got != tt.want {
				t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestRedactJSON(t *testing.T) {
	v := map[string]any{
		"command": "aft workloads --store redis://u:s3cret@h/0",
		"error":   `dial "redis://:s3cret@h": <refused> & "quoted \\ back"`,
		"runs":    []any{map[string]any{"n": 1.5, "note": "plain"}},
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got := redactJSON(b)
	if strings.Contains(string(got), "s3cret") {
		t.Errorf("a secret is left:\n%s", got)
	}
	var back map[string]any
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatalf("not JSON any more: %v\n%s", err, got)
	}
	if want := `dial "redis://xxxxx@h": <refused> & "quoted \\ back"`; back["error"] != want {
		t.Errorf("error = %q, want %q", back["error"], want)
	}
	clean, _ := json.MarshalIndent(map[string]any{"a": `x "y" \ z <&>`, "b": []int{1, 2}}, "", "  ")
	if got := redactJSON(clean); string(got) != string(clean) {
		t.Errorf("a document without secrets changed:\n%s\nwant\n%s", got, clean)
	}
}
