// Package record encodes the shim's commit records and names the storage keys of its
// layout. A commit record is the single write that makes a transaction committed: it holds
// the transaction's version, its write set, its idempotency key and stored result.
package record

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"sort"

	"github.com/aft-shim/aft/shim/ra"
)

// Write is one key of a transaction's write set.
type Write struct {
	Key       string
	Tombstone bool // the transaction deleted the key
}

// Record is a commit record.
type Record struct {
	Version   ra.Version // version of every write; Version.Txn is the transaction id
	IdemKey   string     // idempotency key of the logical request, "" for none
	Attempt   int        // attempt number of this transaction within its idempotency key
	Writes    []Write    // sorted by key, unique
	Result    []byte     // opaque result stored with the commit, nil for none
	Compacted bool       // the write set was garbage collected: only the result is kept
}

// ErrCorrupt is returned by Unmarshal for bytes that are not a well-formed record.
var ErrCorrupt = errors.New("corrupt commit record")

const (
	magic         = "AFTR"
	formatVersion = 1
	flagCompacted = 1
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// SortWrites sorts ws by key in place.
func SortWrites(ws []Write) {
	sort.Slice(ws, func(i, j int) bool { return ws[i].Key < ws[j].Key })
}

// Marshal encodes r. Writes must be sorted by key (SortWrites).
func (r *Record) Marshal() []byte {
	n := len(magic) + 2 + 3*binary.MaxVarintLen64 + len(r.Version.Txn) + len(r.IdemKey) + len(r.Result) + 4
	for _, w := range r.Writes {
		n += binary.MaxVarintLen64 + len(w.Key) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, magic...)
	b = append(b, formatVersion)
	var flags byte
	if r.Compacted {
		flags |= flagCompacted
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, r.Version.TS)
	b = appendString(b, r.Version.Txn)
	b = appendString(b, r.IdemKey)
	b = binary.AppendUvarint(b, uint64(r.Attempt))
	b = appendString(b, string(r.Result))
	b = binary.AppendUvarint(b, uint64(len(r.Writes)))
	for _, w := range r.Writes {
		b = appendString(b, w.Key)
		if w.Tombstone {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crcTable))
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// Unmarshal decodes a record that Marshal produced. Any other input gets an error wrapping
// ErrCorrupt; it never panics.
func Unmarshal(b []byte) (*Record, error) {
	if len(b) < len(magic)+2+4 || string(b[:len(magic)]) != magic {
		return nil, fmt.Errorf("%w: bad header", ErrCorrupt)
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, crcTable) != sum {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	if body[len(magic)] != formatVersion {
		return nil, fmt.Errorf("%w: unknown format version %d", ErrCorrupt, body[len(magic)])
	}
	flags := body[len(magic)+1]
	if flags&^flagCompacted != 0 {
		return nil, fmt.Errorf("%w: unknown flags %#x", ErrCorrupt, flags)
	}
	d := decoder{b: body[len(magic)+2:]}
	r := &Record{Compacted: flags&flagCompacted != 0}
	r.Version.TS = d.uvarint()
	r.Version.Txn = d.string()
	r.IdemKey = d.string()
	r.Attempt = int(d.uvarint())
	if res := d.string(); d.err == nil && len(res) > 0 {
		r.Result = []byte(res)
	}
	n := d.uvarint()
	if n > uint64(len(d.b)) { // every write takes at least one byte
		d.fail("write count")
	}
	if d.err == nil && n > 0 {
		r.Writes = make([]Write, 0, n)
	}
	for i := uint64(0); i < n && d.err == nil; i++ {
		w := Write{Key: d.string()}
		switch t := d.byte(); t {
		case 0:
		case 1:
			w.Tombstone = true
		default:
			d.fail("tombstone flag")
		}
		if len(r.Writes) > 0 && r.Writes[len(r.Writes)-1].Key >= w.Key {
			d.fail("write set order")
		}
		r.Writes = append(r.Writes, w)
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
	if d.err == nil && (r.Version.TS == 0 || r.Version.Txn == "" || r.Attempt < 0) {
		d.fail("version")
	}
	if d.err != nil {
		return nil, d.err
	}
	return r, nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: bad %s", ErrCorrupt, what)
	}
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 || n > 1 && d.b[n-1] == 0 { // one encoding per number: the shortest, whose last byte is not 0
		d.fail("varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.fail("length")
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.fail("length")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}
