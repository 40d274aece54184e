// Package index holds what the shim knows in memory about committed transactions: their
// write sets (the cowritten sets the read atomic rule needs) and, per key, the committed
// versions in version order. It answers reads through package ra and decides what garbage
// collection may drop. It does no I/O.
package index

import (
	"iter"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/aft-shim/aft/shim/ra"
	"github.com/aft-shim/aft/shim/record"
)

// Txn is a committed transaction as the index holds it.
type Txn struct {
	Version ra.Version
	IdemKey string
	Writes  []record.Write // sorted by key
	seq     uint64         // order in which the index learnt of it
	live    int            // writes whose version is still in the index
	gone    []uint64       // bit i set: the version of Writes[i] left the index (nil: none)
	tombs   bool           // some write is a delete
}

// find returns the index of key in t.Writes, or -1.
func (t *Txn) find(key string) int {
	i := sort.Search(len(t.Writes), func(i int) bool { return t.Writes[i].Key >= key })
	if i < len(t.Writes) && t.Writes[i].Key == key {
		return i
	}
	return -1
}

func (t *Txn) wrote(key string) (found, tombstone bool) {
	if i := t.find(key); i >= 0 {
		return true, t.Writes[i].Tombstone
	}
	return false, false
}

func (t *Txn) isGone(i int) bool { return t.gone != nil && t.gone[i/64]&(1<<(i%64)) != 0 }

func (t *Txn) setGone(i int) {
	if t.gone == nil {
		t.gone = make([]uint64, (len(t.Writes)+63)/64)
	}
	t.gone[i/64] |= 1 << (i % 64)
}

// versions are the committed versions of one key, oldest first, and their transactions.
type versions struct {
	vs      []ra.Version
	txns    []*Txn
	writers int // transactions in the index whose write set names the key, version gone or not
}

// Index is safe for concurrent use.
//
// It holds a set of (key, version) pairs: Apply adds a transaction's writes, Collect takes
// out those no running transaction can read. Both views of the set, the versions of a key
// (keys) and the writes of a transaction (txns, less its gone writes), always agree, so the
// index is a history in the sense of package ra.
type Index struct {
	mu    sync.RWMutex
	txns  map[string]*Txn      // by transaction id: those with a write left
	keys  map[string]*versions // committed versions of each key
	seq   uint64
	view  view
	queue fifo // every applied write, in apply order: see Collect
	tombs fifo // deletes that may be the last version of their key: see Collect

	visited int // queue entries and versions Collect looked at (for tests)
}

// New returns an empty index.
func New() *Index {
	x := &Index{txns: map[string]*Txn{}, keys: map[string]*versions{}}
	x.view.x = x
	return x
}

// Apply makes a committed transaction visible: all its writes at once. It reports false,
// changing nothing, when the index already holds the transaction or rec is compacted.
func (x *Index) Apply(rec *record.Record) bool {
	if rec.Compacted || len(rec.Writes) == 0 {
		return false
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if _, ok := x.txns[rec.Version.Txn]; ok {
		return false
	}
	x.seq++
	t := &Txn{Version: rec.Version, IdemKey: rec.IdemKey, Writes: rec.Writes, seq: x.seq, live: len(rec.Writes)}
	x.txns[rec.Version.Txn] = t
	for wi, w := range rec.Writes {
		t.tombs = t.tombs || w.Tombstone
		kv := x.keys[w.Key]
		if kv == nil {
			kv = &versions{}
			x.keys[w.Key] = kv
		}
		i := len(kv.vs)
		for i > 0 && rec.Version.Less(kv.vs[i-1]) { // usually appends: new commits are newest
			i--
		}
		kv.writers++
		kv.vs = slices.Insert(kv.vs, i, rec.Version)
		kv.txns = slices.Insert(kv.txns, i, t)
		x.queue.push(entry{t: t, w: wi, late: i < len(kv.vs)-1})
	}
	return true
}

// Seq is the number of transactions applied so far. A running transaction notes it at
// begin; Collect never drops what a transaction begun at that point may still read.
func (x *Index) Seq() uint64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.seq
}

// Choice is the version a read gets.
type Choice struct {
	ra.Choice
	Tombstone bool // the chosen version is a delete
}

// Choose runs the read atomic rule for key over the committed history, for a transaction
// that has read reads (see ra.Choose). A key whose last version, a delete, was collected is
// not found, with no version: as if it had never been written.
func (x *Index) Choose(reads *ra.Reads, key string) Choice {
	x.mu.RLock()
	defer x.mu.RUnlock()
	c := Choice{Choice: ra.Choose(&x.view, reads, key)}
	if c.Found {
		if t := x.txns[c.Version.Txn]; t != nil {
			_, c.Tombstone = t.wrote(key)
		}
	}
	return c
}

// Has reports whether the index holds the committed transaction with this id.
func (x *Index) Has(txnID string) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.txns[txnID] != nil
}

// Stats are the index's sizes.
type Stats struct {
	Txns, Keys, Versions int
}

// Stats returns the current sizes.
func (x *Index) Stats() Stats {
	x.mu.RLock()
	defer x.mu.RUnlock()
	s := Stats{Txns: len(x.txns), Keys: len(x.keys)}
	for _, kv := range x.keys {
		s.Versions += len(kv.vs)
	}
	return s
}

// view adapts the index to ra.History; its methods run under x.mu held by the caller.
type view struct{ x *Index }

func (v *view) Versions(key string) []ra.Version {
	if kv := v.x.keys[key]; kv != nil {
		return kv.vs
	}
	return nil
}

func (v *view) Writes(ver ra.Version) iter.Seq[string] {
	return func(yield func(string) bool) {
		t := v.x.txns[ver.Txn]
		if t == nil || t.Version != ver {
			return
		}
		for i, w := range t.Writes {
			if !t.isGone(i) && !yield(w.Key) {
				return
			}
		}
	}
}

// DropIdemKey forgets the idempotency key of a transaction the index holds, so that its
// record is known by its keyless name (see txn's Sweep). It reports whether the index holds
// the transaction.
func (x *Index) DropIdemKey(txnID string) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	t := x.txns[txnID]
	if t != nil {
		t.IdemKey = ""
	}
	return t != nil
}

// Keys returns up to limit keys that start with prefix and sort after after, in order,
// whose newest committed version is not a delete.
func (x *Index) Keys(prefix, after string, limit int) []string {
	x.mu.RLock()
	var keys []string
	for k, kv := range x.keys {
		if len(kv.vs) == 0 || !strings.HasPrefix(k, prefix) || k <= after {
			continue
		}
		if _, tomb := kv.txns[len(kv.txns)-1].wrote(k); !tomb {
			keys = append(keys, k)
		}
	}
	x.mu.RUnlock()
	sort.Strings(keys)
	if limit > 0 && len(keys) > limit {
		keys = keys[:limit]
	}
	return keys
}
