// Command aft is the fault-tolerance shim for serverless functions: `aft serve` runs the
// shim's HTTP API (spec/http-api.md) with the command line of spec/cli.md; `aft demo` and
// `aft bench` drive a running shim.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// command is one subcommand. Run returns a *usageError for bad flags or arguments.
type command interface {
	Run(ctx context.Context, args []string) error
}

var commands = map[string]func() command{
	"serve":     func() command { return &serveCmd{} },
	"demo":      func() command { return &demoCmd{} },
	"bench":     func() command { return &benchCmd{} },
	"provider":  func() command { return providerCmd{} },
	"proxy":     func() command { return &proxyCmd{} },
	"dlq":       func() command { return &dlqCmd{} },
	"workloads": func() command { return &workloadsCmd{} },
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:]))
}

func run(ctx context.Context, args []string) int {
	if len(args) == 0 || commands[args[0]] == nil {
		fmt.Fprintln(os.Stderr, "usage: aft serve|demo|bench [flags]   (aft <command> -h lists the flags)")
		return 2
	}
	err := commands[args[0]]().Run(ctx, args[1:])
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(os.Stderr, "aft %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(os.Stderr, "aft %s: %v\n", args[0], err)
		return 1
	}
}
