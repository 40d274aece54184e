package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/aft-shim/aft/internal/launch"
	"github.com/aft-shim/aft/internal/redact"
	"github.com/aft-shim/aft/report/folder"
)

// runSuiteCommand is a run with Out: the whole suite, then the report folder.
func runSuiteCommand(ctx context.Context, c *Config) error {
	bin := c.Binary
	if bin == "" {
		var err error
		if bin, err = os.Executable(); err != nil {
			return fmt.Errorf("bench: find the aft binary for the kill -9 run: %w", err)
		}
	}
	if err := os.MkdirAll(c.Out, 0o755); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	dir, cleanup, err := dataDir(c.DataDir)
	if err != nil {
		return err
	}
	defer cleanup()
	logf, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	defer logf.Close()
	cfg := SuiteConfig{
		Stores: c.Stores, Latencies: c.Latencies, Jitter: c.Jitter, DataDir: dir, NoSync: c.NoSync,
		Shape: c.Shape, Clients: c.Clients, Closed: c.Duration, Open: c.OpenDuration, RateFractions: c.fractions,
		Crash: c.CrashDuration, KillAt: c.KillAt, Status: c.Stdout,
		ServeCommand: serveCommand(bin, c.NoSync, logf),
	}
	fmt.Fprintf(c.Stdout, "aft bench: %d store(s) x %d latenc(ies), closed loop %v, open loop %v at %v of aft's rate, kill -9 run %v; report in %s\n",
		len(c.Stores), len(c.Latencies), c.Duration, c.OpenDuration, c.fractions, c.CrashDuration, c.Out)
	res, err := RunSuite(ctx, cfg)
	if err != nil {
		return err
	}
	res.Command = CommandLine(append([]string{"bench"}, c.Args...)...)
	res.Quick = c.Quick
	res.Notes = append(c.Notes, res.Notes...)
	if err := WriteFolder(c.Out, res); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "report: %s\n", filepath.Join(c.Out, "report.md"))
	return nil
}

// serveCommand returns the SuiteConfig.ServeCommand that runs `bin serve`, its output to
// log. The child gets this process's environment without the AFT_ variables: its flags
// alone configure it.
func serveCommand(bin string, noSync bool, log io.Writer) func(addr, dataDir, storeURL string) *exec.Cmd {
	return func(addr, dataDir, storeURL string) *exec.Cmd {
		args := []string{"serve", "--listen", addr, "--data-dir", dataDir, "--log-level", "warn"}
		if storeURL != "" {
			args = append(args, "--store", storeURL, "--create-store")
		}
		if noSync {
			args = append(args, "--no-sync")
		}
		cmd := exec.Command(bin, args...)
		cmd.Env = launch.Environ() // the flags alone configure it
		cmd.Stdout, cmd.Stderr = log, log
		return cmd
	}
}

// RenderAgain is `aft bench report --in DIR`: the report of dir (a folder or its
// results.json) made again from its results.json, its path printed to w.
func RenderAgain(w io.Writer, dir string) error {
	if err := Render(dir); err != nil {
		return err
	}
	fmt.Fprintf(w, "report: %s\n", filepath.Join(folder.Dir(dir), folder.ReportFile))
	return nil
}

// CompareFiles is `aft bench compare A B`: the ratios of b's results to a's, as markdown
// to w. Each of a and b is a report folder or a results.json file.
func CompareFiles(w io.Writer, a, b string) error {
	ra, rb, err := folder.LoadTwo(a, b, Load)
	if err != nil {
		return err
	}
	fmt.Fprint(w, Compare(ra, rb))
	return nil
}

// CommandLine returns the command `aft words...` that made a run, as a shell would read it
// back, the secrets of any URL in it hidden (redact.URL): a flag's value as
// --flag=VALUE or as the word after the flag.
func CommandLine(words ...string) string {
	shown := []string{"aft"}
	for _, a := range words {
		if name, val, eq := strings.Cut(a, "="); eq && strings.HasPrefix(a, "-") {
			a = name + "=" + redact.URL(val)
		} else {
			a = redact.URL(a)
		}
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$&;|<>()*?`") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		shown = append(shown, a)
	}
	return strings.Join(shown, " ")
}
