package report

import (
	"strings"
	"testing"
)

func TestTable(t *testing.T) {
	tab := Table{
		Header: []string{"scenario", "mode", "anomalies"},
		Align:  []Align{AlignLeft, AlignCenter, AlignRight},
	}
	tab.AddRow("crash|partial", "plain", 12)
	tab.AddRow("zombie", "aft", 0.5)
	tab.Rows = append(tab.Rows, []string{"short"})

	tests := []struct {
		name string
		got  func() string
		want string
	}{
		{"markdown", tab.Markdown, "" +
			"| scenario       | mode  | anomalies |\n" +
			"| -------------- | :---: | --------: |\n" +
			"| crash\\|partial | plain |        12 |\n" +
			"| zombie         |  aft  |       0.5 |\n" +
			"| short          |       |           |\n"},
		{"compact", tab.Compact, "" +
			"| scenario | mode | anomalies |\n" +
			"|---|---|---|\n" +
			"| crash\\|partial | plain | 12 |\n" +
			"| zombie | aft | 0.5 |\n" +
			"| short |  |  |\n"},
		{"text", tab.Text, "" +
			"scenario       mode   anomalies\n" +
			"-------------  -----  ---------\n" +
			"crash|partial  plain         12\n" +
			"zombie          aft         0.5\n" +
			"short\n"},
		{"csv", func() string {
			var b strings.Builder
			if err := tab.WriteCSV(&b); err != nil {
				t.Fatal(err)
			}
			return b.String()
		}, "scenario,mode,anomalies\ncrash|partial,plain,12\nzombie,aft,0.5\nshort,,\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.got(); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestCell(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{"x", "x"}, {3, "3"}, {2.5, "2.5"}, {1.0 / 3, "0.333"}, {2.0, "2"}, {float32(0.25), "0.25"}, {int64(-7), "-7"},
	}
	for _, tc := range tests {
		if got := Cell(tc.in); got != tc.want {
			t.Errorf("Cell(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
