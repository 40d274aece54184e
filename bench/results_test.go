package bench

import (
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestResultsRoundTrip(t *testing.T) {
	want, err := Load("testdata/results.json")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "results.json")
	if err := want.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("results after Save and Load (-want +got):\n%s", diff)
	}
}

func TestLoadRefuses(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name, body string
		schema     bool // the error is ErrSchema
	}{
		{"another schema", `{"schema": "aft-workloads/1", "runs": []}`, true},
		{"no schema", `{"runs": []}`, true},
		{"not JSON", `runs,mode`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "r.json")
			os.WriteFile(path, []byte(tt.body), 0o644)
			_, err := Load(path)
			if err == nil {
				t.Fatal("loaded")
			}
			if errors.Is(err, ErrSchema) != tt.schema {
				t.Errorf("error %v: errors.Is(err, ErrSchema) = %v, want %v", err, !tt.schema, tt.schema)
			}
		})
	}
	if _, err := Load(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("loaded a missing file")
	}
}

func TestWriteFolderCSV(t *testing.T) {
	r, err := Load("testdata/results.json")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := WriteFolder(dir, r); err != nil { // the CSV files as the report folder has them
		t.Fatal(err)
	}
	for _, tt := range []struct {
		file   string
		header []string
		rows   int
	}{
		{"runs.csv", runsHeader, len(r.Runs)},
		{"timeline.csv", timelineHeader, len(r.Recoveries[0].Series)},
	} {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join(dir, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			rows, err := csv.NewReader(f).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.header, rows[0]); diff != "" {
				t.Errorf("header (-want +got):\n%s", diff)
			}
			if len(rows)-1 != tt.rows {
				t.Errorf("%d rows, want %d", len(rows)-1, tt.rows)
			}
		})
	}
}

func TestRecordKeysUnique(t *testing.T) {
	r, err := Load("testdata/results.json")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, x := range r.Runs {
		if k := x.Key(); seen[k] {
			t.Errorf("two runs have the key %s", k)
		} else {
			seen[k] = true
		}
	}
}

func TestBackendName(t *testing.T) {
	for url, want := range map[string]string{
		"":                         "embedded",
		"mem://":                   "mem",
		"redis://127.0.0.1:6379/0": "redis",
		"rediss://h:6380/0":        "redis",
		"dynamodb://t?region=x":    "dynamodb",
		"s3://b/p?region=x":        "s3",
	} {
		if got := BackendName(url); got != want {
			t.Errorf("BackendName(%q) = %q, want %q", url, got, want)
		}
	}
}
