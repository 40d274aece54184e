package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Align is the alignment of a table column.
type Align int

// The alignments. The zero Align is AlignLeft.
const (
	AlignLeft Align = iota
	AlignRight
	AlignCenter
)

// Table is a header and rows of cells, written as markdown, plain text or CSV. Rows
// shorter than the header are padded with empty cells.
type Table struct {
	Header []string
	Rows   [][]string
	// Align gives the alignment of each column; columns past its end are left aligned.
	Align []Align
}

// AddRow appends a row, formatting each cell with Cell.
func (t *Table) AddRow(cells ...any) {
	row := make([]string, len(cells))
	for i, c := range cells {
		row[i] = Cell(c)
	}
	t.Rows = append(t.Rows, row)
}

// Cell formats one value for a table: strings as they are, floats with at most three
// decimals and no trailing zeros, anything else with fmt's %v.
func Cell(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return formatFloat(x)
	case float32:
		return formatFloat(float64(x))
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}

func formatFloat(f float64) string {
	s := fmt.Sprintf("%.3f", f)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// columns returns the number of columns and the rows padded to it.
func (t Table) grid() [][]string {
	n := len(t.Header)
	for _, r := range t.Rows {
		n = max(n, len(r))
	}
	g := make([][]string, 0, len(t.Rows)+1)
	for _, r := range append([][]string{t.Header}, t.Rows...) {
		row := make([]string, n)
		copy(row, r)
		g = append(g, row)
	}
	return g
}

func (t Table) align(col int) Align {
	if col < len(t.Align) {
		return t.Align[col]
	}
	return AlignLeft
}

// Markdown returns the table in GitHub-flavoured markdown, columns padded to one width. A
// "|" in a cell is escaped and a line break becomes a space.
func (t Table) Markdown() string {
	g := t.markdownGrid()
	w := widths(g, 3)
	var b strings.Builder
	for r, row := range g {
		b.WriteString("|")
		for i, c := range row {
			b.WriteString(" " + pad(c, w[i], t.align(i)) + " |")
		}
		b.WriteString("\n")
		if r == 0 {
			b.WriteString("|")
			for i := range row {
				b.WriteString(" " + rule(w[i], t.align(i)) + " |")
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

// Compact returns the table in GitHub-flavoured markdown without padding, one row a
// line ("| a | b |", then "|---|---|"): the same table as Markdown, smaller for long
// tables. Its columns are all left aligned.
func (t Table) Compact() string {
	g := t.markdownGrid()
	var b strings.Builder
	for r, row := range g {
		b.WriteString("| " + strings.Join(row, " | ") + " |\n")
		if r == 0 {
			b.WriteString("|" + strings.Repeat("---|", len(row)) + "\n")
		}
	}
	return b.String()
}

// markdownGrid returns the cells of the table with each "|" escaped and its white space
// (line breaks too) collapsed to single spaces.
func (t Table) markdownGrid() [][]string {
	g := t.grid()
	for _, row := range g {
		for i, c := range row {
			c = strings.ReplaceAll(c, "|", `\|`)
			row[i] = strings.Join(strings.Fields(c), " ")
		}
	}
	return g
}

// Text returns the table as aligned plain text for a terminal: columns two spaces apart,
// the header underlined.
func (t Table) Text() string {
	g := t.grid()
	w := widths(g, 0)
	var b strings.Builder
	line := func(row []string) {
		cells := make([]string, len(row))
		for i, c := range row {
			cells[i] = pad(c, w[i], t.align(i))
		}
		b.WriteString(strings.TrimRight(strings.Join(cells, "  "), " ") + "\n")
	}
	line(g[0])
	under := make([]string, len(g[0]))
	for i := range under {
		under[i] = strings.Repeat("-", w[i])
	}
	line(under)
	for _, row := range g[1:] {
		line(row)
	}
	return b.String()
}

// WriteCSV writes the header and the rows as CSV (RFC 4180).
func (t Table) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.WriteAll(t.grid()); err != nil {
		return fmt.Errorf("report: csv: %w", err)
	}
	return nil
}

func widths(g [][]string, least int) []int {
	w := make([]int, len(g[0]))
	for i := range w {
		w[i] = least
	}
	for _, row := range g {
		for i, c := range row {
			w[i] = max(w[i], utf8.RuneCountInString(c))
		}
	}
	return w
}

func pad(s string, w int, a Align) string {
	n := w - utf8.RuneCountInString(s)
	if n <= 0 {
		return s
	}
	switch a {
	case AlignRight:
		return strings.Repeat(" ", n) + s
	case AlignCenter:
		return strings.Repeat(" ", n/2) + s + strings.Repeat(" ", n-n/2)
	}
	return s + strings.Repeat(" ", n)
}

func rule(w int, a Align) string {
	switch a {
	case AlignRight:
		return strings.Repeat("-", w-1) + ":"
	case AlignCenter:
		return ":" + strings.Repeat("-", w-2) + ":"
	}
	return strings.Repeat("-", w)
}
