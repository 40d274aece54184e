// Package apitest checks answers against the contracts of package api, for the tests of
// every package that writes them.
package apitest

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/aft-shim/aft/api"
)

// Texts are error messages that are hard to encode: quotes, backslashes, newlines and
// other control bytes, non-ASCII, bytes that are not UTF-8, and what Go's %q makes of
// them (which is not JSON).
var Texts = []string{
	`plain`,
	`say "hi"`,
	`back\slash \x00 \a`,
	"two\nlines\r\n\ttabbed",
	"nul \x00 bell \a escape \x1b del \x7f",
	"non-ASCII: naïve, 日本語, emoji 🚀, line separator \u2028",
	"not UTF-8: \xff\xfe \xc3",
	`</script><b>&amp;</b>`,
	"",
}

// ErrorBody checks that b is one JSON object of the error shape {"error", "code"}, with
// both fields present as strings and code non-empty, and returns it.
func ErrorBody(t testing.TB, b []byte) api.ErrorBody {
	t.Helper()
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&fields); err != nil {
		t.Fatalf("error body %q is not a JSON object: %v", b, err)
	}
	if dec.More() {
		t.Fatalf("error body %q holds more than one JSON value", b)
	}
	var e api.ErrorBody
	for _, name := range []string{"error", "code"} {
		raw, ok := fields[name]
		var s string
		if !ok || json.Unmarshal(raw, &s) != nil {
			t.Fatalf("error body %q: field %q missing or not a string", b, name)
		}
	}
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("error body %q: %v", b, err)
	}
	if e.Code == "" {
		t.Fatalf("error body %q: empty code", b)
	}
	return e
}
