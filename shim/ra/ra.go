package ra

import "iter"

// History is the committed history the rule chooses from: a set of (key, version) pairs,
// seen by key (Versions) and by transaction (Writes). The two views must agree: v is in
// Versions(key) exactly when key is in Writes(v). Implementations answer from memory; the
// rule calls them many times per choice.
type History interface {
	// Versions returns the committed versions of key, oldest first. The caller does not
	// modify the slice.
	Versions(key string) []Version
	// Writes yields the keys that the transaction that committed v wrote (a delete counts as
	// a write), each once, in any order; nothing for a v the history does not know.
	Writes(v Version) iter.Seq[string]
}

// Reads is what a transaction has read from the committed history: each key read, with the
// version it got (the zero Version when it found none), and the set of those versions. The
// zero Reads is empty and ready to use; it is not safe for concurrent use.
type Reads struct {
	byKey    map[string]Version
	versions map[Version]struct{} // non-zero versions in byKey
}

// Add records that key was read at v. A key is read once: Add of a key already read is a
// caller's bug and replaces the first version in the key map only.
func (r *Reads) Add(key string, v Version) {
	if r.byKey == nil {
		r.byKey = map[string]Version{}
		r.versions = map[Version]struct{}{}
	}
	r.byKey[key] = v
	if !v.IsZero() {
		r.versions[v] = struct{}{}
	}
}

// Get returns the version key was read at, and whether it was read.
func (r *Reads) Get(key string) (Version, bool) {
	v, ok := r.byKey[key]
	return v, ok
}

// Len returns the number of keys read.
func (r *Reads) Len() int { return len(r.byKey) }

// readFrom reports whether some key was read at v.
func (r *Reads) readFrom(v Version) bool {
	_, ok := r.versions[v]
	return ok
}

// Choice is the outcome of Choose.
type Choice struct {
	Version Version // the version to read; zero when Found is false
	Found   bool    // false: no version of the key is visible to the transaction
	Skipped int     // newer candidates passed over because reading them would fracture
}

// Choose picks the version of key that a transaction may read, given reads: every key it
// has read so far from the committed history (its own buffered writes do not count). key is
// not in reads.
//
// The rule. The lower bound lb is the newest version of key written by any transaction
// whose version is in reads: having seen part of that transaction, the reader must see the
// rest. A candidate v (a committed version of key, not older than lb) is valid when, for
// every key l that v's transaction wrote and reads holds, reads[l] is not older than v:
// otherwise the reader would see part of v's transaction and an older state of the rest.
// Choose returns the newest valid candidate, else lb, else not found.
//
// How it runs in O(candidates passed over x their write sets), whatever the size of reads.
// Every write of one transaction carries its single Version, so "a transaction whose version
// is in reads wrote key" means "a version in reads is in Versions(key)", and lb is the newest
// version of key that is also in reads' set of versions. Choose walks Versions(key) newest
// first. Each version above lb is not in that set (lb is the newest one that is), so the walk
// tests it for validity, over its own write set (Writes), and returns the first valid one:
// the newest valid candidate. When the walk reaches a version in the set, that is lb, and
// every newer candidate was invalid: the rule returns lb (valid or not; Skipped counts only
// the candidates above it). When the walk ends without reaching one, lb does not exist and
// no candidate was valid: not found.
func Choose(h History, reads *Reads, key string) Choice {
	vs := h.Versions(key)
	skipped := 0
	for i := len(vs) - 1; i >= 0; i-- {
		v := vs[i]
		if reads.readFrom(v) || valid(h, reads, v) {
			return Choice{Version: v, Found: true, Skipped: skipped}
		}
		skipped++
	}
	return Choice{Skipped: skipped}
}

// valid reports whether reading v keeps every read in reads atomic with respect to v's
// transaction.
func valid(h History, reads *Reads, v Version) bool {
	for l := range h.Writes(v) {
		if rv, ok := reads.byKey[l]; ok && rv.Less(v) {
			return false
		}
	}
	return true
}
