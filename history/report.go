package history

import (
	"fmt"
	"strings"
)

// Kind names a kind of anomaly. The workload suite's checker (workloads/anomaly) uses this
// type and the constants of the kinds it also finds (fractured, ryw, duplicate, lost),
// counted there per request from application states; its doc comments say how each
// differs from the rule here.
//
// "External read" below means a Read of a key the transaction has not written or deleted
// before it (in issue order); the other reads are reads of its own buffered writes and are
// checked by KindRYW only. The writer of a found read is the transaction that wrote the
// value returned; the writer of a not-found read is known only when its Aft-Version header
// is the version of a transaction that deleted the key.
type Kind string

// The anomaly kinds.
const (
	// KindFractured: in one transaction an external read r_i returned the write of writer W
	// at version V (the Aft-Version of r_i, or W's commit version when r_i has none); W also
	// wrote or deleted another key b; and an external read r_j of b in the same transaction,
	// before or after r_i, returned a version older than V. A not-found read without a
	// version is older than every version, unless it may have read a tombstone (see
	// Options.StrictTombstones). Reads of a Failed writer are left to KindAborted.
	KindFractured Kind = "fractured"
	// KindRYW: a read of a key the transaction wrote or deleted earlier did not return its
	// own latest write (its value after a Write, not-found after a Delete).
	KindRYW Kind = "ryw"
	// KindRepeatable: two consecutive external reads of one key in one transaction returned
	// different results: one found and one not, two different values, or two not-found
	// answers with two different non-empty versions.
	KindRepeatable Kind = "repeatable"
	// KindAborted: an external read returned a write of a transaction whose Outcome is
	// Failed.
	KindAborted Kind = "aborted"
	// KindUnknownValue: an external read returned a value no transaction wrote to that key:
	// a value nobody wrote, a value written to another key, or a value the reading
	// transaction itself writes only later.
	KindUnknownValue Kind = "unknown_value"
	// KindDirty: an external read returned the write of a transaction that had not asked to
	// commit yet: the read's End is before the writer's CommitStart. Writers whose
	// CommitStart is zero are skipped unless Failed (then KindAborted is reported instead).
	KindDirty Kind = "dirty"
	// KindIntermediate: an external read returned a value that its writer later overwrote
	// (or deleted) in the same transaction, a value that never was committed.
	KindIntermediate Kind = "intermediate"
	// KindDuplicate: more than one attempt of one idempotency key took effect: two or more
	// transactions with that IdemKey are Committed or had a write observed by an external
	// read of another transaction.
	KindDuplicate Kind = "duplicate"
	// KindLost: in a Final transaction, a read of key k returned a version older than the
	// Version of a Committed transaction that wrote or deleted k.
	KindLost Kind = "lost"
)

// Kinds returns every Kind, in a fixed order.
func Kinds() []Kind {
	return []Kind{KindFractured, KindRYW, KindRepeatable, KindAborted, KindUnknownValue,
		KindDirty, KindIntermediate, KindDuplicate, KindLost}
}

// Anomaly is one anomaly found.
type Anomaly struct {
	Kind Kind
	// Txns are the transaction ids involved: the reader first, then the writers. For
	// KindDuplicate, the attempts that took effect.
	Txns []string
	// Keys are the keys involved, in the order the message names them.
	Keys []string
	// IdemKey is the idempotency key, for KindDuplicate.
	IdemKey string
	// Msg says what happened, for a person.
	Msg string
}

// String returns "kind: message".
func (a Anomaly) String() string { return string(a.Kind) + ": " + a.Msg }

// Report is the result of Check.
type Report struct {
	// Anomalies are the anomalies found, at most Options.MaxDetails of each kind, in the
	// order of the history.
	Anomalies []Anomaly
	// Counts is the number of anomalies found of each kind, stored or not. Kinds with none
	// are absent; it is never nil.
	Counts map[Kind]int
}

// OK reports whether no anomaly was found.
func (r Report) OK() bool { return r.Total() == 0 }

// Total returns the number of anomalies found, of all kinds.
func (r Report) Total() int {
	n := 0
	for _, c := range r.Counts {
		n += c
	}
	return n
}

// String returns a summary: the counts by kind, then up to three anomalies of each kind.
func (r Report) String() string {
	if r.OK() {
		return "no anomalies"
	}
	var counts []string
	for _, k := range Kinds() {
		if r.Counts[k] > 0 {
			counts = append(counts, fmt.Sprintf("%s=%d", k, r.Counts[k]))
		}
	}
	var b strings.Builder
	b.WriteString(strings.Join(counts, " "))
	shown := map[Kind]int{}
	for _, a := range r.Anomalies {
		if shown[a.Kind] < 3 {
			shown[a.Kind]++
			b.WriteString("\n  ")
			b.WriteString(a.String())
		}
	}
	return b.String()
}

// DefaultMaxDetails is the number of anomalies of each kind a Report keeps by default.
const DefaultMaxDetails = 100

// Options tune CheckWith. The zero Options are those of Check.
type Options struct {
	// MaxDetails is how many anomalies of each kind the Report keeps (all are counted).
	// 0 means DefaultMaxDetails; a negative value keeps none.
	MaxDetails int
	// StrictTombstones says that the server always gives an Aft-Version header on a 404
	// that read a tombstone, so a not-found read without one saw nothing: it is older than
	// every version. When false (the default), a not-found read without a version may have
	// read a tombstone, and is taken as the newest tombstone of its key that the history
	// knows of (newest of any Committed or observed Delete, or newer than everything when a
	// Delete of unknown version, e.g. of an Unknown transaction, exists). That avoids false
	// fractures and lost commits, at the price of missing some on keys that are deleted.
	StrictTombstones bool
}
