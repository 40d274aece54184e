// Package bolt is the embedded durable store.Store, the shim's default: one bbolt file
// in a data directory, with every key in one bucket.
//
// Reads (Get, List) run in concurrent bbolt read transactions. Writes (Put, Create,
// Delete) go through a single writer goroutine that commits them in groups: it takes the
// first pending write, every other write pending at that moment, and applies them all in
// one bbolt transaction, so one fsync makes a whole group durable. A write returns once
// the transaction holding it has committed, or as soon as its context ends; in the latter
// case the write may still be committed, as the store copies the values it is given
// before queueing them.
package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"

	bbolt "go.etcd.io/bbolt"
	bberrors "go.etcd.io/bbolt/errors"

	"github.com/aft-shim/aft/shim/store"
)

// listPageKeys and listPageBytes bound one page of a List: the keys (and values) read in
// one read transaction, which List closes before it calls fn.
const (
	listPageKeys  = 512
	listPageBytes = 4 << 20
)

// bucket is the one bucket holding every key.
var bucket = []byte("kv")

// ErrClosed is returned by every method called after Close.
var ErrClosed = errors.New("store closed")

// Store is a store.Store in a bbolt file, safe for concurrent use.
type Store struct {
	db       *bbolt.DB
	opts     Options
	w        *batcher
	isClosed atomic.Bool
}

var (
	_ store.Store     = (*Store)(nil)
	_ store.Limiter   = (*Store)(nil)
	_ store.Committer = (*Store)(nil)
)

// Open opens, creating it if need be, the store in the file at path. The directory of path
// is created (mode 0o700) if missing; the file is created with mode 0o600. Only one process
// at a time may hold the file: Open fails after opts.LockTimeout when another does.
func Open(path string, opts Options) (*Store, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("bolt open %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("bolt open %s: %w", path, err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout:         opts.LockTimeout,
		NoSync:          opts.NoSync,
		NoFreelistSync:  true,
		FreelistType:    bbolt.FreelistMapType,
		InitialMmapSize: opts.InitialMmapSize,
	})
	if errors.Is(err, bberrors.ErrTimeout) {
		return nil, fmt.Errorf("bolt open %s: data dir %s is in use by another process (no lock within %v): %w", path, dir, opts.LockTimeout, err)
	}
	if err != nil {
		return nil, fmt.Errorf("bolt open %s: %w", path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("bolt open %s: create bucket: %w", path, err)
	}
	s := &Store{db: db, opts: opts}
	s.w = newBatcher(db, opts.MaxBatch, opts.MaxBatchBytes)
	return s, nil
}

// MaxValueSize is the largest value, in bytes, that Put and Create accept.
func (s *Store) MaxValueSize() int { return s.opts.MaxValueSize }

// Path returns the path of the data file.
func (s *Store) Path() string { return s.db.Path() }

// Stats returns the counters of the group commit.
func (s *Store) Stats() Stats { return s.w.stats() }

// usable returns the error a call must fail with before it starts, if any.
func (s *Store) usable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.isClosed.Load() {
		return ErrClosed
	}
	return nil
}

// viewErr is the error of a read transaction, with bbolt's error for a closed database
// (a read racing with Close) reported as ErrClosed.
func viewErr(err error) error {
	if errors.Is(err, bberrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

// clone copies b out of bbolt's memory map into a new slice that is never nil, so that a
// 0-byte value stays a value.
func clone(b []byte) []byte {
	out := make([]byte, len(b))
	copy(out, b)
	return out
}

// Get returns the value of key, or an error wrapping store.ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := s.usable(ctx); err != nil {
		return nil, fmt.Errorf("bolt get %s: %w", key, err)
	}
	k := []byte(key)
	var out []byte
	err := s.db.View(func(tx *bbolt.Tx) error {
		// Tell a missing key by where the cursor lands, not by a nil value, so that a
		// 0-byte value is never taken for a missing one.
		got, v := tx.Bucket(bucket).Cursor().Seek(k)
		if got == nil || !bytes.Equal(got, k) {
			return store.ErrNotFound
		}
		out = clone(v)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bolt get %s: %w", key, viewErr(err))
	}
	return out, nil
}

// tooLarge returns a *store.TooLargeError when value is over the limit.
func (s *Store) tooLarge(key string, value []byte) error {
	if len(value) > s.opts.MaxValueSize {
		return &store.TooLargeError{Key: key, Size: len(value), Limit: s.opts.MaxValueSize}
	}
	return nil
}

// Put writes every item, overwriting existing values. The items of one Put are applied in
// the same transaction (a group commit never splits a call), but should one of them fail
// the others are still committed. When any value is over the limit Put writes none of them
// and returns a *store.TooLargeError. When ctx ends while Put waits for its commit, Put
// returns the context's error but the items may still be written.
func (s *Store) Put(ctx context.Context, items []store.Item) error {
	if len(items) == 0 {
		return nil
	}
	o, err := s.newOp(opPut, items)
	if err != nil {
		return fmt.Errorf("bolt put: %w", err)
	}
	return s.w.do(ctx, o)
}

// newOp returns an op of kind over copies of items: the copies let a call return on
// cancellation while the writer still holds the op.
func (s *Store) newOp(kind opKind, items []store.Item) (*op, error) {
	o := &op{kind: kind, items: make([]store.Item, len(items)), done: make(chan error, 1)}
	for i, it := range items {
		if err := s.tooLarge(it.Key, it.Value); err != nil {
			return nil, err
		}
		o.items[i] = store.Item{Key: it.Key, Value: clone(it.Value)}
		o.bytes += len(it.Value)
	}
	return o, nil
}

// Create writes key only if it holds no value, and returns an error wrapping
// store.ErrExists otherwise. When ctx ends while Create waits for its commit, Create
// returns the context's error but the key may still be created.
func (s *Store) Create(ctx context.Context, key string, value []byte) error {
	o, err := s.newOp(opCreate, []store.Item{{Key: key, Value: value}})
	if err != nil {
		return fmt.Errorf("bolt create: %w", err)
	}
	return s.w.do(ctx, o)
}

// PutCreate writes items and creates key in one transaction (one fsync, shared with the
// group): when key exists, nothing is written and the error wraps store.ErrExists.
func (s *Store) PutCreate(ctx context.Context, items []store.Item, key string, value []byte) error {
	all := make([]store.Item, 0, len(items)+1)
	all = append(append(all, items...), store.Item{Key: key, Value: value})
	o, err := s.newOp(opPutCreate, all)
	if err != nil {
		return fmt.Errorf("bolt put-create %s: %w", key, err)
	}
	return s.w.do(ctx, o)
}

// Delete removes the keys; missing keys are not an error. When ctx ends while Delete
// waits for its commit, Delete returns the context's error but the keys may still be
// removed.
func (s *Store) Delete(ctx context.Context, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	o := &op{kind: opDelete, keys: append([]string(nil), keys...), done: make(chan error, 1)}
	return s.w.do(ctx, o)
}

// List calls fn for every key that starts with prefix, in key order, with its value when
// withValues is true. It reads the keys a page at a time, each page in its own read
// transaction, and calls fn outside any transaction, so fn may call the store and a long
// listing holds no transaction open; keys written or deleted meanwhile may or may not be
// seen, but every key present throughout is seen exactly once.
func (s *Store) List(ctx context.Context, prefix string, withValues bool, fn func(key string, value []byte) error) error {
	p := []byte(prefix)
	var after []byte // the last key of the previous page
	page := make([]store.Item, 0, listPageKeys)
	for {
		if err := s.usable(ctx); err != nil {
			return fmt.Errorf("bolt list %s: %w", prefix, err)
		}
		page = page[:0]
		more := false
		err := s.db.View(func(tx *bbolt.Tx) error {
			page, more = readPage(tx.Bucket(bucket).Cursor(), p, after, withValues, page)
			return nil
		})
		if err != nil {
			return fmt.Errorf("bolt list %s: %w", prefix, viewErr(err))
		}
		for _, it := range page {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("bolt list %s: %w", prefix, err)
			}
			if err := fn(it.Key, it.Value); err != nil {
				return err
			}
		}
		if !more {
			return nil
		}
		after = []byte(page[len(page)-1].Key)
	}
}

// readPage appends to page the keys starting with prefix that follow after (from the
// first such key when after is nil), copied out of the map, up to one page; more reports
// whether keys are left.
func readPage(c *bbolt.Cursor, prefix, after []byte, withValues bool, page []store.Item) (_ []store.Item, more bool) {
	var k, v []byte
	if after == nil {
		k, v = c.Seek(prefix)
	} else if k, v = c.Seek(after); bytes.Equal(k, after) {
		k, v = c.Next()
	}
	size := 0
	for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if len(page) == listPageKeys || size >= listPageBytes {
			return page, true
		}
		it := store.Item{Key: string(k)}
		if withValues {
			it.Value = clone(v)
			size += len(v)
		}
		page = append(page, it)
	}
	return page, false
}

// Close waits for the writes already submitted to commit, then closes the file. Every call
// after it returns an error wrapping ErrClosed.
func (s *Store) Close() error {
	if !s.isClosed.CompareAndSwap(false, true) {
		return fmt.Errorf("bolt close: %w", ErrClosed)
	}
	s.w.close()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("bolt close: %w", err)
	}
	return nil
}
