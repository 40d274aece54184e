// Package index holds what the shim knows in memory about committed transactions: their
// write sets (the cowritten sets the read atomic rule needs) and, per key, the committed
// versions in version order. It answers reads through package ra and decides what garbage
// collection may drop. It does no I/O.
package index

import (
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
	live    int            // keys whose version of this txn is still in the index
}

func (t *Txn) wrote(key string) (found, tombstone bool) {
	i := sort.Search(len(t.Writes), func(i int) bool { return t.Writes[i].Key >= key })
	if i < len(t.Writes) && t.Writes[i].Key == key {
		return true, t.Writes[i].Tombstone
	}
	return false, false
}

// versions are the committed versions of one key, oldest first, and their transactions.
type versions struct {
	vs   []ra.Version
	txns []*Txn
}

// Index is safe for concurrent use.
type Index struct {
	mu    sync.RWMutex
	txns  map[string]*Txn      // by transaction id
	keys  map[string]*versions // committed versions of each key
	dirty map[string]struct{}  // keys with more than one version: candidates for collection
	seq   uint64
	view  view
}

// New returns an empty index.
func New() *Index {
	x := &Index{txns: map[string]*Txn{}, keys: map[string]*versions{}, dirty: map[string]struct{}{}}
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
	for _, w := range rec.Writes {
		kv := x.keys[w.Key]
		if kv == nil {
			kv = &versions{}
			x.keys[w.Key] = kv
		}
		i := len(kv.vs)
		for i > 0 && rec.Version.Less(kv.vs[i-1]) { // usually appends: new commits are newest
			i--
		}
		kv.vs = append(kv.vs, ra.Version{})
		copy(kv.vs[i+1:], kv.vs[i:])
		kv.vs[i] = rec.Version
		kv.txns = append(kv.txns, nil)
		copy(kv.txns[i+1:], kv.txns[i:])
		kv.txns[i] = t
		if len(kv.vs) > 1 {
			x.dirty[w.Key] = struct{}{}
		}
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
// that has read reads (see ra.Choose).
func (x *Index) Choose(reads map[string]ra.Version, key string) Choice {
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

func (v *view) Wrote(ver ra.Version, key string) bool {
	t := v.x.txns[ver.Txn]
	if t == nil || t.Version != ver {
		return false
	}
	found, _ := t.wrote(key)
	return found
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
