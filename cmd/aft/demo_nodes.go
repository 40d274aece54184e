package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aft-shim/aft/client"
)

// nodesDemo shows two shim nodes on one shared store: a commit on one is read on the
// other, at once with Aft-After, and within the sync interval without it.
func (d *demoCmd) nodesDemo(ctx context.Context, step int, a, b string) error {
	fmt.Fprintf(d.out, "\n%d. Several shim nodes on one store: a commit on %s, read on %s\n", step, a, b)
	ca, cb := client.New(a), client.New(b)
	w, err := ca.Begin(ctx, "")
	if err != nil {
		return err
	}
	for _, k := range []string{"nodes/x", "nodes/y"} {
		if err := ca.Put(ctx, w.ID, k, []byte("from node A")); err != nil {
			return err
		}
	}
	done, err := ca.Commit(ctx, w.ID, nil)
	if err != nil {
		return err
	}
	d.say("node A committed nodes/x and nodes/y: version %s", done.Version)

	r, err := cb.BeginWith(ctx, client.BeginOptions{After: done.Version})
	if err != nil {
		return fmt.Errorf("begin on node B after %s: %w", done.Version, err)
	}
	x, errX := cb.Get(ctx, r.ID, "nodes/x")
	y, errY := cb.Get(ctx, r.ID, "nodes/y")
	cb.Abort(ctx, r.ID)
	if err := errors.Join(errX, errY); err != nil || string(x.Bytes) != "from node A" || string(y.Bytes) != "from node A" {
		return fmt.Errorf("node B, begun with Aft-After %s, read x=%q y=%q (%v)", done.Version, x.Bytes, y.Bytes, err)
	}
	d.say("node B, begun with Aft-After: %s, reads both at once: x=%q y=%q", done.Version, x.Bytes, y.Bytes)

	// Without Aft-After: a commit reaches the other node by a peer push, or from the
	// store's commit log within the sync interval.
	w, err = ca.Begin(ctx, "")
	if err != nil {
		return err
	}
	ca.Put(ctx, w.ID, "nodes/x", []byte("second"))
	ca.Put(ctx, w.ID, "nodes/y", []byte("second"))
	if _, err := ca.Commit(ctx, w.ID, nil); err != nil {
		return err
	}
	start := time.Now()
	for {
		r, err := cb.Begin(ctx, "")
		if err != nil {
			return err
		}
		x, _ := cb.Get(ctx, r.ID, "nodes/x")
		y, _ := cb.Get(ctx, r.ID, "nodes/y")
		cb.Abort(ctx, r.ID)
		if string(x.Bytes) != string(y.Bytes) {
			return fmt.Errorf("node B read half a commit: x=%q y=%q", x.Bytes, y.Bytes)
		}
		if string(x.Bytes) == "second" {
			d.say("a second commit on node A showed on node B, whole, %v later (no Aft-After)", time.Since(start).Round(time.Millisecond))
			return nil
		}
		if time.Since(start) > 5*time.Second {
			return errors.New("node B did not learn node A's commit in 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
