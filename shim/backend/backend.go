// Package backend opens the store named by a --store URL (spec/cli.md): the embedded store
// in a data directory by default, or mem:// for tests and demos. Server-backed stores
// (dynamodb://, s3://, redis://) plug in here as they are built.
package backend

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"

	"github.com/aft-shim/aft/shim/store"
	"github.com/aft-shim/aft/shim/store/bolt"
	"github.com/aft-shim/aft/shim/store/mem"
)

// ErrBadURL is returned for a --store URL that names no usable backend.
var ErrBadURL = errors.New("bad store URL")

// Options are what opening a store may need besides its URL.
type Options struct {
	DataDir     string // directory of the embedded store
	CreateStore bool   // create a missing table or bucket
	NoSync      bool   // embedded store: skip fsync (tests and benchmarks only)
}

// DataFile is the embedded store's file inside the data directory.
const DataFile = "aft.db"

// Check validates rawURL without opening anything.
func Check(rawURL string) error {
	_, err := parse(rawURL)
	return err
}

func parse(rawURL string) (*url.URL, error) {
	if rawURL == "" {
		return &url.URL{}, nil
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrBadURL, rawURL, err)
	}
	switch u.Scheme {
	case "mem":
		return u, nil
	case "dynamodb", "s3", "redis", "rediss":
		return nil, fmt.Errorf("%w %q: the %s backend is not part of this build yet; use the embedded default (no --store) or mem://", ErrBadURL, rawURL, u.Scheme)
	}
	return nil, fmt.Errorf("%w %q: unknown scheme %q; want dynamodb://, s3://, redis://, rediss:// or mem://", ErrBadURL, rawURL, u.Scheme)
}

// Open opens the store rawURL names; "" is the embedded store in o.DataDir.
func Open(rawURL string, o Options) (store.Store, string, error) {
	u, err := parse(rawURL)
	if err != nil {
		return nil, "", err
	}
	switch u.Scheme {
	case "mem":
		return mem.New(), "mem://", nil
	}
	path := filepath.Join(o.DataDir, DataFile)
	s, err := bolt.Open(path, bolt.Options{NoSync: o.NoSync})
	if err != nil {
		return nil, "", fmt.Errorf("open embedded store: %w", err)
	}
	return s, "embedded " + path, nil
}
