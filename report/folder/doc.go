// Package folder is the one home of a report folder, the directory that `aft bench --out`
// and `aft workloads --out` write and that their `report --in DIR` and `compare A B`
// subcommands read back:
//
//   - Write puts the raw results (results.json, and any other JSON file) and the files
//     derived from them (CSV tables, charts as PNG and SVG, report.md) into a folder;
//     Render writes the derived files alone, and Rerender reads a folder back and renders
//     it again;
//   - every text written passes through Redact, so that no report, CSV or results.json
//     holds the password of a store URL, whatever field (a command line, an error, a note)
//     carries it;
//   - Machine is the one description of the machine a run was made on;
//   - Match, Ratio and Signed are what a comparison of two folders is made of: records
//     paired by key, and the cells that say how they changed.
//
// What each suite's folder holds (which tables, which columns, which charts) stays with
// the suite (packages bench and workloads); the drawing is package report's.
package folder
