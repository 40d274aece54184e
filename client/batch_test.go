package client_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/shim/shimtest"
)

func TestBatch(t *testing.T) {
	ctx := context.Background()
	_, c := shimtest.Start(t)
	shimtest.Seed(t, c, "b", "committed")
	tx, err := c.Begin(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Batch(ctx, tx.ID, client.WriteOp("a", []byte("mine")), client.ReadOp("a"), client.ReadOp("b"),
		client.ReadOp("missing"), client.DeleteOp("b"), client.ReadOp("b"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 6 || res[0].Err != nil || string(res[1].Value.Bytes) != "mine" || !res[1].Value.OwnWrite ||
		string(res[2].Value.Bytes) != "committed" || res[2].Value.Version == "" ||
		!errors.Is(res[3].Err, client.ErrKeyNotFound) || res[4].Err != nil || !errors.Is(res[5].Err, client.ErrKeyNotFound) {
		t.Fatalf("batch results: %+v", res)
	}
	if _, err := c.Commit(ctx, tx.ID, nil); err != nil {
		t.Fatal(err)
	}
	shimtest.Want(t, c, map[string]string{"a": "mine"}, "b")
	if _, err := c.Batch(ctx, tx.ID, client.ReadOp("a")); !errors.Is(err, client.ErrCommitted) {
		t.Errorf("batch in a committed transaction: %v, want ErrCommitted", err)
	}
}

func TestBeginBatch(t *testing.T) {
	ctx := context.Background()
	_, c := shimtest.Start(t)
	tx, res, err := c.BeginBatch(ctx, client.BeginOptions{IdemKey: "req"}, client.WriteOp("x", []byte("1")), client.ReadOp("x"))
	if err != nil || tx.Status != "running" || len(res) != 2 || string(res[1].Value.Bytes) != "1" {
		t.Fatalf("BeginBatch = %+v, %+v, %v", tx, res, err)
	}
	if _, err := c.Commit(ctx, tx.ID, []byte("done")); err != nil {
		t.Fatal(err)
	}
	again, res, err := c.BeginBatch(ctx, client.BeginOptions{IdemKey: "req"}, client.WriteOp("y", []byte("2")))
	if err != nil || !again.Committed() || again.ID != tx.ID || string(again.Result) != "done" || res != nil {
		t.Errorf("BeginBatch of a committed key = %+v, %+v, %v; want the winner and no results", again, res, err)
	}
	shimtest.Want(t, c, map[string]string{"x": "1"}, "y")
}
