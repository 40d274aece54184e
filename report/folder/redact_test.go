package folder

import (
	"encoding/json"
	"strings"
	"testing"
)

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
