package folder

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aft-shim/aft/report"
	"github.com/google/go-cmp/cmp"
)

func TestWriteAndRerender(t *testing.T) {
	type results struct {
		Command string `json:"command"`
		Error   string `json:"error"`
	}
	files := func(r results) ([]JSON, Files) {
		t := report.Table{Header: []string{"command", "error"}}
		t.AddRow(r.Command, r.Error)
		return []JSON{{Name: ResultsFile, Value: r}}, Files{
			CSV:      []CSV{{Name: "r.csv", Table: t}},
			Charts:   []Chart{{Name: "bars", Title: "Bars", Chart: report.Bars{Title: "Bars", Categories: []string{"a"}, Series: []report.BarSeries{{Name: "s", Values: []float64{1}}}}}},
			Markdown: "# R\n\nMade with `" + r.Command + "`: " + r.Error + "\n",
		}
	}
	load := func(path string) (results, error) {
		var r results
		err := ReadJSON(path, &r)
		return r, err
	}
	r := results{Command: "aft x --store redis://u:s3cret@h/0", Error: "redis: dial redis://:s3cret@h: no"}
	dir := t.TempDir()
	raw, f := files(r)
	if err := Write(dir, raw, f); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{ResultsFile, "r.csv", "bars.png", "bars.svg", ReportFile} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "s3cret") {
			t.Errorf("%s holds the password:\n%s", name, b)
		}
	}
	md, _ := os.ReadFile(filepath.Join(dir, ReportFile))
	out := t.TempDir()
	for _, tt := range []struct{ name, in, out, dir string }{
		{"folder", dir, "", dir},
		{"results.json", filepath.Join(dir, ResultsFile), "", dir},
		{"into another folder", dir, out, out},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, back, err := Rerender(tt.in, tt.out, load, files)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.dir {
				t.Errorf("wrote %s, want %s", got, tt.dir)
			}
			if want := (results{Command: "aft x --store redis://u:xxxxx@h/0", Error: "redis: dial redis://:xxxxx@h: no"}); back != want {
				t.Errorf("read back %+v, want %+v", back, want)
			}
			again, err := os.ReadFile(filepath.Join(tt.dir, ReportFile))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(md), string(again)); diff != "" {
				t.Errorf("report.md rendered again (-first +again):\n%s", diff)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(out, ResultsFile)); err != nil {
		t.Errorf("--out folder without its raw results: %v", err)
	}
	var none results
	if err := Read(dir, "missing.json", &none, true); err != nil {
		t.Errorf("optional missing file: %v", err)
	}
	if err := Read(dir, "missing.json", &none, false); err == nil {
		t.Error("a missing file read")
	}
}

func TestMatch(t *testing.T) {
	type rec struct{ k, v string }
	key := func(r rec) string { return r.k }
	a := []rec{{"x", "a1"}, {"y", "a2"}, {"z", "a3"}}
	b := []rec{{"z", "b1"}, {"w", "b2"}, {"x", "b3"}}
	got := Match(a, b, key)
	want := []Pair[rec]{
		{Key: "z", A: rec{"z", "a3"}, B: rec{"z", "b1"}, InA: true, InB: true},
		{Key: "w", B: rec{"w", "b2"}, InB: true},
		{Key: "x", A: rec{"x", "a1"}, B: rec{"x", "b3"}, InA: true, InB: true},
		{Key: "y", A: rec{"y", "a2"}, InA: true},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(rec{})); diff != "" {
		t.Errorf("Match (-want +got):\n%s", diff)
	}
}

func TestCells(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{Ratio(3, 2), "1.50x"}, {Ratio(1, 0), "n/a"}, {Ratio(0, 0), "n/a"},
		{Signed(2), "+2"}, {Signed(-6), "-6"}, {Signed(0), "0"},
		{Millis(3.14159), "3.14"}, {Millis(123.4), "123"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestMachine(t *testing.T) {
	m := ThisMachine()
	if m.Cores < 1 || m.Go == "" || !strings.Contains(m.OS, "/") {
		t.Errorf("ThisMachine() = %+v", m)
	}
	if p := m.Platform(); strings.Contains(p, ",") || !strings.HasPrefix(m.OS, p) {
		t.Errorf("Platform() = %q of OS %q", p, m.OS)
	}
	b, _ := json.Marshal(Machine{Cores: 2, OS: "linux/amd64, Linux 6.1"})
	for _, field := range []string{`"cores":2`, `"gomaxprocs"`, `"cpu"`, `"memory_mib"`, `"os":"linux/amd64, Linux 6.1"`, `"go"`, `"load_before"`, `"load_after"`} {
		if !strings.Contains(string(b), field) {
			t.Errorf("JSON %s lacks %s", b, field)
		}
	}
	if LoadAverage() < 0 {
		t.Error("negative load average")
	}
}

func TestJSONRoundTrip(t *testing.T) {
	type rec struct {
		Name  string         `json:"name"`
		Count map[string]int `json:"count"`
	}
	path := filepath.Join(t.TempDir(), "sub", "r.json")
	in := []rec{{"a", map[string]int{"x": 1}}}
	if err := WriteJSON(path, in); err != nil {
		t.Fatal(err)
	}
	var out []rec
	if err := ReadJSON(path, &out); err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 || out[0].Name != "a" || out[0].Count["x"] != 1 {
		t.Errorf("read back %+v", out)
	}
	if err := report.WriteFile(path, []byte("[{")); err != nil {
		t.Fatal(err)
	}
	if err := ReadJSON(path, &out); err == nil {
		t.Error("ReadJSON accepted bad JSON")
	}
	if err := ReadJSON(path+".missing", &out); err == nil {
		t.Error("ReadJSON read a missing file")
	}
}

func TestLoadTwo(t *testing.T) {
	dir := t.TempDir()
	if err := WriteJSON(filepath.Join(dir, "a", ResultsFile), []int{1}); err != nil {
		t.Fatal(err)
	}
	if err := WriteJSON(filepath.Join(dir, "b", ResultsFile), []int{2}); err != nil {
		t.Fatal(err)
	}
	load := func(path string) ([]int, error) {
		var v []int
		err := ReadJSON(path, &v)
		return v, err
	}
	a, b, err := LoadTwo(filepath.Join(dir, "a"), filepath.Join(dir, "b", ResultsFile), load)
	if err != nil || len(a) != 1 || a[0] != 1 || len(b) != 1 || b[0] != 2 {
		t.Errorf("LoadTwo = %v, %v, %v", a, b, err)
	}
	if _, _, err := LoadTwo(filepath.Join(dir, "a"), filepath.Join(dir, "missing"), load); err == nil {
		t.Error("a missing folder loaded")
	}
}
