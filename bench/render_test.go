package bench

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRender renders the report of a small fixed results.json and checks its structure:
// every chart as a PNG that decodes and an SVG with its title and legend, and the markdown
// with its tables, charts and schema.
func TestRender(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile("testdata/results.json")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "results.json"), b, 0o644)
	if err := Render(dir); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	charts := []struct {
		file  string
		texts []string // in the SVG: title, axis labels, legend entries
	}{
		{"throughput-ratio", []string{"Throughput of aft relative to plain", "aft / plain throughput (x; above 1: aft faster)", "0.24", "gateway: via aft / direct"}},
		{"throughput-embedded", []string{"Closed-loop throughput on embedded (16 clients)", "throughput (transactions/s)", "+5 ms", "aft txn via shim API", "function called directly"}},
		{"cdf-embedded-0ms", []string{"Latency CDF, embedded", "latency (ms, log scale)", "plain: same work on the store", "function via aft middleware"}},
		{"cdf-embedded-5ms", []string{"Latency CDF, embedded +5ms"}},
		{"recovery-embedded", []string{"kill -9", "time since the load began (s)", "committed", "SIGKILL", "first commit +80 ms"}},
	}
	for _, c := range charts {
		t.Run(c.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join(dir, c.file+".png"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			img, err := png.Decode(f)
			if err != nil {
				t.Fatalf("PNG: %v", err)
			}
			if sz := img.Bounds().Size(); sz.X < 640 || sz.Y < 360 {
				t.Errorf("PNG is %v, want at least 640x360", sz)
			}
			svg, err := os.ReadFile(filepath.Join(dir, c.file+".svg"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(bytes.TrimSpace(svg), []byte("<?xml")) || !bytes.Contains(svg, []byte("<svg")) {
				t.Errorf("%s.svg is not SVG: %.80s", c.file, svg)
			}
			for _, text := range c.texts {
				if !bytes.Contains(svg, []byte(xmlEscape(text))) {
					t.Errorf("%s.svg lacks the text %q", c.file, text)
				}
			}
			if !bytes.Contains(md, []byte("("+c.file+".png)")) {
				t.Errorf("report.md does not show %s.png", c.file)
			}
		})
	}
	for _, want := range []string{
		"Made with `aft bench --out testdata --quick`",
		"2 cores (GOMAXPROCS 2), Test CPU",
		"## Headlines",
		"**0.24x** the throughput of plain",
		"the first transaction committed **80 ms** after SIGKILL",
		"## Closed loop",
		"| configuration | scenario | mode | clients | throughput (/s) | p50 (ms) | p90 (ms) | p99 (ms) | p99.9 (ms) |",
		"| embedded +5ms | api | aft | 16 | 183 |",
		"## Open loop",
		"| embedded | gateway | plain | 650 (50%) |",
		"| embedded | gateway | aft | 650 (50%) | 650 | 2.70 | 5.40 | 14.00 | 18.20 | 1 | 0 | 0.42 |",
		"the middleware's own time (begin, commit, proxying) averaged **0.42 ms** of a mean invocation of 3.24 ms",
		"## Inside an aft transaction",
		"| embedded | commit | 6.60 |",
		"## Recovery after kill -9",
		"| embedded | 16 | 1.00 | 60 | 80 | 1120 | 1110 |",
		"aft_middleware_overhead_seconds_mean_ms",
		"## Raw results",
		"`runs[].latency_ms`",
	} {
		if !bytes.Contains(md, []byte(want)) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("report.md:\n%s", md)
	}
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "'", "&#39;", `"`, "&#34;").Replace(s)
}

func TestCompare(t *testing.T) {
	a, err := Load("testdata/results.json")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Load("testdata/results.json")
	b.Runs = b.Runs[1:] // the first run only in A
	b.Runs[0].Throughput *= 2
	b.Recoveries[0].RecoveryMS = 160
	out := Compare(a, b)
	for _, want := range []string{
		"| api/plain/closed/embedded/0ms/c16 | 4600 | 9200 | 2.00x |",
		"| embedded | 80 | 160 | 2.00x |",
		"Only in A: api/aft/closed/embedded/0ms/c16",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("compare lacks %q:\n%s", want, out)
		}
	}
}

// TestFolderHidesSecrets writes a report folder whose results hold a store password in
// the command line, an error and a note: no file of it may show the password.
func TestFolderHidesSecrets(t *testing.T) {
	r, err := Load("testdata/results.json")
	if err != nil {
		t.Fatal(err)
	}
	r.Command = "aft bench --out x --store redis://:s3cret@127.0.0.1:6379/0"
	r.Runs[0].LastError = "redis: dial redis://:s3cret@127.0.0.1:6379/0: refused"
	r.Notes = append(r.Notes, "store s3://b/p?endpoint=http://AKIA:s3cret@127.0.0.1:9000 was slow")
	dir := t.TempDir()
	if err := WriteFolder(dir, r); err != nil {
		t.Fatal(err)
	}
	files, _ := os.ReadDir(dir)
	for _, f := range files {
		b, _ := os.ReadFile(filepath.Join(dir, f.Name()))
		if bytes.Contains(b, []byte("s3cret")) {
			t.Errorf("%s shows the store password", f.Name())
		}
	}
	back, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := "redis: dial redis://:xxxxx@127.0.0.1:6379/0: refused"; back.Runs[0].LastError != want {
		t.Errorf("last_error %q, want %q", back.Runs[0].LastError, want)
	}
	if out := Compare(r, r); strings.Contains(out, "s3cret") {
		t.Errorf("compare shows the store password:\n%s", out)
	}
}
