// Package ra is the read atomic rule of the AFT protocol: which committed version of a key
// a transaction may read, given what it has read so far. It is pure: no I/O, no locks, no
// clock. Callers (package index) hold whatever locks make the history stable while it runs.
package ra

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Version orders committed transactions totally: by commit timestamp, then by transaction
// id. Every write of one transaction carries the transaction's single Version. The zero
// Version is older than every real one and means "none".
type Version struct {
	TS  uint64 // commit timestamp, nanoseconds since the Unix epoch (hybrid: never repeats on one node)
	Txn string // id of the transaction that wrote it
}

// Compare returns -1, 0 or +1 as v is older than, equal to, or newer than w.
func (v Version) Compare(w Version) int {
	switch {
	case v.TS < w.TS:
		return -1
	case v.TS > w.TS:
		return 1
	}
	return strings.Compare(v.Txn, w.Txn)
}

// Less reports whether v is older than w.
func (v Version) Less(w Version) bool { return v.Compare(w) < 0 }

// IsZero reports whether v is the zero Version.
func (v Version) IsZero() bool { return v.TS == 0 && v.Txn == "" }

// String renders v as 16 hex digits of the timestamp, a dot and the transaction id, so that
// strings of versions compare in version order.
func (v Version) String() string {
	var b [16]byte
	s := strconv.AppendUint(b[:0], v.TS, 16)
	return strings.Repeat("0", 16-len(s)) + string(s) + "." + v.Txn
}

// ErrBadVersion is returned by ParseVersion for text that is not a version.
var ErrBadVersion = errors.New("bad version")

// ParseVersion parses the form String produces.
func ParseVersion(s string) (Version, error) {
	if len(s) < 18 || s[16] != '.' {
		return Version{}, fmt.Errorf("parse version %q: %w", s, ErrBadVersion)
	}
	ts, err := strconv.ParseUint(s[:16], 16, 64)
	if err != nil || ts == 0 {
		return Version{}, fmt.Errorf("parse version %q: %w", s, ErrBadVersion)
	}
	return Version{TS: ts, Txn: s[17:]}, nil
}
