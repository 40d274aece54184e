package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/aft-shim/aft/client"
)

// tenantsDemo shows a shim run with --auth-file at base: a caller without a token is
// refused, and two tenants with the same key and idempotency key names see two things.
// Their tokens are in the files a and b of dir.
func (d *demoCmd) tenantsDemo(ctx context.Context, step int, base, dir string) error {
	fmt.Fprintf(d.out, "\n%d. Tenants: a shim with --auth-file at %s, tokens of tenants a and b\n", step, base)
	if _, err := client.New(base).Begin(ctx, ""); !errors.Is(err, client.ErrUnauthorized) {
		return fmt.Errorf("a begin without a token: %v, want 401 unauthorized", err)
	}
	d.say("without a token: refused (401 unauthorized)")
	var c [2]*client.Client
	for i, name := range []string{"a", "b"} {
		opts, err := client.Credentials{TokenFile: filepath.Join(dir, name)}.Options()
		if err != nil {
			return err
		}
		c[i] = client.New(base, opts...)
	}
	a, b := c[0], c[1]
	tx, err := a.Begin(ctx, "order-1")
	if err != nil {
		return err
	}
	if err := a.Put(ctx, tx.ID, "stock", []byte("10")); err != nil {
		return err
	}
	if _, err := a.Commit(ctx, tx.ID, []byte("order-1 done for a")); err != nil {
		return err
	}
	d.say("tenant a committed stock=10 under idempotency key order-1 (%s)", short(tx.ID))
	if _, err := b.Status(ctx, tx.ID); !errors.Is(err, client.ErrTxnNotFound) {
		return fmt.Errorf("tenant b asked for a's transaction: %v, want txn_not_found", err)
	}
	d.say("tenant b asks for a's transaction %s: not found", short(tx.ID))
	tb, err := b.Begin(ctx, "order-1")
	if err != nil {
		return err
	}
	defer b.Abort(ctx, tb.ID)
	if tb.Committed() {
		return fmt.Errorf("tenant b's begin of order-1 found a's commit")
	}
	if _, err := b.Get(ctx, tb.ID, "stock"); !errors.Is(err, client.ErrKeyNotFound) {
		return fmt.Errorf("tenant b read stock: %v, want key_not_found", err)
	}
	d.say("tenant b begins order-1: a new attempt of its own; b reads stock: not found (a's stock is a's)")
	return nil
}
