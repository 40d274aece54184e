// Package backend opens the store named by a --store URL (spec/cli.md): the embedded store
// in a data directory by default, mem:// for tests and demos, and the server-backed stores
// (dynamodb://, s3://, redis://, rediss://), each in a file of its own here.
package backend

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"

	"github.com/aft-shim/aft/internal/redact"
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

// scheme opens the stores of one URL scheme.
type scheme struct {
	// check validates the URL without touching the network.
	check func(u *url.URL) error
	// open opens the store and describes it in a few words for the ready line.
	open func(ctx context.Context, u *url.URL, o Options) (store.Store, string, error)
}

// schemes lists every URL scheme; "" is the embedded store.
var schemes = map[string]scheme{
	"":         {check: func(*url.URL) error { return nil }, open: openEmbedded},
	"mem":      {check: func(*url.URL) error { return nil }, open: openMem},
	"dynamodb": dynamodbScheme,
	"s3":       s3Scheme,
	"redis":    redisScheme,
	"rediss":   redisScheme,
}

// Check validates rawURL without opening anything.
func Check(rawURL string) error {
	_, _, err := parse(rawURL)
	return err
}

func parse(rawURL string) (*url.URL, scheme, error) {
	if rawURL == "" {
		return &url.URL{}, schemes[""], nil
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error quotes the whole URL, password included
		}
		return nil, scheme{}, fmt.Errorf("%w: cannot parse it: %v", ErrBadURL, err)
	}
	shown := redact.URL(rawURL) // never print a password
	s, ok := schemes[u.Scheme]
	if !ok || u.Scheme == "" {
		return nil, scheme{}, fmt.Errorf("%w %q: unknown scheme %q; want dynamodb://, s3://, redis://, rediss:// or mem://", ErrBadURL, shown, u.Scheme)
	}
	if err := s.check(u); err != nil {
		return nil, scheme{}, fmt.Errorf("%w %q: %w", ErrBadURL, shown, err)
	}
	return u, s, nil
}

// Open opens the store rawURL names; "" is the embedded store in o.DataDir. The string
// describes the store for the ready line.
func Open(ctx context.Context, rawURL string, o Options) (store.Store, string, error) {
	u, s, err := parse(rawURL)
	if err != nil {
		return nil, "", err
	}
	return s.open(ctx, u, o)
}

func openMem(context.Context, *url.URL, Options) (store.Store, string, error) {
	return mem.New(), "mem://", nil
}

func openEmbedded(_ context.Context, _ *url.URL, o Options) (store.Store, string, error) {
	path := filepath.Join(o.DataDir, DataFile)
	s, err := bolt.Open(path, bolt.Options{NoSync: o.NoSync})
	if err != nil {
		return nil, "", fmt.Errorf("open embedded store: %w", err)
	}
	return s, "embedded " + path, nil
}

// notBuilt is the scheme of a backend that this build does not have yet.
func notBuilt(name string) scheme {
	err := fmt.Errorf("the %s backend is not part of this build yet; use the embedded default (no --store) or mem://", name)
	return scheme{
		check: func(*url.URL) error { return err },
		open:  func(context.Context, *url.URL, Options) (store.Store, string, error) { return nil, "", err },
	}
}
