package bolt

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	bbolt "go.etcd.io/bbolt"

	"github.com/aft-shim/aft/shim/store"
)

// opKind is the method an op comes from.
type opKind uint8

const (
	opPut opKind = iota
	opCreate
	opDelete
	opPutCreate // items, the last of which is created: all or nothing
)

// op is one call of Put, Create or Delete waiting for the writer. Its items and keys are
// the store's own copies, so that the caller may give up on it and reuse its slices.
type op struct {
	kind  opKind
	items []store.Item // Put: the items; Create: the one item
	keys  []string     // Delete: the keys
	bytes int          // the value bytes in items

	// abandoned is set by a caller that gave up waiting; the writer skips the op if it has
	// not applied it yet.
	abandoned atomic.Bool

	// done receives the outcome of the op, once; it is buffered so that the writer never
	// waits for a caller that left.
	done chan error
}

// weight is what the op counts towards Options.MaxBatch, at least 1.
func (o *op) weight() int {
	return max(1, len(o.items), len(o.keys))
}

// errorf wraps err with the op's short operation prefix.
func (o *op) errorf(format string, err error) error {
	switch o.kind {
	case opPut:
		return fmt.Errorf("bolt put: "+format, err)
	case opCreate, opPutCreate:
		return fmt.Errorf("bolt create %s: "+format, o.items[len(o.items)-1].Key, err)
	default:
		return fmt.Errorf("bolt delete: "+format, err)
	}
}

// apply applies the op in the write transaction of bk. Its failure is the op's own: it
// leaves the transaction usable for the other ops of the group.
func (o *op) apply(bk *bbolt.Bucket) error {
	switch o.kind {
	case opPut:
		for _, it := range o.items {
			if err := bk.Put([]byte(it.Key), it.Value); err != nil {
				return fmt.Errorf("bolt put %s: %w", it.Key, err)
			}
		}
	case opCreate, opPutCreate:
		it := o.items[len(o.items)-1]
		k := []byte(it.Key)
		// Seen within this transaction, so an earlier Create of the group counts.
		if got, _ := bk.Cursor().Seek(k); got != nil && bytes.Equal(got, k) {
			return fmt.Errorf("bolt create %s: %w", it.Key, store.ErrExists)
		}
		for _, d := range o.items[:len(o.items)-1] {
			if err := bk.Put([]byte(d.Key), d.Value); err != nil {
				return fmt.Errorf("bolt put %s: %w", d.Key, err)
			}
		}
		if err := bk.Put(k, it.Value); err != nil {
			return fmt.Errorf("bolt create %s: %w", it.Key, err)
		}
	case opDelete:
		for _, key := range o.keys {
			if err := bk.Delete([]byte(key)); err != nil {
				return fmt.Errorf("bolt delete %s: %w", key, err)
			}
		}
	}
	return nil
}

// Stats are the counters of a Store's group commit since Open.
type Stats struct {
	// Commits is the number of write transactions (db.Update calls) the writer ran,
	// failed ones included.
	Commits uint64
	// Ops is the number of Put, Create and Delete calls applied in them.
	Ops uint64
	// Abandoned is the number of calls skipped because their caller's context ended before
	// the writer reached them.
	Abandoned uint64
}

// batcher is the single writer goroutine and its queue.
type batcher struct {
	db       *bbolt.DB
	maxOps   int
	maxBytes int

	// mu guards closed and the closing of queue: senders hold it shared.
	mu     sync.RWMutex
	closed bool
	queue  chan *op
	exited chan struct{} // closed when the writer returns

	commits, ops, abandoned atomic.Uint64
}

// newBatcher starts the writer of db.
func newBatcher(db *bbolt.DB, maxOps, maxBytes int) *batcher {
	b := &batcher{
		db:       db,
		maxOps:   maxOps,
		maxBytes: maxBytes,
		queue:    make(chan *op, maxOps),
		exited:   make(chan struct{}),
	}
	go b.run()
	return b
}

// stats returns the counters.
func (b *batcher) stats() Stats {
	return Stats{Commits: b.commits.Load(), Ops: b.ops.Load(), Abandoned: b.abandoned.Load()}
}

// do hands o to the writer and waits for its outcome or for the end of ctx. Once o is
// handed over, the end of ctx only stops the wait: the writer skips o if it has not started
// on it, but may as well have applied it already.
func (b *batcher) do(ctx context.Context, o *op) error {
	if err := ctx.Err(); err != nil {
		return o.errorf("%w", err)
	}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return o.errorf("%w", ErrClosed)
	}
	select {
	case b.queue <- o:
		b.mu.RUnlock()
	case <-ctx.Done():
		b.mu.RUnlock()
		return o.errorf("%w", ctx.Err())
	}
	select {
	case err := <-o.done:
		return err
	case <-ctx.Done():
		o.abandoned.Store(true)
		select {
		case err := <-o.done: // finished meanwhile: report what happened
			return err
		default:
			return o.errorf("%w", ctx.Err())
		}
	}
}

// close stops taking ops, waits for the writer to commit every op already queued, and
// for it to return.
func (b *batcher) close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.queue)
	}
	b.mu.Unlock()
	<-b.exited
}

// run is the writer: it takes the first queued op, then every other op queued at that
// moment without waiting for more, up to maxOps writes and maxBytes value bytes, and
// commits them in one transaction. It returns once the queue is closed and empty.
func (b *batcher) run() {
	defer close(b.exited)
	var batch []*op
	var next *op // taken from the queue but over the bounds of the previous group
	for {
		first := next
		next = nil
		if first == nil {
			o, ok := <-b.queue
			if !ok {
				return
			}
			first = o
		}
		batch = append(batch[:0], first)
		n, size := first.weight(), first.bytes
		for n < b.maxOps && size < b.maxBytes { // each turn adds at least 1 to n, or stops
			o := b.poll()
			if o == nil {
				break
			}
			if n+o.weight() > b.maxOps || size+o.bytes > b.maxBytes {
				next = o
				break
			}
			batch = append(batch, o)
			n += o.weight()
			size += o.bytes
		}
		b.commit(batch)
		clear(batch) // drop the ops, and their values, until the slice is reused
	}
}

// poll returns a queued op without waiting, or nil when there is none (or the queue is
// closed and empty).
func (b *batcher) poll() *op {
	select {
	case o := <-b.queue:
		return o
	default:
		return nil
	}
}

// commit applies the ops of batch in one write transaction and answers each: with its own
// error when the transaction committed, with the transaction's error when it did not.
func (b *batcher) commit(batch []*op) {
	live := batch[:0:0]
	for _, o := range batch {
		if o.abandoned.Load() {
			b.abandoned.Add(1)
			o.done <- o.errorf("%w", context.Canceled)
			continue
		}
		live = append(live, o)
	}
	if len(live) == 0 {
		return
	}
	errs := make([]error, len(live))
	err := b.db.Update(func(tx *bbolt.Tx) error {
		bk := tx.Bucket(bucket)
		for i, o := range live {
			errs[i] = o.apply(bk)
		}
		return nil
	})
	b.commits.Add(1)
	b.ops.Add(uint64(len(live)))
	for i, o := range live {
		if err != nil {
			o.done <- o.errorf("commit: %w", err)
		} else {
			o.done <- errs[i]
		}
	}
}
