package auth

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"
)

// File is an auth file, re-read when its content changes.
type File struct {
	path  string
	log   *slog.Logger
	table atomic.Pointer[Table]
	last  []byte // content of the table in use; Watch alone touches it after Open

	reloads atomic.Int64 // tables swapped in after the first
	fails   atomic.Int64 // re-reads that found the file unreadable or bad, counted once per error
}

// ReloadEvery is how often Watch looks at the file.
const ReloadEvery = time.Second

// Open reads and parses the auth file at path. A file that cannot be read or parsed is an
// error naming it; so is one with no token, which would let no one in.
func Open(path string, log *slog.Logger) (*File, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &File{path: path, log: log}
	b, t, err := f.read()
	if err != nil {
		return nil, err
	}
	if t.Len() == 0 {
		return nil, fmt.Errorf("auth file %s holds no token: add a line from `aft token new TENANT`", path)
	}
	f.last = b
	f.table.Store(t)
	return f, nil
}

func (f *File) read() ([]byte, *Table, error) {
	b, err := os.ReadFile(f.path)
	if err != nil {
		return nil, nil, fmt.Errorf("auth file: %w", err)
	}
	t, err := parseBytes(b)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", f.path, err)
	}
	return b, t, nil
}

// Table returns the table in use.
func (f *File) Table() *Table { return f.table.Load() }

// Tenant returns the tenant of token in the table in use (Table.Tenant).
func (f *File) Tenant(token string) (string, bool) { return f.table.Load().Tenant(token) }

// Watch re-reads the file every ReloadEvery until ctx ends, swapping in each new content
// that parses. A file that cannot be read or does not parse (a Secret caught mid-update, a
// typo) leaves the table in use as it is, logged once per content, until a good one comes.
func (f *File) Watch(ctx context.Context) {
	tick := time.NewTicker(ReloadEvery)
	defer tick.Stop()
	bad := "" // the last error logged
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		b, t, err := f.read()
		if err != nil {
			if err.Error() != bad {
				f.fails.Add(1)
				f.log.Error("auth file not reloaded; the previous tokens stay in use", "err", err)
			}
			bad = err.Error()
			continue
		}
		bad = ""
		if bytes.Equal(b, f.last) {
			continue
		}
		f.last = b
		f.table.Store(t)
		f.reloads.Add(1)
		f.log.Info("auth file reloaded", "file", f.path, "tokens", t.Len(), "tenants", len(t.Tenants()))
	}
}

// Reloads returns how many times Watch swapped in a new table.
func (f *File) Reloads() int64 { return f.reloads.Load() }

// Fails returns how many bad contents Watch found (each counted once while it lasts).
func (f *File) Fails() int64 { return f.fails.Load() }
