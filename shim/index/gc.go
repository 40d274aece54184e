package index

import "github.com/aft-shim/aft/shim/ra"

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

// Collect drops every version that is superseded as of horizon: a version of key k is
// dropped when a newer version of k was applied before horizon (its sequence number, see
// Seq, is below horizon). Pass as horizon the smallest Seq noted at begin by any running
// transaction, or Seq()+1 when none runs.
//
// Why that is safe: a transaction begun at sequence s reads, for every key, a version at
// least as new as the newest one applied before s (the newest such version is always valid
// for it, and the rule returns the newest valid one). So a version superseded before s is
// never chosen, and no transaction can have read one and need its write set.
func (x *Index) Collect(horizon uint64) Garbage {
	x.mu.Lock()
	defer x.mu.Unlock()
	var g Garbage
	for key := range x.dirty {
		kv := x.keys[key]
		// Newest version applied before horizon; everything older goes.
		cut := -1
		for i := len(kv.vs) - 1; i >= 0; i-- {
			if kv.txns[i].seq < horizon {
				cut = i
				break
			}
		}
		for i := 0; i < cut; i++ {
			t := kv.txns[i]
			_, tomb := t.wrote(key)
			g.Versions = append(g.Versions, Dropped{Key: key, Version: kv.vs[i], Tombstone: tomb})
			t.live--
			if t.live == 0 {
				delete(x.txns, t.Version.Txn)
				g.Txns = append(g.Txns, t)
			}
		}
		if cut > 0 {
			n := copy(kv.vs, kv.vs[cut:])
			clear(kv.vs[n:])
			kv.vs = kv.vs[:n]
			copy(kv.txns, kv.txns[cut:])
			clear(kv.txns[n:])
			kv.txns = kv.txns[:n]
		}
		if len(kv.vs) <= 1 {
			delete(x.dirty, key)
		}
	}
	return g
}
