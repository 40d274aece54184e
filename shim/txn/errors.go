package txn

import (
	"errors"
	"fmt"
)

// Errors of the transaction API. The HTTP layer maps them to statuses with errors.Is.
var (
	ErrTxnNotFound = errors.New("transaction not found")
	ErrKeyNotFound = errors.New("key not found")
	ErrCommitted   = errors.New("transaction already committed")
	ErrAborted     = errors.New("transaction aborted")
	ErrCommitTried = errors.New("a commit of the transaction was tried: its writes are frozen (retry the commit or abort)")
	ErrFenced      = errors.New("transaction fenced: another attempt of its idempotency key committed or superseded it")
	ErrBadKey      = errors.New("bad key")
	ErrBadIdemKey  = errors.New("bad idempotency key")
	ErrTooLarge    = errors.New("too large")
	// ErrReadSetTooLarge: a transaction that read Config.MaxReadSet keys reads no new one.
	ErrReadSetTooLarge = errors.New("read set too large")
	ErrBusy            = errors.New("shim busy")
	ErrStore           = errors.New("storage failed")
	ErrClosed          = errors.New("shim shutting down")
	// ErrNotCaughtUp: a begin After a version this node did not learn of in time.
	ErrNotCaughtUp = errors.New("not caught up")
)

// LimitError reports input over a configured limit. errors.Is(err, ErrTooLarge) holds.
type LimitError struct {
	What  string // "value", "transaction", "result"
	Size  int64
	Limit int64
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("%s too large: %d bytes, limit %d", e.What, e.Size, e.Limit)
}

// Unwrap makes errors.Is(err, ErrTooLarge) hold.
func (e *LimitError) Unwrap() error { return ErrTooLarge }

// statusErr returns the error of calling a finished transaction.
func statusErr(s Status) error {
	switch s {
	case Committed:
		return ErrCommitted
	case Fenced:
		return ErrFenced
	}
	return ErrAborted
}
