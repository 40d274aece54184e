package record

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/aft-shim/aft/shim/store"
)

// The commit log: one key per commit try under store.OrderedPrefix, with an empty value,
// written in the same step as the data versions (before, or atomically with, the record).
// Its name holds everything a node that reads the log needs: when it was written (a
// stamp of the writer's clock), the transaction and where its record is:
//
//	l/<second>/<stamp, 16 hex digits>.<txn id>.t            record r/t/<txn id>
//	l/<second>/<stamp, 16 hex digits>.<txn id>.k<base64url>  record r/k/<base64url>
//
// <second> is the stamp in whole seconds, in decimal: a directory per second of commits,
// which a store lists in key order (store.Ordered), so that "what landed after stamp S" is
// a listing of the directories from S's second on. A log key says only that a commit was
// tried; the record it names, when it holds the same transaction, says it happened.

// LogPrefix is the prefix of every log key.
const LogPrefix = store.OrderedPrefix

// LogDir returns the directory of the log keys with stamps in the second of stamp.
func LogDir(stamp uint64) string {
	return LogPrefix + strconv.FormatUint(stamp/1e9, 10) + "/"
}

// LogKey returns the log key of a commit try of transaction txnID, with idempotency key
// idemKey ("" for none), written at stamp. It is at most 2+20+1+16+1+32+2+342 = 416 bytes
// for an id newID makes and an idempotency key of at most 256 bytes.
func LogKey(stamp uint64, txnID, idemKey string) string {
	return LogDir(stamp) + stampHex(stamp) + "." + txnID + "." + logTail(idemKey)
}

// LogAfter returns the smallest key of stamp's directory that a log key with a stamp of
// at least stamp sorts after: listing from it finds every log key of that second with a
// stamp >= stamp.
func LogAfter(stamp uint64) string {
	if stamp == 0 {
		return ""
	}
	return LogDir(stamp) + stampHex(stamp-1) + "/" // '/' sorts above '.', below every digit
}

func logTail(idemKey string) string {
	if idemKey == "" {
		return "t"
	}
	return "k" + base64.RawURLEncoding.EncodeToString([]byte(idemKey))
}

func stampHex(stamp uint64) string {
	var b [16]byte
	s := strconv.AppendUint(b[:0], stamp, 16)
	return strings.Repeat("0", 16-len(s)) + string(s)
}

// LogEntry is a parsed log key.
type LogEntry struct {
	Stamp     uint64
	Txn       string
	RecordKey string // the storage key of the record that makes it committed
}

// ParseLogKey parses a key LogKey made.
func ParseLogKey(key string) (LogEntry, error) {
	bad := func(what string) (LogEntry, error) {
		return LogEntry{}, fmt.Errorf("log key %q: bad %s", key, what)
	}
	rest, ok := strings.CutPrefix(key, LogPrefix)
	if !ok {
		return bad("prefix")
	}
	sec, rest, ok := strings.Cut(rest, "/")
	if !ok {
		return bad("directory")
	}
	stampText, rest, ok := strings.Cut(rest, ".")
	if !ok || len(stampText) != 16 {
		return bad("stamp")
	}
	stamp, err := strconv.ParseUint(stampText, 16, 64)
	if err != nil || stamp == 0 || strconv.FormatUint(stamp/1e9, 10) != sec {
		return bad("stamp")
	}
	id, tail, ok := strings.Cut(rest, ".")
	if !ok || id == "" || strings.Contains(id, "/") {
		return bad("transaction id")
	}
	e := LogEntry{Stamp: stamp, Txn: id}
	switch {
	case tail == "t":
		e.RecordKey = RecordKey("", id)
	case len(tail) > 1 && tail[0] == 'k':
		k, err := base64.RawURLEncoding.DecodeString(tail[1:])
		if err != nil || len(k) == 0 {
			return bad("idempotency key")
		}
		e.RecordKey = RecordKey(string(k), id)
	default:
		return bad("record")
	}
	return e, nil
}
