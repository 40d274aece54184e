package history

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// Check returns the anomalies of history h with the default Options. It runs in time
// linear in the number of transactions (and quadratic only in the operations of one
// transaction).
func Check(h []Txn) Report { return CheckWith(h, Options{}) }

// CheckWith returns the anomalies of history h. h is not modified.
func CheckWith(h []Txn, o Options) Report {
	c := newChecker(h, o)
	for i := range h {
		c.checkTxn(i)
	}
	c.checkDuplicates()
	return c.rep
}

// keyOp is the last Write or Delete of a key in a transaction: its final effect on the key.
type keyOp struct {
	key string
	op  int
}

// valueRef names the Write that wrote a value.
type valueRef struct {
	txn, op int
}

// tombstone is the newest known tombstone of a key.
type tombstone struct {
	version   string
	unbounded bool // a Delete of unknown version exists: it may be newer than everything
}

// readResult is what one external read saw, resolved against the history.
type readResult struct {
	op      int    // index in the reader's Ops
	writer  int    // index in the history of the writer, -1 when not known
	version string // the version read, when known
	known   bool   // version is known
	newest  bool   // a headerless not-found that may have read a tombstone newer than all
}

// checker holds the indexes built over one history.
type checker struct {
	h        []Txn
	opts     Options
	max      int
	rep      Report
	byValue  map[string]valueRef
	writes   [][]keyOp            // per txn: final effect on each key it wrote, in order
	version  []string             // per txn: its version, when known
	owner    map[string]int       // version -> txn
	tomb     map[string]tombstone // key -> newest known tombstone
	newest   map[string]int       // key -> Committed txn of newest Version that wrote it
	observed []bool               // per txn: another txn read one of its writes
}

func newChecker(h []Txn, o Options) *checker {
	c := &checker{
		h:        h,
		opts:     o,
		max:      o.MaxDetails,
		rep:      Report{Counts: map[Kind]int{}},
		byValue:  map[string]valueRef{},
		writes:   make([][]keyOp, len(h)),
		version:  make([]string, len(h)),
		owner:    map[string]int{},
		tomb:     map[string]tombstone{},
		newest:   map[string]int{},
		observed: make([]bool, len(h)),
	}
	if c.max == 0 {
		c.max = DefaultMaxDetails
	}

	// Who wrote what, and the versions the commit answers gave.
	for i := range h {
		t := &h[i]
		for j, op := range t.Ops {
			if op.Kind != Write && op.Kind != Delete {
				continue
			}
			if op.Kind == Write {
				if _, dup := c.byValue[string(op.Value)]; !dup {
					c.byValue[string(op.Value)] = valueRef{i, j}
				}
			}
			c.writes[i] = setKeyOp(c.writes[i], op.Key, j)
		}
		if t.Outcome == Committed && t.Version != "" {
			c.version[i] = t.Version
			if _, ok := c.owner[t.Version]; !ok {
				c.owner[t.Version] = i
			}
		}
	}

	// The versions of writers with no commit answer (Unknown), as readers saw them.
	for i := range h {
		var own []keyOp
		for j, op := range h[i].Ops {
			if op.Kind != Read {
				own = setKeyOp(own, op.Key, j)
				continue
			}
			if _, ok := findKeyOp(own, op.Key); ok || !op.Found || op.Version == "" {
				continue
			}
			ref, ok := c.byValue[string(op.Value)]
			if !ok || ref.txn == i || h[ref.txn].Ops[ref.op].Key != op.Key || c.version[ref.txn] != "" {
				continue
			}
			c.version[ref.txn] = op.Version
			if _, ok := c.owner[op.Version]; !ok {
				c.owner[op.Version] = ref.txn
			}
		}
	}

	// The newest tombstone and the newest committed write of every key.
	for i := range h {
		t := &h[i]
		if t.Outcome == Failed {
			continue
		}
		v := c.version[i]
		for _, w := range c.writes[i] {
			if t.Ops[w.op].Kind == Delete {
				tb := c.tomb[w.key]
				if v == "" {
					tb.unbounded = true
				} else if v > tb.version {
					tb.version = v
				}
				c.tomb[w.key] = tb
			}
			if t.Outcome == Committed && t.Version != "" {
				if n, ok := c.newest[w.key]; !ok || t.Version > h[n].Version {
					c.newest[w.key] = i
				}
			}
		}
	}
	return c
}

// setKeyOp records op as the last write of key.
func setKeyOp(s []keyOp, key string, op int) []keyOp {
	for i := range s {
		if s[i].key == key {
			s[i].op = op
			return s
		}
	}
	return append(s, keyOp{key, op})
}

// findKeyOp returns the last write of key in s.
func findKeyOp(s []keyOp, key string) (int, bool) {
	for _, w := range s {
		if w.key == key {
			return w.op, true
		}
	}
	return 0, false
}

// count counts one anomaly of kind k and reports whether its details are to be stored.
func (c *checker) count(k Kind) bool {
	c.rep.Counts[k]++
	return c.rep.Counts[k] <= c.max
}

func (c *checker) store(a Anomaly) { c.rep.Anomalies = append(c.rep.Anomalies, a) }

// checkTxn checks every read of transaction i.
func (c *checker) checkTxn(i int) {
	t := &c.h[i]
	var own []keyOp
	var ext []readResult
	for j, op := range t.Ops {
		switch op.Kind {
		case Write, Delete:
			own = setKeyOp(own, op.Key, j)
		case Read:
			if e, ok := findKeyOp(own, op.Key); ok {
				c.checkRYW(i, j, e)
			} else {
				ext = append(ext, c.resolve(i, j))
			}
		}
	}
	c.checkRepeatable(i, ext)
	c.checkFractured(i, ext)
	if t.Final {
		c.checkLost(i, ext)
	}
}

// checkRYW checks that read j of transaction i returned its own write e.
func (c *checker) checkRYW(i, j, e int) {
	t := &c.h[i]
	r, w := t.Ops[j], t.Ops[e]
	if w.Kind == Write && r.Found && bytes.Equal(r.Value, w.Value) || w.Kind == Delete && !r.Found {
		return
	}
	if c.count(KindRYW) {
		want := "its value " + showValue(w.Value)
		if w.Kind == Delete {
			want = "not-found after its delete"
		}
		c.store(Anomaly{Kind: KindRYW, Txns: []string{t.ID}, Keys: []string{r.Key},
			Msg: fmt.Sprintf("txn %s read key %q (op %d) and got %s, want %s (op %d)",
				t.ID, r.Key, j, describe(r), want, e)})
	}
}

// resolve finds the writer and version of external read j of transaction i, and checks
// that the writer may be read at all.
func (c *checker) resolve(i, j int) readResult {
	t := &c.h[i]
	op := t.Ops[j]
	r := readResult{op: j, writer: -1, version: op.Version, known: op.Version != ""}
	if op.Found {
		ref, ok := c.byValue[string(op.Value)]
		var why string
		switch {
		case !ok:
			why = "no transaction wrote it"
		case c.h[ref.txn].Ops[ref.op].Key != op.Key:
			why = fmt.Sprintf("txn %s wrote it to key %q", c.h[ref.txn].ID, c.h[ref.txn].Ops[ref.op].Key)
		case ref.txn == i:
			why = fmt.Sprintf("the txn itself writes it only later (op %d)", ref.op)
		}
		if why != "" {
			if c.count(KindUnknownValue) {
				c.store(Anomaly{Kind: KindUnknownValue, Txns: []string{t.ID}, Keys: []string{op.Key},
					Msg: fmt.Sprintf("txn %s read key %q (op %d) and got %s: %s", t.ID, op.Key, j, showValue(op.Value), why)})
			}
			return r
		}
		w := ref.txn
		r.writer = w
		if !r.known && c.version[w] != "" {
			r.version, r.known = c.version[w], true
		}
		c.observed[w] = true
		if !c.checkWriter(i, j, w) {
			if e, _ := findKeyOp(c.writes[w], op.Key); e != ref.op && c.count(KindIntermediate) {
				c.store(Anomaly{Kind: KindIntermediate, Txns: []string{t.ID, c.h[w].ID}, Keys: []string{op.Key},
					Msg: fmt.Sprintf("txn %s read key %q (op %d) and got %s, which txn %s overwrote later (op %d)",
						t.ID, op.Key, j, showValue(op.Value), c.h[w].ID, e)})
			}
		}
		return r
	}
	if op.Version != "" {
		// A tombstone: its version may name the Delete that wrote it.
		if w, ok := c.owner[op.Version]; ok && w != i {
			if e, ok := findKeyOp(c.writes[w], op.Key); ok && c.h[w].Ops[e].Kind == Delete {
				r.writer = w
				c.observed[w] = true
				c.checkWriter(i, j, w)
			}
		}
		return r
	}
	if c.opts.StrictTombstones {
		r.known = true // "": nothing, older than every version
		return r
	}
	tb := c.tomb[op.Key]
	r.version, r.known, r.newest = tb.version, true, tb.unbounded
	return r
}

// checkWriter checks that read j of transaction i may see a write of transaction w: that w
// did not fail and had asked to commit before the read's answer. It reports whether it found
// an anomaly.
func (c *checker) checkWriter(i, j, w int) bool {
	t, wt := &c.h[i], &c.h[w]
	op := t.Ops[j]
	if wt.Outcome == Failed {
		if c.count(KindAborted) {
			c.store(Anomaly{Kind: KindAborted, Txns: []string{t.ID, wt.ID}, Keys: []string{op.Key},
				Msg: fmt.Sprintf("txn %s read key %q (op %d) and got %s written by txn %s, which failed",
					t.ID, op.Key, j, describe(op), wt.ID)})
		}
		return true
	}
	// A Committed or Unknown writer always sent commit; a zero CommitStart means the time
	// was not recorded, not that it was never sent.
	if !wt.CommitStart.IsZero() && !op.End.IsZero() && op.End.Before(wt.CommitStart) {
		if c.count(KindDirty) {
			c.store(Anomaly{Kind: KindDirty, Txns: []string{t.ID, wt.ID}, Keys: []string{op.Key},
				Msg: fmt.Sprintf("txn %s read key %q (op %d) and got %s written by txn %s, %v before it sent commit",
					t.ID, op.Key, j, describe(op), wt.ID, wt.CommitStart.Sub(op.End))})
		}
		return true
	}
	return false
}

// checkRepeatable compares consecutive external reads of each key.
func (c *checker) checkRepeatable(i int, ext []readResult) {
	t := &c.h[i]
	for k := range ext {
		cur := t.Ops[ext[k].op]
		for p := k - 1; p >= 0; p-- {
			prev := t.Ops[ext[p].op]
			if prev.Key != cur.Key {
				continue
			}
			same := prev.Found == cur.Found &&
				(cur.Found && bytes.Equal(prev.Value, cur.Value) ||
					!cur.Found && (prev.Version == "" || cur.Version == "" || prev.Version == cur.Version))
			if !same && c.count(KindRepeatable) {
				c.store(Anomaly{Kind: KindRepeatable, Txns: []string{t.ID}, Keys: []string{cur.Key},
					Msg: fmt.Sprintf("txn %s read key %q twice and got %s (op %d), then %s (op %d)",
						t.ID, cur.Key, describe(prev), ext[p].op, describe(cur), ext[k].op)})
			}
			break
		}
	}
}

// checkFractured checks that whenever an external read saw a write of W, every external
// read of another key W wrote saw W's version or a newer one.
func (c *checker) checkFractured(i int, ext []readResult) {
	t := &c.h[i]
	for _, ri := range ext {
		w := ri.writer
		if w < 0 || !ri.known || c.h[w].Outcome == Failed {
			continue
		}
		a := t.Ops[ri.op].Key
		for _, kw := range c.writes[w] {
			if kw.key == a {
				continue
			}
			for _, rj := range ext {
				b := t.Ops[rj.op]
				if b.Key != kw.key || rj.writer == w || !older(rj, ri.version) {
					continue
				}
				if c.count(KindFractured) {
					ids := []string{t.ID, c.h[w].ID}
					if rj.writer >= 0 {
						ids = append(ids, c.h[rj.writer].ID)
					}
					c.store(Anomaly{Kind: KindFractured, Txns: ids, Keys: []string{a, b.Key},
						Msg: fmt.Sprintf("txn %s read key %q (op %d) at version %q of txn %s, which also wrote key %q, "+
							"but read %q (op %d) at older version %q (%s)",
							t.ID, a, ri.op, ri.version, c.h[w].ID, b.Key, b.Key, rj.op, rj.version, describe(b))})
				}
			}
		}
	}
}

// checkLost checks that the external reads of final transaction i saw, for each key, the
// newest committed write or a newer one.
func (c *checker) checkLost(i int, ext []readResult) {
	t := &c.h[i]
	for _, r := range ext {
		op := t.Ops[r.op]
		n, ok := c.newest[op.Key]
		if !ok || r.writer == n || !older(r, c.h[n].Version) {
			continue
		}
		if c.count(KindLost) {
			c.store(Anomaly{Kind: KindLost, Txns: []string{t.ID, c.h[n].ID}, Keys: []string{op.Key},
				Msg: fmt.Sprintf("final txn %s read key %q at version %q (%s), older than version %q committed by txn %s",
					t.ID, op.Key, r.version, describe(op), c.h[n].Version, c.h[n].ID)})
		}
	}
}

// older reports whether r surely saw a version older than v.
func older(r readResult, v string) bool {
	return r.known && !r.newest && r.version < v
}

// checkDuplicates checks that at most one attempt of each idempotency key took effect.
func (c *checker) checkDuplicates() {
	var order []string
	groups := map[string][]int{}
	for i := range c.h {
		k := c.h[i].IdemKey
		if k == "" {
			continue
		}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	for _, k := range order {
		var ids, how []string
		for _, i := range groups[k] {
			t := &c.h[i]
			if slices.Contains(ids, t.ID) {
				// The same attempt recorded twice, e.g. as the winner a begin returned.
				continue
			}
			switch {
			case t.Outcome == Committed:
				ids = append(ids, t.ID)
				how = append(how, t.ID+" (committed)")
			case c.observed[i]:
				ids = append(ids, t.ID)
				how = append(how, fmt.Sprintf("%s (%s, writes observed)", t.ID, t.Outcome))
			}
		}
		if len(ids) > 1 && c.count(KindDuplicate) {
			c.store(Anomaly{Kind: KindDuplicate, Txns: ids, IdemKey: k,
				Msg: fmt.Sprintf("idempotency key %q took effect %d times: %s", k, len(ids), strings.Join(how, ", "))})
		}
	}
}

// describe formats the result of a read.
func describe(op Op) string {
	if !op.Found {
		if op.Version == "" {
			return "not-found"
		}
		return fmt.Sprintf("not-found at %q", op.Version)
	}
	return showValue(op.Value)
}
