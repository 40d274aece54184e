package index

import (
	"sort"

	"github.com/aft-shim/aft/shim/ra"
)

// Dropped is a data version that Collect removed from the index.
type Dropped struct {
	Key       string
	Version   ra.Version
	Tombstone bool // a delete: there is no stored value to remove
}

// Garbage is what one Collect removed: data versions no transaction can read any more, and
// transactions none of whose versions is left, whose commit records can go.
type Garbage struct {
	Versions []Dropped
	Txns     []*Txn
}

// Collect takes out of the index what no running transaction can read, as of horizon, and
// returns it. Pass as horizon the smallest Seq()+1 noted at begin by any running
// transaction, or Seq()+1 when none runs; horizon never goes down from one call to the next.
// Pass as settled a commit timestamp below which no commit can still be applied (a commit
// is applied with the version it fixed when first tried, which may be a while before).
//
// Two things go:
//
//   - A version of key k is dropped once a newer version of k was applied before horizon.
//     Why that is safe: a transaction begun at sequence s reads, for every key, a version
//     at least as new as the newest one applied before s (the newest such version is
//     always valid for it, and the rule returns the newest valid one). So a version
//     superseded before s is never chosen, and no transaction can have read one and need
//     its write set.
//   - A delete goes too, and its key leaves the index, when it is the only version left of
//     its key, applied before horizon and older than settled, and no other transaction in
//     the index wrote the key (its own transaction has no other write left). Every running
//     transaction reads it or nothing newer, so reading nothing instead answers the same
//     "not found". None can have read a write of a transaction that wrote the key, and so
//     need the key's version to stay atomic: such a transaction has left the index, so
//     all its writes were superseded before the reader began (as above). And no commit
//     older than the delete can be applied later to show an older value in its place.
//
// Cost: each applied write is looked at once, when the horizon passes it, with a binary
// search in its key's versions (a linear walk down from the newest for the rare write
// applied below a newer version); each delete once or twice more. A call at a horizon that
// did not move and with no delete newly older than settled looks at nothing.
//
// Collect holds the index lock for chunkEntries entries at a time, so that reads and
// commits go on while the horizon passes a long backlog (every step is safe on its own;
// what is applied meanwhile is at or above horizon).
func (x *Index) Collect(horizon, settled uint64) Garbage {
	var g Garbage
	for more := true; more; {
		more = x.collectChunk(horizon, settled, &g)
	}
	return g
}

// collectChunk is one locked step of Collect; it reports whether work is left.
func (x *Index) collectChunk(horizon, settled uint64, g *Garbage) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	for n := 0; n < chunkEntries; n++ {
		switch {
		case !x.queue.empty() && x.queue.front().t.seq < horizon:
			x.supersede(x.queue.pop(), horizon, g)
		case !x.tombs.empty() && x.tombs.front().t.Version.TS < settled:
			x.removeDelete(x.tombs.pop(), horizon, g)
		default:
			return false
		}
	}
	return true
}

// chunkEntries bounds the queue entries one locked step of Collect takes.
const chunkEntries = 4096

// supersede drops the versions of e's key that e's version, applied before horizon,
// superseded.
func (x *Index) supersede(e entry, horizon uint64, g *Garbage) {
	x.visited++
	if e.t.isGone(e.w) {
		return // dropped already by a newer version
	}
	key := e.t.Writes[e.w].Key
	kv := x.keys[key]
	var cut int // the newest version applied before horizon: everything older goes
	if !e.late {
		cut = sort.Search(len(kv.vs), func(i int) bool { return !kv.vs[i].Less(e.t.Version) })
	} else {
		// Applied below a newer version (a commit that fixed its version long before it
		// landed): the newest one applied before horizon may be above it.
		for cut = len(kv.vs) - 1; cut > 0 && kv.txns[cut].seq >= horizon; cut-- {
			x.visited++
		}
	}
	for i := 0; i < cut; i++ {
		x.drop(key, kv.txns[i], g)
	}
	if cut > 0 {
		n := copy(kv.vs, kv.vs[cut:])
		clear(kv.vs[n:])
		kv.vs = kv.vs[:n]
		copy(kv.txns, kv.txns[cut:])
		clear(kv.txns[n:])
		kv.txns = kv.txns[:n]
	}
	if t := kv.txns[0]; len(kv.vs) == 1 && t.live == 1 {
		if i := t.find(key); t.Writes[i].Tombstone {
			x.tombs.push(entry{t: t, w: i})
		}
	}
}

// removeDelete takes out e, a delete older than settled, with its key, when it is still the
// last version of its key and of its transaction (see Collect).
func (x *Index) removeDelete(e entry, horizon uint64, g *Garbage) {
	x.visited++
	t := e.t
	if t.isGone(e.w) || t.live != 1 || t.seq >= horizon {
		return // superseded, or not yet removable: pushed again when it becomes so
	}
	key := t.Writes[e.w].Key
	if kv := x.keys[key]; len(kv.vs) != 1 || kv.writers != 1 {
		return
	}
	x.drop(key, t, g) // t leaves, and with it the key
}

// drop takes the version of key written by t out of t's live writes; the caller takes it
// out of the key's versions.
func (x *Index) drop(key string, t *Txn, g *Garbage) {
	x.visited++
	i := t.find(key)
	t.setGone(i)
	g.Versions = append(g.Versions, Dropped{Key: key, Version: t.Version, Tombstone: t.Writes[i].Tombstone})
	t.live--
	switch {
	case t.live == 0:
		delete(x.txns, t.Version.Txn)
		g.Txns = append(g.Txns, t)
		for _, w := range t.Writes {
			kv := x.keys[w.Key]
			kv.writers--
			switch {
			case kv.writers == 0: // a delete that left with its key
				delete(x.keys, w.Key)
			case kv.writers == 1 && len(kv.txns) > 0:
				// The key's newest version may be a delete that can now leave.
				n := kv.txns[len(kv.txns)-1]
				if i := n.find(w.Key); n.Writes[i].Tombstone {
					x.tombs.push(entry{t: n, w: i})
				}
			}
		}
	case t.live == 1 && t.tombs:
		// Its last write may be a delete that can now leave with its key.
		for j, w := range t.Writes {
			if w.Tombstone && !t.isGone(j) {
				x.tombs.push(entry{t: t, w: j})
			}
		}
	}
}

// entry is one write of a transaction: t.Writes[w].
type entry struct {
	t    *Txn
	w    int
	late bool // applied below a newer version of its key
}

// fifo is a queue of entries.
type fifo struct {
	s    []entry
	head int
}

func (q *fifo) push(e entry) { q.s = append(q.s, e) }

func (q *fifo) empty() bool { return q.head == len(q.s) }

func (q *fifo) front() entry { return q.s[q.head] }

func (q *fifo) pop() entry {
	e := q.s[q.head]
	q.s[q.head] = entry{}
	q.head++
	if q.head == len(q.s) {
		q.s, q.head = q.s[:0], 0
	} else if q.head >= 1024 && q.head*2 >= len(q.s) {
		n := copy(q.s, q.s[q.head:])
		clear(q.s[n:])
		q.s, q.head = q.s[:n], 0
	}
	return e
}
