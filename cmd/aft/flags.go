package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// usageError is a bad flag, argument or environment variable: exit status 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usage(format string, args ...any) error { return &usageError{fmt.Errorf(format, args...)} }

// parseFlags parses args into fs, then fills every flag not given on the command line
// from the environment variable AFT_<FLAG> (dashes as underscores), as spec/cli.md says.
func parseFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(fs.Name(), fs)
		}
		return &usageError{err}
	}
	if fs.NArg() > 0 {
		return usage("unexpected argument %q", fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		env := "AFT_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok && !given[f.Name] && err == nil {
			if e := fs.Set(f.Name, v); e != nil {
				err = usage("environment %s=%q: %v", env, v, e)
			}
		}
	})
	return err
}

// synopses are the usage lines of the commands whose usage is more than `aft NAME [flags]`.
var synopses = map[string]string{
	"bench": "aft bench [flags]\n" +
		"       aft bench report --in DIR    render a report folder again from its results.json\n" +
		"       aft bench compare A B        the ratios of B's results to A's",
	"bench compare": "aft bench compare A B   (A and B: report folders or results.json files)",
	"workloads": "aft workloads [flags]\n" +
		"       aft workloads report --in DIR [--out DIR]   render a report folder again from its results.json\n" +
		"       aft workloads compare A B                   print what differs between two report folders",
	"workloads compare": "aft workloads compare A B   (A and B: report folders or results.json files)",
	"dlq":               "aft dlq list|replay [flags]",
	"provider":          "aft provider openfaas|local [flags]",
	"token":             "aft token new TENANT   (prints a fresh token, then its --auth-file line)",
}

// printUsage prints the usage line of `aft name` on stderr, then the flags of fs, if any.
func printUsage(name string, fs *flag.FlagSet) {
	line, ok := synopses[name]
	if !ok {
		line = "aft " + name + " [flags]"
	}
	fmt.Fprintf(os.Stderr, "usage: %s\n", line)
	n := 0
	if fs != nil {
		fs.VisitAll(func(*flag.Flag) { n++ })
	}
	if n > 0 {
		fmt.Fprintln(os.Stderr, "\nflags:")
		fs.SetOutput(os.Stderr)
		fs.PrintDefaults()
	}
}

// help answers -h, -help or --help as the first of args with the usage of `aft name`
// (exit status 2, as for flags); ok is false for other args.
func help(name string, args []string) (err error, ok bool) {
	if len(args) == 0 || (args[0] != "-h" && args[0] != "-help" && args[0] != "--help") {
		return nil, false
	}
	printUsage(name, nil)
	return &usageError{flag.ErrHelp}, true
}

// size is a byte count flag that accepts suffixes: 64MiB, 4KiB, 1GB, 512.
type size int64

func (s *size) String() string { return strconv.FormatInt(int64(*s), 10) }

func (s *size) Set(v string) error {
	n, err := parseSize(v)
	if err != nil {
		return err
	}
	*s = size(n)
	return nil
}

func parseSize(v string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	num, mult := strings.TrimSpace(v), int64(1)
	for _, u := range units {
		if strings.HasSuffix(num, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("bad size %q: want a number of bytes with an optional unit, such as 64MiB", v)
	}
	return n * mult, nil
}

// urlList is a flag of comma-separated base URLs.
type urlList []string

func (l *urlList) String() string { return strings.Join(*l, ",") }

func (l *urlList) Set(s string) error {
	*l = nil
	for _, u := range strings.Split(s, ",") {
		if u = strings.TrimSpace(u); u == "" {
			continue
		}
		if err := checkURL("shim-nodes", u); err != nil {
			return err
		}
		*l = append(*l, u)
	}
	return nil
}
