package history

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
)

// This file generates correct histories from a deliberately naive model: a map from key to
// its committed entry, changed by one transaction at a time. Readers read one consistent
// snapshot (the current state or a recent past one) and their own buffered writes; writers
// commit, fail, or end with an unknown outcome that may or may not have taken effect;
// requests with an idempotency key are retried until one attempt takes effect.

// entry is one committed version of a key in the model.
type entry struct {
	version string
	value   []byte
	deleted bool
	writer  int // index of the writer in the history
}

// genConfig shapes a generated history.
type genConfig struct {
	txns int // about this many transactions, then one final txn per key
	keys int
	// tombHeaders makes every read of a tombstone carry its version; otherwise half do.
	tombHeaders bool
}

// generated is a history and what the model knows about it.
type generated struct {
	h    []Txn
	hist map[string][]entry // per key, the versions that took effect, oldest first
	src  map[[2]int]entry   // per (txn, op) external read of an existing key: the entry read
}

type model struct {
	cfg   genConfig
	rng   *rand.Rand
	now   int // milliseconds since t0
	keys  []string
	state map[string]entry   // never changed in place: a commit makes a new map
	snaps []map[string]entry // recent states, newest last
	g     generated
}

func (m *model) tick() int { m.now++; return m.now }

func generate(seed uint64, cfg genConfig) generated {
	m := &model{
		cfg:   cfg,
		rng:   rand.New(rand.NewPCG(seed, 0x5eed)),
		state: map[string]entry{},
		g:     generated{hist: map[string][]entry{}, src: map[[2]int]entry{}},
	}
	for k := range cfg.keys {
		m.keys = append(m.keys, fmt.Sprintf("k%d", k))
	}
	for req := 0; len(m.g.h) < cfg.txns; req++ {
		idemKey := ""
		if m.rng.IntN(3) == 0 {
			idemKey = fmt.Sprintf("req%d", req)
		}
		for attempt := 0; attempt < 3; attempt++ {
			if m.runTxn(idemKey) || idemKey == "" {
				break
			}
		}
	}
	for _, k := range m.keys {
		id := fmt.Sprintf("final-%s", k)
		i := len(m.g.h)
		m.g.h = append(m.g.h, Txn{ID: id, Ops: []Op{m.read(i, 0, k, m.state)}, Outcome: Failed, Final: true})
	}
	return m.g
}

// read reads key from snapshot snap as op j of txn i.
func (m *model) read(i, j int, key string, snap map[string]entry) Op {
	op := Op{Kind: Read, Key: key, Start: at(m.tick()), End: at(m.tick())}
	e, ok := snap[key]
	if !ok {
		return op
	}
	m.g.src[[2]int{i, j}] = e
	if e.deleted {
		if m.cfg.tombHeaders || m.rng.IntN(2) == 0 {
			op.Version = e.version
		}
		return op
	}
	op.Found, op.Value, op.Version = true, e.value, e.version
	return op
}

// runTxn runs one transaction and reports whether it took effect.
func (m *model) runTxn(idemKey string) bool {
	i := len(m.g.h)
	t := Txn{ID: fmt.Sprintf("t%d", i), IdemKey: idemKey}
	snap := m.state
	if n := len(m.snaps); n > 0 && m.rng.IntN(4) == 0 {
		snap = m.snaps[n-1-m.rng.IntN(min(n, 5))]
	}
	buf := map[string]entry{}
	for j := range 1 + m.rng.IntN(8) {
		key := m.keys[m.rng.IntN(len(m.keys))]
		switch r := m.rng.IntN(20); {
		case r < 10:
			if e, ok := buf[key]; ok {
				t.Ops = append(t.Ops, Op{Kind: Read, Key: key, Found: !e.deleted, Value: e.value,
					Start: at(m.tick()), End: at(m.tick())})
			} else {
				t.Ops = append(t.Ops, m.read(i, j, key, snap))
			}
		case r < 17:
			v := []byte(fmt.Sprintf("%s/%d", t.ID, j))
			buf[key] = entry{value: v}
			t.Ops = append(t.Ops, Op{Kind: Write, Key: key, Value: v, Start: at(m.tick()), End: at(m.tick())})
		default:
			buf[key] = entry{deleted: true}
			t.Ops = append(t.Ops, Op{Kind: Delete, Key: key, Start: at(m.tick()), End: at(m.tick())})
		}
	}
	applied := false
	switch r := m.rng.IntN(20); {
	case r < 14:
		t.Outcome, t.CommitStart, applied = Committed, at(m.tick()), true
	case r < 17:
		t.Outcome = Failed
		if m.rng.IntN(2) == 0 {
			t.CommitStart = at(m.tick()) // commit answered 409 aborted
		}
	default:
		t.Outcome, t.CommitStart, applied = Unknown, at(m.tick()), m.rng.IntN(2) == 0
	}
	if applied {
		version := fmt.Sprintf("%08x.%s", m.tick(), t.ID)
		if t.Outcome == Committed {
			t.Version = version
		}
		next := maps.Clone(m.state)
		for _, key := range slices.Sorted(maps.Keys(buf)) {
			e := buf[key]
			e.version, e.writer = version, i
			next[key] = e
			m.g.hist[key] = append(m.g.hist[key], e)
		}
		m.state = next
		m.snaps = append(m.snaps, next)
		if len(m.snaps) > 8 {
			m.snaps = m.snaps[1:]
		}
	}
	m.g.h = append(m.g.h, t)
	return applied
}
