// Package history checks a history of transactions, as the clients of an aft shim observed
// them, for isolation and exactly-once anomalies.
//
// It is recorder-neutral and pure: workload drivers record what they sent and what they got
// back into Txn values (a Recorder collects them from many goroutines), and Check reads the
// whole history afterwards. Nothing here does I/O, sleeps or reads a clock.
//
// The checker relies on two properties the drivers guarantee:
//
//   - every value written is unique across the whole history, so a value read names its
//     writer transaction and key exactly;
//   - versions are strings that sort, byte by byte, in version order, and "" (nothing) is
//     older than every version.
//
// See Kind for the anomalies found and the precise rule behind each one.
package history

import (
	"fmt"
	"slices"
	"sync"
	"time"
)

// OpKind is the kind of one operation of a transaction.
type OpKind int

// The operation kinds.
const (
	// Read is GET /v1/txns/{id}/keys/{key}.
	Read OpKind = iota
	// Write is PUT /v1/txns/{id}/keys/{key}.
	Write
	// Delete is DELETE /v1/txns/{id}/keys/{key}: it writes a tombstone.
	Delete
)

// String returns "read", "write" or "delete".
func (k OpKind) String() string {
	switch k {
	case Read:
		return "read"
	case Write:
		return "write"
	case Delete:
		return "delete"
	}
	return fmt.Sprintf("OpKind(%d)", int(k))
}

// Op is one operation of a transaction as the client saw it. Record only operations that
// got an answer: a write or delete answered 204, a read answered 200 or 404 key_not_found.
type Op struct {
	Kind OpKind
	Key  string
	// Value is, for a Write, the value written and, for a Read, the value returned (when
	// Found).
	Value []byte
	// Found is, for a Read, whether a value was returned (false: 404 key_not_found).
	Found bool
	// Version is, for a Read, the Aft-Version header of the answer, "" when there was none.
	// The server gives none when the transaction reads its own buffered write, and may give
	// one on a 404 that read a tombstone (a committed Delete).
	Version string
	// Start and End are when the request was sent and when its answer arrived, read from
	// one monotonic clock shared by all clients of the history. The zero time means unknown.
	Start, End time.Time
}

// String returns a short form such as `read k="v"@V`.
func (o Op) String() string {
	switch o.Kind {
	case Write:
		return fmt.Sprintf("write %q=%s", o.Key, showValue(o.Value))
	case Delete:
		return fmt.Sprintf("delete %q", o.Key)
	}
	if !o.Found {
		return fmt.Sprintf("read %q=not-found@%q", o.Key, o.Version)
	}
	return fmt.Sprintf("read %q=%s@%q", o.Key, showValue(o.Value), o.Version)
}

// Outcome is how a transaction ended, as far as its client knows.
type Outcome int

// The outcomes. The zero Outcome is Unknown, the one that assumes least.
const (
	// Unknown: commit was sent but no definite answer came (broken connection, timeout,
	// server killed, a 5xx). The transaction may or may not have committed.
	Unknown Outcome = iota
	// Committed: commit answered 200.
	Committed
	// Failed: commit answered a definite error (409 fenced or aborted), or the client
	// aborted the transaction, or it never asked to commit.
	Failed
)

// String returns "unknown", "committed" or "failed".
func (o Outcome) String() string {
	switch o {
	case Unknown:
		return "unknown"
	case Committed:
		return "committed"
	case Failed:
		return "failed"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Txn is one transaction (one attempt) as its client saw it.
type Txn struct {
	// ID is the transaction id returned by begin.
	ID string
	// IdemKey is the idempotency key given to begin, "" if none. Attempts of one logical
	// request share it.
	IdemKey string
	// Ops are the operations in the order issued; one client issues them one at a time.
	Ops []Op
	// Outcome is how the transaction ended.
	Outcome Outcome
	// Version is, when Committed, the "version" field of the commit answer: the version of
	// all its writes. "" if not known.
	Version string
	// CommitStart is when the commit request was sent; zero if it never was.
	CommitStart time.Time
	// Final marks a read-only transaction run after all load stopped and the server
	// quiesced. Only final transactions are used to find lost commits.
	Final bool
}

// Recorder collects finished transactions from many goroutines. The zero Recorder is ready
// to use; it is safe for concurrent use.
type Recorder struct {
	mu   sync.Mutex
	txns []Txn
}

// Add appends a finished transaction. It copies t's operations and values, so the caller
// may reuse its buffers afterwards.
func (r *Recorder) Add(t Txn) {
	t.Ops = slices.Clone(t.Ops)
	for i := range t.Ops {
		if t.Ops[i].Value != nil {
			t.Ops[i].Value = slices.Clone(t.Ops[i].Value)
		}
	}
	r.mu.Lock()
	r.txns = append(r.txns, t)
	r.mu.Unlock()
}

// Len returns the number of transactions added so far.
func (r *Recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.txns)
}

// History returns the transactions added so far, in the order they were added. The slice is
// a new one; the transactions in it share their operations with the Recorder and must not
// be modified.
func (r *Recorder) History() []Txn {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.txns)
}

// showValue formats a value for a message, cut short when long.
func showValue(v []byte) string {
	const max = 40
	if len(v) > max {
		return fmt.Sprintf("%q...(%d bytes)", v[:max], len(v))
	}
	return fmt.Sprintf("%q", v)
}
