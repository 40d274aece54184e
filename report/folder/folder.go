package folder

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/aft-shim/aft/internal/redact"
	"github.com/aft-shim/aft/report"
)

// The files every report folder has.
const (
	ResultsFile = "results.json" // the raw results: all that the other files are made from
	ReportFile  = "report.md"    // the report for people
)

// JSON is a raw file of a report folder: Value written as indented JSON into Name.
type JSON struct {
	Name  string
	Value any
}

// CSV is a table of a report folder, written as CSV into Name.
type CSV struct {
	Name  string
	Table report.Table
}

// Chart is a chart of a report folder, drawn into Name.png and Name.svg.
type Chart struct {
	Name  string // the file name without extension
	Title string // how report.md names it
	Chart report.Chart
	Size  report.Size // the zero Size: the chart's preferred size
}

// Files are the files of a report folder made from its raw results, so that they can be
// made again from results.json alone (Rerender).
type Files struct {
	CSV      []CSV
	Charts   []Chart
	Markdown string // report.md
}

// Write writes the folder dir: the raw files, then the files made from them (Render).
func Write(dir string, raw []JSON, f Files) error {
	for _, j := range raw {
		if err := WriteJSON(filepath.Join(dir, j.Name), j.Value); err != nil {
			return err
		}
	}
	return Render(dir, f)
}

// Render writes the CSV tables, the charts and report.md of f into dir. All of report.md
// goes through redact.Text.
func Render(dir string, f Files) error {
	for _, c := range f.CSV {
		if err := WriteCSV(dir, c); err != nil {
			return err
		}
	}
	for _, c := range f.Charts {
		if _, err := report.SaveAll(filepath.Join(dir, c.Name), c.Chart, c.Size); err != nil {
			return fmt.Errorf("chart %s: %w", c.Name, err)
		}
	}
	return report.WriteFile(filepath.Join(dir, ReportFile), []byte(redact.Text(f.Markdown)))
}

// WriteJSON writes v to path as indented JSON ending in a newline, every string in it
// passed through redact.Text, creating the directory when missing.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("report folder: json %s: %w", path, err)
	}
	return report.WriteFile(path, append(redactJSON(b), '\n'))
}

// WriteCSV writes the table c into dir, every cell passed through redact.Text.
func WriteCSV(dir string, c CSV) error {
	t := c.Table
	t.Rows = make([][]string, len(c.Table.Rows))
	for i, row := range c.Table.Rows {
		t.Rows[i] = make([]string, len(row))
		for j, cell := range row {
			t.Rows[i][j] = redact.Text(cell)
		}
	}
	var b bytes.Buffer
	if err := t.WriteCSV(&b); err != nil {
		return err
	}
	return report.WriteFile(filepath.Join(dir, c.Name), b.Bytes())
}

// ReadJSON reads path into v. Fields v does not have are ignored, so that results written
// by a newer version still read.
func ReadJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("report: json %s: %w", path, err)
	}
	return nil
}

// Path returns the results.json of a report folder: dir/results.json when dir is a
// folder, else dir itself (a results.json named on the command line).
func Path(dir string) string {
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		return filepath.Join(dir, ResultsFile)
	}
	return dir
}

// Dir returns the report folder of dir: dir itself when it is a folder, else the folder
// of the results.json it names.
func Dir(dir string) string {
	if Path(dir) == dir {
		return filepath.Dir(dir)
	}
	return dir
}

// Read reads the file name of the folder that holds results (see Path) into v. A
// missing file is not an error when optional is set: v is left as it is.
func Read(results, name string, v any, optional bool) error {
	err := ReadJSON(filepath.Join(filepath.Dir(Path(results)), name), v)
	if optional && errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// Rerender reads the report folder in (or the results.json it names) with load and
// renders it again with render: into in's folder, or into out when out is not "" (then
// with its raw files too, so that out is a whole report folder). It returns the folder
// written and what load read.
func Rerender[R any](in, out string, load func(path string) (R, error), render func(R) ([]JSON, Files)) (string, R, error) {
	path := Path(in)
	r, err := load(path)
	if err != nil {
		return "", r, err
	}
	raw, files := render(r)
	if out != "" {
		return out, r, Write(out, raw, files)
	}
	return Dir(in), r, Render(Dir(in), files)
}
