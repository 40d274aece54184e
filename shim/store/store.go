// Package store declares the storage interface the shim runs on, and the sentinel errors
// every backend returns.
//
// The interface is a deliberately small key-value contract: the shim alone decides the
// layout (which keys hold data versions and which hold commit records) and builds every
// storage key from the characters [A-Za-z0-9._~/-] only, at most 512 bytes long, so that
// any backend (a file, DynamoDB, S3, Redis) can use the key as it is. Backends are one
// package each under this folder; storetest holds the conformance suite all of them pass.
package store

import (
	"context"
	"errors"
	"strconv"
)

// ErrNotFound is returned by Get when the key holds no value.
var ErrNotFound = errors.New("not found")

// ErrExists is returned by Create when the key already holds a value.
var ErrExists = errors.New("already exists")

// ErrTooLarge is returned (wrapped in a *TooLargeError) when a value is larger than the
// backend can hold.
var ErrTooLarge = errors.New("value too large")

// TooLargeError reports a value over the backend's limit. errors.Is(err, ErrTooLarge) holds.
type TooLargeError struct {
	Key   string
	Size  int
	Limit int
}

func (e *TooLargeError) Error() string {
	return "value of " + e.Key + " too large: " + strconv.Itoa(e.Size) + " bytes, limit " + strconv.Itoa(e.Limit)
}

// Unwrap makes errors.Is(err, ErrTooLarge) hold.
func (e *TooLargeError) Unwrap() error { return ErrTooLarge }

// Item is one key and its value.
type Item struct {
	Key   string
	Value []byte
}

// Store is the storage the shim runs on. Implementations must be safe for concurrent use.
//
// Durability: when Put, Create or Delete return nil, their effect survives a crash of the
// process (and, for an embedded store, of the machine when fsync is on). When they return an
// error, the write may or may not have happened (a timeout after the server applied it),
// but it happens, if at all, within a bounded time after the call returned: the shim waits
// that long (txn.Config.SettleTime) before it takes a missing record as final. Values passed in
// are not retained by the store after the call returns; values returned belong to the
// caller.
type Store interface {
	// Get returns the value of key, or an error wrapping ErrNotFound when there is none.
	Get(ctx context.Context, key string) ([]byte, error)

	// Put writes every item, overwriting existing values. It is not atomic across items: after
	// an error, any subset of them may have been written. The shim writes only immutable data
	// under Put, so a retried Put writes the same bytes again.
	Put(ctx context.Context, items []Item) error

	// Create writes key only if it holds no value, and returns an error wrapping ErrExists
	// otherwise, leaving the existing value unchanged. Of any number of concurrent Creates of
	// one key, across processes sharing the store, exactly one succeeds. This is the single
	// conditional write the commit protocol relies on.
	Create(ctx context.Context, key string, value []byte) error

	// Delete removes the keys. Keys that hold no value are not an error.
	Delete(ctx context.Context, keys []string) error

	// List calls fn for every key that starts with prefix, in no promised order, with its value
	// when withValues is true (else with a nil value). Keys written or deleted during a List may
	// or may not be seen. An error from fn stops the listing and is returned. List is used at
	// start-up and by background sweeps, never on the request path.
	List(ctx context.Context, prefix string, withValues bool, fn func(key string, value []byte) error) error

	// Close releases the store. No method may be called after it.
	Close() error
}

// Limiter is implemented by stores with a maximum value size.
type Limiter interface {
	// MaxValueSize is the largest value, in bytes, that Put and Create accept.
	MaxValueSize() int
}

// Committer is implemented by stores that can write a whole commit in one atomic step. The
// shim then writes a commit's data versions and its record with one call (one round trip,
// one fsync) instead of Put followed by Create.
type Committer interface {
	// PutCreate writes items and creates key with value in one atomic, durable step: when
	// key already holds a value it writes nothing at all and returns an error wrapping
	// ErrExists; otherwise, on success, all of it is written. Concurrent PutCreates of one
	// key behave as concurrent Creates: exactly one succeeds.
	PutCreate(ctx context.Context, items []Item, key string, value []byte) error
}

// OrderedPrefix starts the keys that a store implementing Ordered lists in key order. The
// shim keeps its commit log there (package record): one key per commit, empty value.
const OrderedPrefix = "l/"

// Ordered is implemented by stores that several shim nodes may share. It answers "what
// landed since": the keys of one directory under OrderedPrefix, in key order, after a given
// key. A node finds the commits of the other nodes with it.
//
// Keys under OrderedPrefix are ordinary keys in every other respect (Get, Put, PutCreate,
// Delete and List treat them as any other key); the shim writes them with empty values
// only, and the part of a key after the directory ListAfter lists holds no "/".
type Ordered interface {
	// ListAfter calls fn, in ascending byte order of keys, for the keys that start with dir
	// and sort after after (every key of dir when after is ""), at most limit of them (limit
	// > 0). dir starts with OrderedPrefix and ends with "/". It is strongly consistent: a
	// key whose Put, Create or PutCreate returned nil before ListAfter started is seen when
	// it is in range, and a key whose Delete returned nil is not. An error from fn stops it
	// and is returned.
	ListAfter(ctx context.Context, dir, after string, limit int, fn func(key string) error) error
}
