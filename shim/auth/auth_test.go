package auth

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aft-shim/aft/shim/record"
)

func TestParseAndTenant(t *testing.T) {
	a, b, d := NewToken(), NewToken(), NewToken()
	file := "# tokens\n\n" + Line("team-a", a) + "   # alice\n" + Line("team-b", b) + "\n" + Line(DefaultName, d) + "\n"
	tab, err := Parse(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	for token, want := range map[string]string{a: "team-a", b: "team-b", d: ""} {
		if got, ok := tab.Tenant(token); !ok || got != want {
			t.Errorf("Tenant(token of %q) = %q, %v", want, got, ok)
		}
	}
	for _, bad := range []string{"", NewToken(), a + " ", Line("team-a", a)} {
		if got, ok := tab.Tenant(bad); ok {
			t.Errorf("Tenant(%q) = %q, want unknown", bad, got)
		}
	}
	if got := tab.Tenants(); len(got) != 3 || got[0] != "team-a" || got[2] != "" {
		t.Errorf("Tenants() = %q", got)
	}
	var none *Table
	if _, ok := none.Tenant(a); ok {
		t.Error("a nil table let a token in")
	}
}

func TestParseErrors(t *testing.T) {
	h := strings.Repeat("ab", 32)
	for _, tc := range []struct{ file, want string }{
		{"team " + h + " extra\n", "line 1"},
		{"\nteam\n", "line 2"},
		{"Team " + h, "tenant"},
		{"team " + h[:10], "64 hex digits"},
		{"team " + strings.Repeat("zz", 32), "not hex"},
		{"a " + h + "\nb " + strings.ToUpper(h), "same token hash"},
		{strings.Repeat("#", MaxFileSize+1), "over"},
	} {
		if _, err := Parse(strings.NewReader(tc.file)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%.40q) = %v, want an error with %q", tc.file, err, tc.want)
		}
	}
}

func TestBearerToken(t *testing.T) {
	for h, want := range map[string]string{"Bearer x": "x", "bearer  y": "y", "BEARER z": "z"} {
		if got, ok := BearerToken(h); !ok || got != want {
			t.Errorf("BearerToken(%q) = %q, %v", h, got, ok)
		}
	}
	for _, h := range []string{"", "Bearer", "Bearer ", "Basic x", "Bearer x y", "Bearerx"} {
		if got, ok := BearerToken(h); ok {
			t.Errorf("BearerToken(%q) = %q, want none", h, got)
		}
	}
}

// TestFileReload: a token revoked in the file is refused within ReloadEvery and a bit; a
// bad content keeps the tokens in use; an empty file refuses at Open.
func TestFileReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "auth")
	a, b := NewToken(), NewToken()
	write := func(s string) {
		t.Helper()
		// As a Kubernetes Secret changes: a new file renamed over the old.
		tmp := path + ".new"
		if err := os.WriteFile(tmp, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	write("# nothing\n")
	if _, err := Open(path, nil); err == nil || !strings.Contains(err.Error(), "no token") {
		t.Fatalf("Open of a file with no token: %v", err)
	}
	write(Line("x", a) + "\n" + Line("y", b) + "\n")
	f, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.Watch(ctx)
	write(Line("x", a) + "\n") // b revoked
	waitFor(t, func() bool { _, ok := f.Tenant(b); return !ok }, "the revoked token refused")
	if _, ok := f.Tenant(a); !ok {
		t.Error("the token kept was refused")
	}
	write("x not-a-hash\n")
	waitFor(t, func() bool { return f.Fails() == 1 }, "the bad content noticed")
	if _, ok := f.Tenant(a); !ok {
		t.Error("a bad file took the tokens in use away")
	}
	write(Line("y", b) + "\n")
	waitFor(t, func() bool { got, ok := f.Tenant(b); return ok && got == "y" }, "the good content after a bad one")
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * ReloadEvery)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", 5*ReloadEvery, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(Line("a", "t") + "\n# c\n" + Line("default", "u"))
	f.Add("a b c\n")
	f.Add("\x00 " + strings.Repeat("0", 64))
	f.Fuzz(func(t *testing.T, file string) {
		tab, err := Parse(strings.NewReader(file))
		if err != nil {
			return
		}
		// Every entry names a valid tenant, listed once by Tenants, and no two share a hash.
		listed := map[string]bool{}
		for _, tenant := range tab.Tenants() {
			if listed[tenant] || record.ValidTenant(tenant) != nil {
				t.Fatalf("Tenants() = %q", tab.Tenants())
			}
			listed[tenant] = true
		}
		hashes := map[[32]byte]bool{}
		for _, e := range tab.entries {
			if !listed[e.Tenant] || hashes[e.Hash] {
				t.Fatalf("entry %+v: tenant not listed or hash twice", e)
			}
			hashes[e.Hash] = true
		}
	})
}

func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer x", "bearer  y", "Basic z", "Bearer", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		token, ok := BearerToken(h)
		if !ok {
			return
		}
		if token == "" || strings.ContainsAny(token, " \t") || !strings.HasSuffix(h, token) {
			t.Fatalf("BearerToken(%q) = %q", h, token)
		}
	})
}
