// Command aft is the fault-tolerance shim for serverless functions: `aft serve` runs the
// shim's HTTP API (spec/http-api.md) with the command line of spec/cli.md; the other
// subcommands put functions behind it, drive it and report on it. `aft` alone lists them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// command is one subcommand. Run returns a *usageError for bad flags or arguments.
type command interface {
	Run(ctx context.Context, args []string) error
}

// commands are the subcommands, in the order `aft` lists them, each with one line.
var commands = []struct {
	name, summary string
	new           func() command
}{
	{"serve", "run the shim: the HTTP API over a store (spec/http-api.md)", func() command { return &serveCmd{} }},
	{"token", "make a token for a tenant: aft token new TENANT (for --auth-file)", func() command { return tokenCmd{} }},
	{"proxy", "put the middleware in front of one function (spec/middleware.md)", func() command { return &proxyCmd{} }},
	{"webhook", "the Knative webhook: aft proxy into annotated Services (cli.md)", func() command { return webhookCmd{} }},
	{"provider", "an OpenFaaS provider: openfaas (the aft plugin) or local (functions as processes)", func() command { return providerCmd{} }},
	{"dlq", "list or replay the requests the middleware gave up on", func() command { return &dlqCmd{} }},
	{"demo", "show atomic visibility and exactly-once on a running shim", func() command { return &demoCmd{} }},
	{"workloads", "replay retries, crashes, duplicates and zombies, plain vs aft, and count anomalies", func() command { return &workloadsCmd{} }},
	{"bench", "measure throughput and latency of aft against the store alone", func() command { return &benchCmd{} }},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:]))
}

func run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		printCommands(os.Stderr)
		return 2
	}
	var cmd command
	for _, c := range commands {
		if c.name == args[0] {
			cmd = c.new()
		}
	}
	if cmd == nil {
		if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
			printCommands(os.Stdout)
			return 0
		}
		// One line, as for any bad argument (spec/cli.md).
		fmt.Fprintf(os.Stderr, "aft: unknown command %q (aft alone lists the commands)\n", args[0])
		return 2
	}
	err := cmd.Run(ctx, args[1:])
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 2 // the usage is printed
	case errors.As(err, &ue):
		fmt.Fprintf(os.Stderr, "aft %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(os.Stderr, "aft %s: %v\n", args[0], err)
		return 1
	}
}

// printCommands lists the subcommands, one line each.
func printCommands(w io.Writer) {
	fmt.Fprintln(w, "usage: aft <command> [flags]   (aft <command> -h lists its flags)")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
}
