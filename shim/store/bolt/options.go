package bolt

import (
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"
)

// Defaults of the zero Options.
const (
	// DefaultMaxBatch is the default bound on the writes in one group commit.
	DefaultMaxBatch = 256
	// DefaultMaxBatchBytes is the default bound on the value bytes in one group commit.
	DefaultMaxBatchBytes = 64 << 20
	// DefaultMaxValueSize is the default largest value Put and Create accept.
	DefaultMaxValueSize = 64 << 20
	// DefaultLockTimeout is the default wait for the lock on the data file.
	DefaultLockTimeout = time.Second
)

// Options configures a Store. The zero value is the default: fsync on every commit.
type Options struct {
	// NoSync skips the fsync after each commit: writes survive a crash of the process but
	// not of the machine. Meant for tests and benchmarks.
	NoSync bool

	// MaxBatch bounds the writes in one group commit, counting each item of a Put, each key
	// of a Delete and each Create as one; 0 means DefaultMaxBatch. A single call larger than
	// MaxBatch is never split: it gets a transaction of its own.
	MaxBatch int

	// MaxBatchBytes bounds the value bytes in one group commit, with the same exception as
	// MaxBatch; 0 means DefaultMaxBatchBytes.
	MaxBatchBytes int

	// MaxValueSize is the largest value, in bytes, Put and Create accept; 0 means
	// DefaultMaxValueSize. It may not exceed bbolt's limit of 2 GiB - 2.
	MaxValueSize int

	// LockTimeout is how long Open waits for the lock on the data file before it reports
	// the directory in use by another process; 0 means DefaultLockTimeout.
	LockTimeout time.Duration

	// InitialMmapSize is the initial size, in bytes, of bbolt's memory map. While the file
	// grows past the map, a commit waits for open reads to finish; a map as large as the
	// data avoids that. 0 leaves bbolt's default.
	InitialMmapSize int
}

// withDefaults returns o with every zero field set to its default.
func (o Options) withDefaults() (Options, error) {
	if o.MaxBatch <= 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.MaxBatchBytes <= 0 {
		o.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if o.MaxValueSize <= 0 {
		o.MaxValueSize = DefaultMaxValueSize
	}
	if o.MaxValueSize > bbolt.MaxValueSize {
		return o, fmt.Errorf("MaxValueSize %d over bbolt's limit %d", o.MaxValueSize, bbolt.MaxValueSize)
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = DefaultLockTimeout
	}
	return o, nil
}
