package record

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/aft-shim/aft/shim/ra"
	"github.com/aft-shim/aft/shim/store"
)

// Storage keys. Every key is built from [A-Za-z0-9._~/-] and is at most 512 bytes, whatever
// bytes the user's key holds, so that every backend can store it as it is.
const (
	// VersionPrefix starts the storage key of every data version: v/<key>/<version>.
	VersionPrefix = "v/"
	// RecordPrefix starts the storage key of every commit record: r/k/<idempotency key> for a
	// transaction with an idempotency key (so that one key has at most one commit record), and
	// r/t/<transaction id> for one without.
	RecordPrefix = "r/"
	// LeaseKey holds the lease of the node that runs on the store (package lease). Its
	// prefix n/ is no data version's nor commit record's, so recovery and the sweep, which
	// list v/ and r/, never see it.
	LeaseKey = "n/lease"
)

// maxPlainKey is the longest user key stored in base64 as it is; longer keys are stored by
// their SHA-256 digest, marked by a leading '~' that base64url never produces.
const maxPlainKey = 300

// EncodeKey turns a user key (any bytes) into a storage-safe name of at most 400 bytes.
func EncodeKey(key string) string {
	if len(key) <= maxPlainKey {
		return base64.RawURLEncoding.EncodeToString([]byte(key))
	}
	sum := sha256.Sum256([]byte(key))
	return "~" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// VersionKey is the storage key of the data version v of key.
func VersionKey(key string, v ra.Version) string {
	return VersionPrefix + EncodeKey(key) + "/" + v.String()
}

// ParseVersionKey returns the version at the end of a storage key made by VersionKey.
func ParseVersionKey(s string) (ra.Version, error) {
	i := strings.LastIndexByte(s, '/')
	if !strings.HasPrefix(s, VersionPrefix) || i < len(VersionPrefix) {
		return ra.Version{}, fmt.Errorf("parse version key %q: %w", s, ra.ErrBadVersion)
	}
	return ra.ParseVersion(s[i+1:])
}

// RecordKey is the storage key of the commit record of a transaction: by its idempotency
// key when it has one, else by its id.
func RecordKey(idemKey, txnID string) string {
	if idemKey != "" {
		return RecordPrefix + "k/" + base64.RawURLEncoding.EncodeToString([]byte(idemKey))
	}
	return RecordPrefix + "t/" + txnID
}

// Keys of the nodes on a store several nodes share (package txn). Each node keeps its
// lease, with how far it has read the commit log, at NodeKey, and an empty ordered key at
// NodeListKey, so that a node finds the others with one ordered listing of NodesDir.
const (
	NodesDir = store.OrderedPrefix + "nodes/"
	// TrimKey holds the second below which the commit log was removed.
	TrimKey = "n/trim"
)

// NodeKey is the storage key of the lease record of the node with identity node.
func NodeKey(node string) string {
	return "n/node/" + base64.RawURLEncoding.EncodeToString([]byte(node))
}

// NodeListKey is the key that lists node in NodesDir.
func NodeListKey(node string) string {
	return NodesDir + base64.RawURLEncoding.EncodeToString([]byte(node))
}

// NodeOfListKey returns the identity NodeListKey encoded in key.
func NodeOfListKey(key string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(key, NodesDir))
	if err != nil || !strings.HasPrefix(key, NodesDir) || len(b) == 0 {
		return "", fmt.Errorf("node list key %q: not one NodeListKey made", key)
	}
	return string(b), nil
}
