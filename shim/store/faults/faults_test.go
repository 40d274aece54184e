package faults

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aft-shim/aft/shim/store"
	"github.com/aft-shim/aft/shim/store/mem"
	"github.com/aft-shim/aft/shim/store/storetest"
)

// With no faults set, the wrapper is the store: it passes the conformance suite.
func TestConformanceWithoutFaults(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { s, _ := Wrap(mem.New(), Options{}); return s })
}

func TestFaults(t *testing.T) {
	ctx := context.Background()
	inner := mem.New()
	f := New(inner, Options{FailRate: 1, Seed: 1})
	if err := f.Put(ctx, []store.Item{{Key: "k", Value: []byte("v")}}); !errors.Is(err, ErrInjected) {
		t.Fatalf("Put with FailRate 1: %v", err)
	}
	if _, err := inner.Get(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a failed-before call reached the store: %v", err)
	}
	f.Set(Options{AmbiguousRate: 1, Seed: 1})
	if err := f.Create(ctx, "k", []byte("v")); !errors.Is(err, ErrInjected) {
		t.Fatalf("Create with AmbiguousRate 1: %v", err)
	}
	if v, err := inner.Get(ctx, "k"); err != nil || string(v) != "v" {
		t.Errorf("an ambiguous write was not applied: %q, %v", v, err)
	}
	if _, err := f.Get(ctx, "k"); err != nil {
		t.Errorf("reads are never ambiguous: %v", err)
	}
	f.Set(Options{})
	f.SetDown(true)
	if _, err := f.Get(ctx, "k"); !errors.Is(err, ErrInjected) {
		t.Errorf("Get while down: %v", err)
	}
	f.SetDown(false)
	if _, err := f.Get(ctx, "k"); err != nil {
		t.Errorf("Get after the outage: %v", err)
	}
	if got := f.Injected(); got != 3 {
		t.Errorf("Injected = %d, want 3", got)
	}
}

func TestLatency(t *testing.T) {
	f, _ := Wrap(mem.New(), Options{Latency: 20 * time.Millisecond})
	start := time.Now()
	f.Get(context.Background(), "k")
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Errorf("Get took %v, want at least the injected 20ms", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	slow, _ := Wrap(mem.New(), Options{Latency: time.Hour})
	if _, err := slow.Get(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled call waited out the latency: %v", err)
	}
	if !isCommitter(f) {
		t.Error("the wrapper of a Committer is not one")
	}
	if plain, _ := Wrap(struct{ store.Store }{mem.New()}, Options{}); isCommitter(plain) {
		t.Error("the wrapper of a plain store claims to be a Committer")
	}
}

func isCommitter(s store.Store) bool { _, ok := s.(store.Committer); return ok }
