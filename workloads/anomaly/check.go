package anomaly

import (
	"fmt"
	"slices"
	"sort"
)

// Request is one logical request of a run.
type Request struct {
	ID string
	// Keys are every key the request updates, across all the functions it runs.
	Keys []string
	// Acked says that the caller got a success answer for it.
	Acked bool
}

// Snapshot is one state as a reader saw it: the keys it read, and the documents of those
// that had a value (a key read and absent from Docs had none).
type Snapshot struct {
	Keys []string
	Docs map[string]Doc
}

// OwnRead is a function's read of a key that its attempt had written before.
type OwnRead struct {
	Key string
	// Want is the tag of the reading attempt; Got is the By of the version read ("" when
	// the key had no value).
	Want, Got string
}

// History is what one run recorded.
type History struct {
	Requests []Request
	// Completed holds the attempts that completed all their writes (and those of the
	// functions they called). An attempt absent from it failed, or was cut short.
	Completed map[string]bool
	// Snapshots are the states concurrent readers saw.
	Snapshots []Snapshot
	// OwnReads are the functions' reads of their own writes.
	OwnReads []OwnRead
	// Final is the state after all work stopped; it must cover every key of every request.
	Final Snapshot
}

// DefaultMaxExamples is how many examples of each kind a Report keeps.
const DefaultMaxExamples = 5

// Report is the result of Check.
type Report struct {
	Counts Counts
	// Examples describe a few anomalies of each kind, for a person.
	Examples map[Kind][]string
}

type checker struct {
	h         History
	rep       Report
	partial   map[string]bool // requests counted as partial
	dup       map[string]bool // requests counted as duplicate
	fractured map[string]bool // requests counted as fractured
	whole     map[string]bool // requests in all of their keys in the final state
	maxEx     int
}

func (c *checker) example(k Kind, format string, args ...any) {
	if len(c.rep.Examples[k]) < c.maxEx {
		c.rep.Examples[k] = append(c.rep.Examples[k], fmt.Sprintf(format, args...))
	}
}

// Check counts the anomalies of h (see the package documentation for the rules).
func Check(h History) Report {
	c := &checker{h: h, rep: Report{Examples: map[Kind][]string{}}, partial: map[string]bool{},
		dup: map[string]bool{}, fractured: map[string]bool{}, whole: map[string]bool{}, maxEx: DefaultMaxExamples}
	for id, p := range c.index(h.Final) {
		c.whole[id] = len(p.missing) == 0
	}
	for i, s := range h.Snapshots {
		c.snapshot(i, s)
	}
	c.final()
	for _, r := range h.OwnReads {
		if r.Got != r.Want {
			c.rep.Counts.RYW++
			got := r.Got
			if got == "" {
				got = "nothing"
			}
			c.example(RYW, "attempt %s read %s back and got the version of %s", r.Want, r.Key, got)
		}
	}
	c.rep.Counts.Fractured = len(c.fractured)
	c.rep.Counts.Partial = len(c.partial)
	c.rep.Counts.Duplicate = len(c.dup)
	return c.rep
}

// presence is how one request shows in a state.
type presence struct {
	in       []string // keys holding it
	missing  []string // keys not holding it
	attempts []string // attempts seen in its entries
	twice    string   // a key holding it more than once
}

// index returns, for every request with an entry in state s, how it shows there. Only
// requests whose keys were all read are returned.
func (c *checker) index(s Snapshot) map[string]*presence {
	read := map[string]bool{}
	for _, k := range s.Keys {
		read[k] = true
	}
	// entries[req][key] = number of entries of req in key
	entries := map[string]map[string]int{}
	attempts := map[string][]string{}
	for key, d := range s.Docs {
		for _, e := range d.Log {
			t, ok := ParseTag(e)
			if !ok {
				continue
			}
			if entries[t.Request] == nil {
				entries[t.Request] = map[string]int{}
			}
			entries[t.Request][key]++
			if !slices.Contains(attempts[t.Request], t.Attempt) {
				attempts[t.Request] = append(attempts[t.Request], t.Attempt)
			}
		}
	}
	out := map[string]*presence{}
	for _, r := range c.h.Requests {
		e := entries[r.ID]
		if len(e) == 0 || !all(r.Keys, read) {
			continue
		}
		p := &presence{attempts: attempts[r.ID]}
		for _, k := range r.Keys {
			switch n := e[k]; {
			case n == 0:
				p.missing = append(p.missing, k)
			default:
				p.in = append(p.in, k)
				if n > 1 && p.twice == "" {
					p.twice = k
				}
			}
		}
		out[r.ID] = p
	}
	return out
}

func all(keys []string, set map[string]bool) bool {
	for _, k := range keys {
		if !set[k] {
			return false
		}
	}
	return true
}

// snapshot counts what reader snapshot i saw.
func (c *checker) snapshot(i int, s Snapshot) {
	idx := c.index(s)
	for _, id := range sortedKeys(idx) {
		p := idx[id]
		c.duplicate(id, p, fmt.Sprintf("snapshot %d", i))
		if len(p.missing) == 0 {
			continue
		}
		failed := ""
		for _, a := range p.attempts {
			if !c.h.Completed[a] {
				failed = a
				break
			}
		}
		if failed != "" {
			if !c.partial[id] {
				c.partial[id] = true
				c.example(Partial, "snapshot %d showed request %s in %v but not in %v, written by attempt %s that failed", i, id, p.in, p.missing, failed)
			}
			continue
		}
		// Half a request that ends up whole was a write in progress; one that does not is
		// judged by the final state (lost, or partial).
		if c.whole[id] && !c.fractured[id] {
			c.fractured[id] = true
			c.example(Fractured, "snapshot %d showed request %s in %v but not yet in %v", i, id, p.in, p.missing)
		}
	}
}

func (c *checker) duplicate(id string, p *presence, where string) {
	if p.twice != "" && !c.dup[id] {
		c.dup[id] = true
		c.example(Duplicate, "%s: request %s applied more than once to %s", where, id, p.twice)
	}
}

// final counts what the final state shows.
func (c *checker) final() {
	idx := c.index(c.h.Final)
	read := map[string]bool{}
	for _, k := range c.h.Final.Keys {
		read[k] = true
	}
	for _, r := range c.h.Requests {
		if !all(r.Keys, read) {
			continue // not in the final state: nothing to judge
		}
		p := idx[r.ID]
		if p != nil {
			c.duplicate(r.ID, p, "final state")
		}
		switch {
		case r.Acked && p == nil:
			c.rep.Counts.Lost++
			c.example(Lost, "acknowledged request %s is in none of its keys %v", r.ID, r.Keys)
		case r.Acked && len(p.missing) > 0:
			c.rep.Counts.Lost++
			c.example(Lost, "acknowledged request %s is missing from %v", r.ID, p.missing)
		case !r.Acked && p != nil && len(p.missing) > 0 && !c.partial[r.ID]:
			c.partial[r.ID] = true
			c.example(Partial, "failed request %s stayed in %v but not in %v", r.ID, p.in, p.missing)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
