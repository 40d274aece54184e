// Package mem is an in-memory store.Store: a map behind a read-write mutex. It keeps
// nothing across processes, so it serves the unit tests of the protocol, not production.
//
// It follows the store contract to the letter, including what callers must not rely on:
// List visits keys in Go's random map order.
package mem

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/aft-shim/aft/shim/store"
)

// DefaultMaxValueSize is the value size limit of a Store made with a zero MaxValueSize; it
// matches the default of the embedded durable store.
const DefaultMaxValueSize = 64 << 20

// ErrClosed is returned by every method called after Close.
var ErrClosed = errors.New("store closed")

// Options configures a Store. The zero value is the default.
type Options struct {
	// MaxValueSize is the largest value Put and Create accept, in bytes; 0 means
	// DefaultMaxValueSize.
	MaxValueSize int
}

// Store is an in-memory store.Store, safe for concurrent use.
type Store struct {
	maxValue int

	mu     sync.RWMutex
	m      map[string][]byte // values are never modified once stored
	closed bool
}

var (
	_ store.Store     = (*Store)(nil)
	_ store.Limiter   = (*Store)(nil)
	_ store.Committer = (*Store)(nil)
	_ store.Ordered   = (*Store)(nil)
)

// New returns an empty Store with the default options.
func New() *Store { return NewWithOptions(Options{}) }

// NewWithOptions returns an empty Store configured by opts.
func NewWithOptions(opts Options) *Store {
	if opts.MaxValueSize <= 0 {
		opts.MaxValueSize = DefaultMaxValueSize
	}
	return &Store{maxValue: opts.MaxValueSize, m: make(map[string][]byte)}
}

// MaxValueSize is the largest value, in bytes, that Put and Create accept.
func (s *Store) MaxValueSize() int { return s.maxValue }

// clone copies b into a new slice that is never nil, so that a 0-byte value stays a value.
func clone(b []byte) []byte {
	out := make([]byte, len(b))
	copy(out, b)
	return out
}

// check returns the error a call must fail with before touching the map, if any. It is
// called with s.mu held.
func (s *Store) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed {
		return ErrClosed
	}
	return nil
}

// Get returns the value of key, or an error wrapping store.ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx); err != nil {
		return nil, fmt.Errorf("mem get %s: %w", key, err)
	}
	v, ok := s.m[key]
	if !ok {
		return nil, fmt.Errorf("mem get %s: %w", key, store.ErrNotFound)
	}
	return clone(v), nil
}

// Put writes every item, overwriting existing values. When any value is over the limit it
// writes none of them and returns a *store.TooLargeError.
func (s *Store) Put(ctx context.Context, items []store.Item) error {
	return s.write(ctx, "put", items, false)
}

// Create writes key only if it holds no value, and returns an error wrapping
// store.ErrExists otherwise.
func (s *Store) Create(ctx context.Context, key string, value []byte) error {
	return s.write(ctx, "create", []store.Item{{Key: key, Value: value}}, true)
}

// PutCreate writes items and creates key atomically: when key exists, nothing is written
// and the error wraps store.ErrExists.
func (s *Store) PutCreate(ctx context.Context, items []store.Item, key string, value []byte) error {
	all := append(append(make([]store.Item, 0, len(items)+1), items...), store.Item{Key: key, Value: value})
	return s.write(ctx, "put-create", all, true)
}

// write stores copies of items under the lock, all or nothing. With create, the last item
// is created: when its key exists, nothing is written and the error wraps ErrExists.
func (s *Store) write(ctx context.Context, op string, items []store.Item, create bool) error {
	values := make([][]byte, len(items))
	for i, it := range items {
		if len(it.Value) > s.maxValue {
			return fmt.Errorf("mem %s: %w", op, &store.TooLargeError{Key: it.Key, Size: len(it.Value), Limit: s.maxValue})
		}
		values[i] = clone(it.Value)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return fmt.Errorf("mem %s: %w", op, err)
	}
	if create {
		key := items[len(items)-1].Key
		if _, ok := s.m[key]; ok {
			return fmt.Errorf("mem %s %s: %w", op, key, store.ErrExists)
		}
	}
	for i, it := range items {
		s.m[it.Key] = values[i]
	}
	return nil
}

// Delete removes the keys; missing keys are not an error.
func (s *Store) Delete(ctx context.Context, keys []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return fmt.Errorf("mem delete: %w", err)
	}
	for _, key := range keys {
		delete(s.m, key)
	}
	return nil
}

// List calls fn for every key that starts with prefix, in random order, with a copy of its
// value when withValues is true. It works on a snapshot taken when it starts, and calls fn
// without holding the lock, so fn may call the store.
func (s *Store) List(ctx context.Context, prefix string, withValues bool, fn func(key string, value []byte) error) error {
	s.mu.RLock()
	if err := s.check(ctx); err != nil {
		s.mu.RUnlock()
		return fmt.Errorf("mem list %s: %w", prefix, err)
	}
	var snap []store.Item
	for k, v := range s.m {
		if strings.HasPrefix(k, prefix) {
			snap = append(snap, store.Item{Key: k, Value: v})
		}
	}
	s.mu.RUnlock()
	for _, it := range snap {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("mem list %s: %w", prefix, err)
		}
		var v []byte
		if withValues {
			v = clone(it.Value)
		}
		if err := fn(it.Key, v); err != nil {
			return err
		}
	}
	return nil
}

// ListAfter calls fn in key order for up to limit keys that start with dir and sort after
// after. It sorts a snapshot of the matching keys, taken when it starts, and calls fn
// without holding the lock.
func (s *Store) ListAfter(ctx context.Context, dir, after string, limit int, fn func(key string) error) error {
	s.mu.RLock()
	if err := s.check(ctx); err != nil {
		s.mu.RUnlock()
		return fmt.Errorf("mem list-after %s: %w", dir, err)
	}
	var keys []string
	for k := range s.m {
		if strings.HasPrefix(k, dir) && k > after {
			keys = append(keys, k)
		}
	}
	s.mu.RUnlock()
	slices.Sort(keys)
	for _, k := range keys[:min(len(keys), limit)] {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("mem list-after %s: %w", dir, err)
		}
		if err := fn(k); err != nil {
			return err
		}
	}
	return nil
}

// Close releases the map. Every call after it returns an error wrapping ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("mem close: %w", ErrClosed)
	}
	s.closed = true
	s.m = nil
	return nil
}
