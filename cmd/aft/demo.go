package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/aft-shim/aft/client"
)

// demoCmd walks through what aft guarantees, against a running shim, printing each step.
type demoCmd struct {
	shim   string
	plugin string // base URL of aft provider openfaas, for the OpenFaaS part
	bin    string // folder with the example function binaries
	out    io.Writer
	first  string // the attempt that crashed in step 2
	nodes  string // "A,B": two shim nodes on one shared store, for the several-nodes part
	// A shim run with --auth-file, and the folder of the token files a and b of its tenants.
	tenants, tokens string
}

func (d *demoCmd) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.StringVar(&d.shim, "shim", "http://127.0.0.1:7654", "base URL of the shim")
	fs.StringVar(&d.plugin, "plugin", "", "base URL of aft provider openfaas in front of aft provider local: also run the OpenFaaS part")
	fs.StringVar(&d.nodes, "nodes", "", "two base URLs, A,B, of shim nodes on one shared store: also show a commit on A read on B")
	fs.StringVar(&d.tenants, "tenants", "", "base URL of a shim run with --auth-file: also show tenants (with --tenant-tokens)")
	fs.StringVar(&d.tokens, "tenant-tokens", "", "folder holding the token files a and b of two tenants of the --tenants shim")
	fs.StringVar(&d.bin, "functions", "bin", "folder with the fn-order and fn-reserve example binaries (make run builds them)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if d.out == nil {
		d.out = os.Stdout
	}
	c := client.New(d.shim)
	steps := []struct {
		title string
		run   func(context.Context, *client.Client) error
	}{
		{"1. Atomic commit: two accounts funded in one transaction", d.fund},
		{"2. A function that dies half way, then its retry: nobody sees half a transfer", d.crashAndRetry},
		{"3. A zombie attempt that wakes up after its retry committed: fenced", d.zombie},
		{"4. A duplicate request: answered from the stored result, nothing runs twice", d.duplicate},
		{"5. Atomic visibility: a reader never mixes two transfers", d.atomicRead},
	}
	for _, s := range steps {
		fmt.Fprintf(d.out, "\n%s\n", s.title)
		if err := s.run(ctx, c); err != nil {
			return fmt.Errorf("%s: %w", s.title, err)
		}
	}
	step := 6
	if d.plugin != "" {
		o := &openfaasDemo{d: d, plugin: d.plugin, bin: d.bin, shim: c}
		if err := o.run(ctx); err != nil {
			return err
		}
		step++
	}
	if d.nodes != "" {
		a, b, ok := strings.Cut(d.nodes, ",")
		if !ok {
			return usage("--nodes %q: want two base URLs, A,B", d.nodes)
		}
		if err := d.nodesDemo(ctx, step, a, b); err != nil {
			return err
		}
		step++
	}
	if d.tenants != "" {
		if err := d.tenantsDemo(ctx, step, d.tenants, d.tokens); err != nil {
			return err
		}
	}
	fmt.Fprintln(d.out, "\ndemo done: every guarantee held.")
	return nil
}

func (d *demoCmd) say(format string, args ...any) { fmt.Fprintf(d.out, "   "+format+"\n", args...) }

// balances reads both accounts in one fresh transaction.
func (d *demoCmd) balances(ctx context.Context, c *client.Client) (alice, bob int, err error) {
	t, err := c.Begin(ctx, "")
	if err != nil {
		return 0, 0, err
	}
	defer c.Abort(ctx, t.ID)
	if alice, err = readInt(ctx, c, t.ID, "balance/alice"); err != nil {
		return 0, 0, err
	}
	bob, err = readInt(ctx, c, t.ID, "balance/bob")
	return alice, bob, err
}

func readInt(ctx context.Context, c *client.Client, id, key string) (int, error) {
	v, err := c.Get(ctx, id, key)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(string(v.Bytes))
}

func (d *demoCmd) fund(ctx context.Context, c *client.Client) error {
	t, err := c.Begin(ctx, "")
	if err != nil {
		return err
	}
	c.Put(ctx, t.ID, "balance/alice", []byte("100"))
	c.Put(ctx, t.ID, "balance/bob", []byte("100"))
	info, err := c.Commit(ctx, t.ID, nil)
	if err != nil {
		return err
	}
	a, b, err := d.balances(ctx, c)
	d.say("committed %s at version %s: alice=%d bob=%d", short(t.ID), info.Version, a, b)
	return err
}

// transfer moves amount from alice to bob in attempt id, optionally stopping half way.
func (d *demoCmd) transfer(ctx context.Context, c *client.Client, id string, amount int, halfWay bool) error {
	a, err := readInt(ctx, c, id, "balance/alice")
	if err != nil {
		return err
	}
	b, err := readInt(ctx, c, id, "balance/bob")
	if err != nil {
		return err
	}
	if err := c.Put(ctx, id, "balance/alice", []byte(strconv.Itoa(a-amount))); err != nil || halfWay {
		return err
	}
	return c.Put(ctx, id, "balance/bob", []byte(strconv.Itoa(b+amount)))
}

func (d *demoCmd) crashAndRetry(ctx context.Context, c *client.Client) error {
	first, err := c.Begin(ctx, "transfer-1")
	if err != nil {
		return err
	}
	d.transfer(ctx, c, first.ID, 30, true)
	d.say("attempt %d (%s) debited alice by 30 and crashed before crediting bob", first.Attempt, short(first.ID))
	a, b, err := d.balances(ctx, c)
	d.say("a reader meanwhile sees alice=%d bob=%d (total %d): the half-done write is invisible", a, b, a+b)
	if err != nil || a+b != 200 {
		return fmt.Errorf("reader saw a partial transfer: alice=%d bob=%d %v", a, b, err)
	}
	retry, err := c.Begin(ctx, "transfer-1")
	if err != nil {
		return err
	}
	if err := d.transfer(ctx, c, retry.ID, 30, false); err != nil {
		return err
	}
	if _, err := c.Commit(ctx, retry.ID, []byte("moved 30")); err != nil {
		return err
	}
	a, b, err = d.balances(ctx, c)
	d.say("the platform retried: attempt %d (%s) committed: alice=%d bob=%d", retry.Attempt, short(retry.ID), a, b)
	d.first = first.ID
	return err
}

func (d *demoCmd) zombie(ctx context.Context, c *client.Client) error {
	_, err := c.Commit(ctx, d.first, []byte("zombie"))
	var ce *client.Error
	if !errors.Is(err, client.ErrFenced) || !errors.As(err, &ce) {
		return fmt.Errorf("zombie commit: got %v, want fenced", err)
	}
	a, b, err := d.balances(ctx, c)
	d.say("attempt 1 woke up and tried to commit: %d %s (winner %s); balances stay alice=%d bob=%d", ce.StatusCode, ce.Code, short(ce.Winner), a, b)
	return err
}

func (d *demoCmd) duplicate(ctx context.Context, c *client.Client) error {
	t, err := c.Begin(ctx, "transfer-1")
	if err != nil {
		return err
	}
	if !t.Committed() {
		c.Abort(ctx, t.ID)
		return fmt.Errorf("begin of a committed key started attempt %s", t.ID)
	}
	d.say("the same request arrived again: begin answered %q, already committed by %s, result %q", t.Status, short(t.ID), t.Result)
	return nil
}

func (d *demoCmd) atomicRead(ctx context.Context, c *client.Client) error {
	r, err := c.Begin(ctx, "")
	if err != nil {
		return err
	}
	defer c.Abort(ctx, r.ID)
	a, err := readInt(ctx, c, r.ID, "balance/alice")
	if err != nil {
		return err
	}
	d.say("reader %s reads alice=%d", short(r.ID), a)
	w, err := c.Begin(ctx, "transfer-2")
	if err != nil {
		return err
	}
	if err := d.transfer(ctx, c, w.ID, 50, false); err != nil {
		return err
	}
	if _, err := c.Commit(ctx, w.ID, nil); err != nil {
		return err
	}
	d.say("meanwhile transfer-2 moves 50 and commits")
	b, err := readInt(ctx, c, r.ID, "balance/bob")
	if err != nil {
		return err
	}
	d.say("the reader then reads bob=%d: total %d, the state before transfer-2 (bob after it is %d)", b, a+b, b+50)
	if a+b != 200 {
		return fmt.Errorf("fractured read: alice=%d bob=%d", a, b)
	}
	a2, b2, err := d.balances(ctx, c)
	d.say("a new reader sees alice=%d bob=%d (total %d)", a2, b2, a2+b2)
	return err
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
