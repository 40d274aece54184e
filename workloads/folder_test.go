package workloads

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var updateGolden = flag.Bool("update", false, "write testdata/report-v1/report.md.golden again")

// TestRenderOldFolder renders again a report folder written by `aft workloads --out`
// before its folder code moved to report/folder (with a store password in its command
// line and in an error, as folders written then could hold): report.md must match the
// golden file, and no file of the folder may show the password.
func TestRenderOldFolder(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{FileResults, FileRun} {
		b, err := os.ReadFile(filepath.Join("testdata/report-v1", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := t.TempDir()
	for _, tt := range []struct{ name, out string }{{"in place", ""}, {"into another folder", out}} {
		t.Run(tt.name, func(t *testing.T) {
			written, results, err := Rerender(dir, tt.out)
			if err != nil {
				t.Fatal(err)
			}
			if len(results) != 4 {
				t.Errorf("%d results, want 4", len(results))
			}
			md, err := os.ReadFile(filepath.Join(written, FileReport))
			if err != nil {
				t.Fatal(err)
			}
			if *updateGolden && tt.out == "" {
				os.WriteFile("testdata/report-v1/report.md.golden", md, 0o644)
			}
			want, _ := os.ReadFile("testdata/report-v1/report.md.golden")
			if diff := cmp.Diff(string(want), string(md)); diff != "" {
				t.Errorf("report.md (-golden +got):\n%s", diff)
			}
			if tt.out != "" { // the raw files written again: the same but for the password
				for _, f := range []string{FileResults, FileRun} {
					old, _ := os.ReadFile(filepath.Join("testdata/report-v1", f))
					got, _ := os.ReadFile(filepath.Join(written, f))
					if diff := cmp.Diff(strings.ReplaceAll(string(old), "s3cret", "xxxxx"), string(got)); diff != "" {
						t.Errorf("%s written again (-old +got):\n%s", f, diff)
					}
				}
			}
			files, _ := os.ReadDir(written)
			for _, f := range files {
				b, _ := os.ReadFile(filepath.Join(written, f.Name()))
				if f.Name() != FileRun && f.Name() != FileResults || tt.out != "" {
					if strings.Contains(string(b), "s3cret") {
						t.Errorf("%s shows the store password", f.Name())
					}
				}
			}
		})
	}
}
