package ra

// History is the committed history the rule chooses from. Implementations answer from
// memory; the rule calls them many times per choice.
type History interface {
	// Versions returns the committed versions of key, oldest first. The caller does not
	// modify the slice.
	Versions(key string) []Version
	// Wrote reports whether the transaction that committed v also wrote key (a delete counts
	// as a write). It is false for a v the history does not know.
	Wrote(v Version, key string) bool
}

// Choice is the outcome of Choose.
type Choice struct {
	Version Version // the version to read; zero when Found is false
	Found   bool    // false: no version of the key is visible to the transaction
	Skipped int     // newer candidates passed over because reading them would fracture
}

// Choose picks the version of key that a transaction may read, given reads: every key it
// has read so far from the committed history (its own buffered writes do not count), mapped
// to the version it got, or to the zero Version when it found none.
//
// The lower bound is the newest version of key written by any transaction whose version is
// in reads: having seen part of that transaction, the reader must see the rest. A candidate
// v (a committed version of key, not older than the lower bound) is valid when, for every
// key l that v's transaction wrote and reads holds, reads[l] is not older than v: otherwise
// the reader would see part of v's transaction and an older state of the rest. Choose
// returns the newest valid candidate, else the lower bound, else not found.
func Choose(h History, reads map[string]Version, key string) Choice {
	var lb Version
	for _, rv := range reads {
		if !rv.IsZero() && lb.Less(rv) && h.Wrote(rv, key) {
			lb = rv
		}
	}
	vs := h.Versions(key)
	skipped := 0
	for i := len(vs) - 1; i >= 0; i-- {
		v := vs[i]
		if v.Less(lb) {
			break // older candidates cannot beat the lower bound
		}
		if valid(h, reads, v) {
			return Choice{Version: v, Found: true, Skipped: skipped}
		}
		skipped++
	}
	if !lb.IsZero() {
		return Choice{Version: lb, Found: true, Skipped: skipped}
	}
	return Choice{Skipped: skipped}
}

// valid reports whether reading v keeps every read in reads atomic with respect to v's
// transaction.
func valid(h History, reads map[string]Version, v Version) bool {
	for l, rv := range reads {
		if rv.Less(v) && h.Wrote(v, l) {
			return false
		}
	}
	return true
}
