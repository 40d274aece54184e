// Package faults wraps any store.Store with injected latency and failures: a storage
// round trip on one machine that models a cloud store's (aft serve --store-latency), and
// the throttling, transient errors, ambiguous writes and outages that tests replay.
package faults

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aft-shim/aft/shim/store"
)

// ErrInjected is the error of every injected failure.
var ErrInjected = errors.New("injected storage fault")

// Options configure a Store. The zero value injects nothing.
type Options struct {
	Latency time.Duration // added to every call
	Jitter  time.Duration // plus a uniform random extra in [0, Jitter)
	// FailRate is the probability that a call fails before it reaches the store.
	FailRate float64
	// AmbiguousRate is the probability that a write (Put, Create, Delete, PutCreate) reaches
	// the store and then reports failure anyway: the caller cannot tell it happened, as with
	// a timeout after the server applied the request.
	AmbiguousRate float64
	Seed          int64 // of the random choices; 0 picks one from the clock
}

// Store injects faults around another store. It is safe for concurrent use.
type Store struct {
	s    store.Store
	mu   sync.Mutex
	o    Options
	rng  *rand.Rand
	down atomic.Bool

	injected atomic.Int64
}

var _ store.Store = (*Store)(nil)

// Wrap returns s with faults, to use in its place (a store.Committer and a store.Ordered
// when s is one), and the *Store that controls the faults.
func Wrap(s store.Store, o Options) (store.Store, *Store) {
	f := New(s, o)
	c, isC := s.(store.Committer)
	l, isL := s.(store.Ordered)
	switch {
	case isC && isL:
		return &committerOrderedStore{committerStore{Store: f, c: c}, l}, f
	case isC:
		return &committerStore{Store: f, c: c}, f
	case isL:
		return &orderedStore{Store: f, l: l}, f
	}
	return f, f
}

// New returns s with faults, as a *Store (without store.Committer).
func New(s store.Store, o Options) *Store {
	seed := o.Seed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	return &Store{s: s, o: o, rng: rand.New(rand.NewSource(seed))}
}

// Set replaces the options, for faults that come and go during a run.
func (f *Store) Set(o Options) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.o = o
}

// SetDown makes every call fail (an outage) until SetDown(false).
func (f *Store) SetDown(down bool) { f.down.Store(down) }

// Injected returns how many failures were injected so far.
func (f *Store) Injected() int64 { return f.injected.Load() }

// before waits the latency and decides the fate of one call: an error to return without
// calling the store, or whether to report failure after a write.
func (f *Store) before(ctx context.Context, op string, write bool) (ambiguous bool, err error) {
	f.mu.Lock()
	o := f.o
	delay := o.Latency
	if o.Jitter > 0 {
		delay += time.Duration(f.rng.Int63n(int64(o.Jitter)))
	}
	fail := o.FailRate > 0 && f.rng.Float64() < o.FailRate
	ambiguous = write && o.AmbiguousRate > 0 && f.rng.Float64() < o.AmbiguousRate
	f.mu.Unlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return false, fmt.Errorf("faults %s: %w", op, ctx.Err())
		}
	}
	if f.down.Load() {
		f.injected.Add(1)
		return false, fmt.Errorf("faults %s: store down: %w", op, ErrInjected)
	}
	if fail {
		f.injected.Add(1)
		return false, fmt.Errorf("faults %s: %w", op, ErrInjected)
	}
	return ambiguous, nil
}

// after turns the outcome of a write into an ambiguous failure when chosen to.
func (f *Store) after(op string, ambiguous bool, err error) error {
	if err == nil && ambiguous {
		f.injected.Add(1)
		return fmt.Errorf("faults %s: applied, then reported lost: %w", op, ErrInjected)
	}
	return err
}

// Get implements store.Store.
func (f *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if _, err := f.before(ctx, "get", false); err != nil {
		return nil, err
	}
	return f.s.Get(ctx, key)
}

// Put implements store.Store.
func (f *Store) Put(ctx context.Context, items []store.Item) error {
	amb, err := f.before(ctx, "put", true)
	if err != nil {
		return err
	}
	return f.after("put", amb, f.s.Put(ctx, items))
}

// Create implements store.Store.
func (f *Store) Create(ctx context.Context, key string, value []byte) error {
	amb, err := f.before(ctx, "create", true)
	if err != nil {
		return err
	}
	return f.after("create", amb, f.s.Create(ctx, key, value))
}

// Delete implements store.Store.
func (f *Store) Delete(ctx context.Context, keys []string) error {
	amb, err := f.before(ctx, "delete", true)
	if err != nil {
		return err
	}
	return f.after("delete", amb, f.s.Delete(ctx, keys))
}

// List implements store.Store.
func (f *Store) List(ctx context.Context, prefix string, withValues bool, fn func(string, []byte) error) error {
	if _, err := f.before(ctx, "list", false); err != nil {
		return err
	}
	return f.s.List(ctx, prefix, withValues, fn)
}

// Close closes the wrapped store.
func (f *Store) Close() error { return f.s.Close() }

// MaxValueSize passes the wrapped store's limit through.
func (f *Store) MaxValueSize() int {
	if l, ok := f.s.(store.Limiter); ok {
		return l.MaxValueSize()
	}
	return 1 << 30
}

// committerStore is a Store over a store.Committer.
type committerStore struct {
	*Store
	c store.Committer
}

// PutCreate implements store.Committer.
func (f *committerStore) PutCreate(ctx context.Context, items []store.Item, key string, value []byte) error {
	amb, err := f.before(ctx, "put-create", true)
	if err != nil {
		return err
	}
	return f.after("put-create", amb, f.c.PutCreate(ctx, items, key, value))
}

// orderedStore is a Store over a store.Ordered.
type orderedStore struct {
	*Store
	l store.Ordered
}

// ListAfter implements store.Ordered.
func (f *orderedStore) ListAfter(ctx context.Context, dir, after string, limit int, fn func(string) error) error {
	return f.listAfter(ctx, f.l, dir, after, limit, fn)
}

// committerOrderedStore is a Store over a store that is both a store.Committer and a
// store.Ordered.
type committerOrderedStore struct {
	committerStore
	l store.Ordered
}

// ListAfter implements store.Ordered.
func (f *committerOrderedStore) ListAfter(ctx context.Context, dir, after string, limit int, fn func(string) error) error {
	return f.listAfter(ctx, f.l, dir, after, limit, fn)
}

func (f *Store) listAfter(ctx context.Context, l store.Ordered, dir, after string, limit int, fn func(string) error) error {
	if _, err := f.before(ctx, "list-after", false); err != nil {
		return err
	}
	return l.ListAfter(ctx, dir, after, limit, fn)
}

// Unwrap returns the store under the faults.
func (f *Store) Unwrap() store.Store { return f.s }
