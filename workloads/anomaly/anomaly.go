// Package anomaly counts the anomalies of one workload run from what the run recorded: the
// snapshots that concurrent readers took, the reads that functions made of their own
// writes, and the final state, judged against the requests and which of them were
// acknowledged. It is pure: no I/O, no clock.
//
// Every key the applications write holds a Doc: an application number (a count, a stock
// level, a balance) and the audit trail of the requests applied to it, one Tag per
// application. Each request names every key it updates, so a state, whether a reader's
// snapshot or the final one, shows at once whether a request is in all of its keys, in
// some of them, or in one of them twice. The functions never read the trail to decide what
// to do (that would be the application-level idempotency that aft makes unnecessary); it
// is there for the checker only.
//
// The five kinds, and how each is counted:
//
//   - fractured: a reader's snapshot showed a request in some but not all of its keys,
//     while every attempt of it that the snapshot showed completed its writes and the
//     request is in all of its keys in the final state: a read that saw half of a write in
//     progress (or, with zombies about, a write undone for a while by a stale one and
//     redone by another). Counted per request. Half a request that stays half is judged
//     by the final state instead: lost, or partial.
//   - ryw (read your writes): a function read a key that its own attempt had written
//     before and got another attempt's version. Counted per read.
//   - partial: the writes of an attempt that failed half way were visible: a snapshot
//     showed a request in some but not all of its keys with the trail of an attempt that
//     never completed, or the final state holds an unacknowledged request in some but not
//     all of its keys. Counted per request.
//   - duplicate: a request was applied more than once to one key (two trail entries),
//     in any snapshot or in the final state. Counted per request.
//   - lost: an acknowledged request is missing from one of its keys in the final state:
//     a committed write was overwritten or never made. Counted per request.
package anomaly

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aft-shim/aft/history"
)

// Kind names a kind of anomaly. It is history.Kind: the history checker (package
// history, over transaction histories) and this one (over application states) share one
// vocabulary, and a kind both find has one constant, defined in package history. Their
// JSON and report strings are the constants' values.
type Kind = history.Kind

// The anomaly kinds, in the order of Kinds. Four are the history checker's own kinds,
// found here from other evidence and counted per request rather than per transaction or
// read; Partial is this package's alone.
const (
	// Fractured is history.KindFractured: a read saw part of a writer's writes. The history
	// checker finds it in one transaction whose two reads returned, for two keys the writer
	// wrote, its version and an older one, and counts each such reader; here a snapshot
	// showed a request in some but not all of its keys while the request ends up whole,
	// counted once per request.
	Fractured = history.KindFractured
	// RYW is history.KindRYW, the same rule: a read of a key its own transaction (here:
	// attempt) wrote before did not return that write. Counted per read in both.
	RYW = history.KindRYW
	// Partial is only this package's: the writes of an attempt that failed half way were
	// visible, to a snapshot (as history.KindAborted: a read returned a write of a failed
	// transaction) or in the final state of a request never acknowledged (which the history
	// checker does not judge). Counted per request.
	Partial Kind = "partial"
	// Duplicate is history.KindDuplicate: one request (idempotency key) took effect more
	// than once. The history checker counts idempotency keys with two or more committed or
	// observed attempts; here a request applied twice to one key (two trail entries), in
	// any snapshot or the final state, counts once per request.
	Duplicate = history.KindDuplicate
	// Lost is history.KindLost: a committed write is missing from the final state. The
	// history checker finds a final read older than a committed write of its key and
	// counts per read; here an acknowledged request missing from one of its keys in the
	// final state counts once per request.
	Lost = history.KindLost
)

// Kinds returns every Kind in a fixed order.
func Kinds() []Kind { return []Kind{Fractured, RYW, Partial, Duplicate, Lost} }

// Counts are the anomalies of one run by kind, as results.json holds them.
type Counts struct {
	Fractured int `json:"fractured"`
	RYW       int `json:"ryw"`
	Partial   int `json:"partial"`
	Duplicate int `json:"duplicate"`
	Lost      int `json:"lost"`
}

// Get returns the count of kind k.
func (c Counts) Get(k Kind) int {
	switch k {
	case Fractured:
		return c.Fractured
	case RYW:
		return c.RYW
	case Partial:
		return c.Partial
	case Duplicate:
		return c.Duplicate
	case Lost:
		return c.Lost
	}
	return 0
}

// Add adds n to the count of kind k.
func (c *Counts) Add(k Kind, n int) {
	switch k {
	case Fractured:
		c.Fractured += n
	case RYW:
		c.RYW += n
	case Partial:
		c.Partial += n
	case Duplicate:
		c.Duplicate += n
	case Lost:
		c.Lost += n
	}
}

// Total returns the sum of all counts.
func (c Counts) Total() int {
	n := 0
	for _, k := range Kinds() {
		n += c.Get(k)
	}
	return n
}

// String returns the non-zero counts, such as "partial=3 duplicate=5", or "none".
func (c Counts) String() string {
	var parts []string
	for _, k := range Kinds() {
		if n := c.Get(k); n > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", k, n))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

// Tag names one attempt of one request: "REQUEST@ATTEMPT". Attempt ids are unique in a
// run; request ids are the logical requests (idempotency keys).
type Tag struct {
	Request, Attempt string
}

// String returns "REQUEST@ATTEMPT".
func (t Tag) String() string { return t.Request + "@" + t.Attempt }

// ParseTag parses the form String returns.
func ParseTag(s string) (Tag, bool) {
	i := strings.LastIndexByte(s, '@')
	if i <= 0 || i == len(s)-1 {
		return Tag{}, false
	}
	return Tag{Request: s[:i], Attempt: s[i+1:]}, true
}

// Doc is the value of every key the applications write.
type Doc struct {
	// N is the application's number: a count, a stock level, a balance.
	N int64 `json:"n"`
	// By is the tag of the attempt that wrote this version.
	By string `json:"by,omitempty"`
	// Log is the audit trail: the tag of every application of a request to this key, in
	// order.
	Log []string `json:"log,omitempty"`
}

// Encode returns the JSON form of d.
func (d Doc) Encode() []byte {
	b, _ := json.Marshal(d) // a struct of a number and strings always encodes
	return b
}

// DecodeDoc parses a value written by Encode; nil (no value) is the zero Doc.
func DecodeDoc(b []byte) (Doc, error) {
	var d Doc
	if b == nil {
		return d, nil
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return Doc{}, fmt.Errorf("anomaly: decode doc: %w", err)
	}
	return d, nil
}

// Apply returns d with request tag t applied: N plus delta, By t, t appended to the trail.
// d is not changed.
func (d Doc) Apply(t Tag, delta int64) Doc {
	log := make([]string, len(d.Log), len(d.Log)+1)
	copy(log, d.Log)
	return Doc{N: d.N + delta, By: t.String(), Log: append(log, t.String())}
}
