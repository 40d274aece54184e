package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/middleware/dlq"
)

// dlqCmd is `aft dlq list|replay`: the dead requests the middleware recorded in the shim.
type dlqCmd struct{}

const dlqUsage = "want `aft dlq list --shim URL [--json]` or `aft dlq replay --shim URL --target URL (--key K | --all)`"

func (d dlqCmd) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usage("%s", dlqUsage)
	}
	if err, ok := help("dlq", args); ok {
		return err
	}
	switch args[0] {
	case "list":
		return d.list(ctx, args[1:], os.Stdout)
	case "replay":
		return d.replay(ctx, args[1:], os.Stdout)
	}
	return usage("unknown dlq command %q: %s", args[0], dlqUsage)
}

// shimFlags are --shim and the credentials to present there.
type shimFlags struct {
	url   string
	creds shimCreds
}

// newShimFlags adds --shim, --shim-token-file and --shim-ca to fs.
func newShimFlags(fs *flag.FlagSet) *shimFlags {
	f := &shimFlags{}
	fs.StringVar(&f.url, "shim", "http://127.0.0.1:7654", "base URL of the shim")
	f.creds.register(fs)
	return f
}

// client returns a client of the shim, after parseFlags.
func (f *shimFlags) client() (*client.Client, error) {
	if err := checkURL("shim", f.url); err != nil {
		return nil, err
	}
	opts, err := f.creds.options()
	if err != nil {
		return nil, err
	}
	return client.New(f.url, opts...), nil
}

func checkURL(flagName, v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usage("--%s %q: want http(s)://host:port", flagName, v)
	}
	return nil
}

func (dlqCmd) list(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("dlq list", flag.ContinueOnError)
	shim := newShimFlags(fs)
	asJSON := fs.Bool("json", false, "print the entries as JSON lines, with their requests")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	c, err := shim.client()
	if err != nil {
		return err
	}
	es, err := dlq.List(ctx, c)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(out)
		for _, e := range es {
			if err := enc.Encode(e); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tFUNCTION\tATTEMPTS\tTIME\tREQUEST\tLAST ERROR")
	for _, e := range es {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s %s\t%s\n", printable(e.Key), printable(e.Function), e.Attempts,
			e.Time.Format(time.RFC3339), e.Request.Method, printable(e.Request.URL), printable(e.LastError))
	}
	return tw.Flush()
}

// printable quotes s when it is empty or holds characters that would break a table line.
func printable(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	if s == "" {
		return `""`
	}
	return s
}

func (dlqCmd) replay(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("dlq replay", flag.ContinueOnError)
	shim := newShimFlags(fs)
	target := fs.String("target", "", "base URL of the proxy or gateway in front of the function (required)")
	key := fs.String("key", "", "replay the dead request with this idempotency key")
	all := fs.Bool("all", false, "replay every dead request")
	timeout := fs.Duration("timeout", time.Minute, "bound on one replayed request")
	var headers headerFlag
	fs.Var(&headers, "header", "add this header to every replayed request, 'Name: value' (repeatable; for credentials, which are not recorded)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	c, err := shim.client()
	if err != nil {
		return err
	}
	if err := checkURL("target", *target); err != nil {
		return err
	}
	if (*key == "") == !*all {
		return usage("give either --key K or --all")
	}
	var es []dlq.Entry
	if *all {
		if es, err = dlq.List(ctx, c); err != nil {
			return err
		}
	} else {
		e, err := dlq.Get(ctx, c, *key)
		if err != nil {
			return err
		}
		es = []dlq.Entry{e}
	}
	failed := 0
	for _, e := range es {
		rctx, cancel := context.WithTimeout(ctx, *timeout)
		status, err := dlq.Replay(rctx, c, *target, e, dlq.ReplayOptions{Header: http.Header(headers)})
		cancel()
		if err != nil {
			failed++
			fmt.Fprintf(out, "%s: kept: %v\n", printable(e.Key), err)
			continue
		}
		fmt.Fprintf(out, "%s: %d %s, removed\n", printable(e.Key), status, http.StatusText(status))
	}
	fmt.Fprintf(out, "%d replayed, %d kept\n", len(es)-failed, failed)
	if failed > 0 {
		return fmt.Errorf("dlq replay: %d of %d requests failed again", failed, len(es))
	}
	return nil
}

// headerFlag collects repeated --header "Name: value" flags.
type headerFlag http.Header

func (h *headerFlag) String() string { return fmt.Sprint(http.Header(*h)) }

func (h *headerFlag) Set(v string) error {
	name, value, ok := strings.Cut(v, ":")
	if !ok || strings.TrimSpace(name) == "" {
		return errors.New(`want "Name: value"`)
	}
	if *h == nil {
		*h = headerFlag{}
	}
	http.Header(*h).Add(strings.TrimSpace(name), strings.TrimSpace(value))
	return nil
}
