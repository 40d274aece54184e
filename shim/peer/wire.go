// Package peer pushes a node's commits to the other nodes on its store as they happen,
// and keeps the list of those nodes: a static list of base URLs, or every address of a
// DNS name (a Kubernetes headless Service), re-resolved, each checked for health.
//
// Pushes are the fast path only. A push that is lost, late or refused delays visibility
// until the receiving node reads the store's commit log (package txn, shared.go), and
// never breaks it; so the pusher drops rather than waits: a full queue, a peer down, a
// failed request.
package peer

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Path is the endpoint that takes pushed commits: POST, body as Append writes it.
const Path = "/v1/peer/commits"

// MaxBody bounds the body of one push.
const MaxBody = 16 << 20

// Commit is one pushed commit: its encoded record and its commit log stamp.
type Commit struct {
	Stamp  uint64
	Record []byte
}

// Append appends c to a push body: its stamp and the record's length as uvarints, then the
// record.
func Append(b []byte, c Commit) []byte {
	b = binary.AppendUvarint(b, c.Stamp)
	b = binary.AppendUvarint(b, uint64(len(c.Record)))
	return append(b, c.Record...)
}

// ErrBadBody is returned by Decode for a body Append did not make.
var ErrBadBody = errors.New("bad push body")

// Decode returns the commits of a push body. The records share b's memory.
func Decode(b []byte) ([]Commit, error) {
	var out []Commit
	for len(b) > 0 {
		stamp, n := binary.Uvarint(b)
		if n <= 0 || stamp == 0 {
			return nil, fmt.Errorf("%w: stamp of commit %d", ErrBadBody, len(out)+1)
		}
		b = b[n:]
		size, n := binary.Uvarint(b)
		if n <= 0 || size > uint64(len(b)-n) {
			return nil, fmt.Errorf("%w: length of commit %d", ErrBadBody, len(out)+1)
		}
		b = b[n:]
		out = append(out, Commit{Stamp: stamp, Record: b[:size:size]})
		b = b[size:]
	}
	return out, nil
}
