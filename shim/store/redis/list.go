package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	goredis "github.com/redis/go-redis/v9"
)

// listPageBytes bounds the value bytes one pipeline of GETs of List fetches.
const listPageBytes = 4 << 20

// scanner is a server List scans: the client of a single server, or of one master of a
// cluster.
type scanner interface {
	Scan(ctx context.Context, cursor uint64, match string, count int64) *goredis.ScanCmd
}

// List calls fn for every key that starts with prefix, with its value when withValues is
// true. It runs SCAN with MATCH on the escaped prefix, page by page, on the server or on
// every master of a cluster in turn, and calls fn between pages without holding anything,
// so fn may call the store. SCAN may return a key twice; List remembers the keys it passed
// to fn (the memory of one key each) and passes each once. A key deleted between SCAN and
// the GET of its value is left out, and so are the sorted sets of ordered keys, which are
// no store keys (a List of "" or "o" matches them).
//
// On a cluster, a key that migrates between masters (resharding) while List runs may be
// missed: do not reshard while a shim starts.
func (s *Store) List(ctx context.Context, prefix string, withValues bool, fn func(key string, value []byte) error) error {
	if err := s.usable(ctx); err != nil {
		return fmt.Errorf("redis list %s: %w", prefix, err)
	}
	servers, err := s.scanners(ctx)
	if err != nil {
		return fmt.Errorf("redis list %s: %w", prefix, err)
	}
	l := &lister{s: s, withValues: withValues, fn: fn, seen: make(map[string]struct{})}
	match := escapeGlob(s.opts.Prefix+prefix) + "*"
	for _, srv := range servers {
		var cursor uint64
		for {
			keys, next, err := srv.Scan(ctx, cursor, match, int64(s.opts.ScanCount)).Result()
			if err != nil {
				return fmt.Errorf("redis list %s: scan: %w", prefix, fail(err))
			}
			cursor = next
			if err := l.page(ctx, keys); err != nil {
				var fnErr fnError
				if errors.As(err, &fnErr) {
					return fnErr.err
				}
				return fmt.Errorf("redis list %s: %w", prefix, err)
			}
			if cursor == 0 {
				break
			}
		}
	}
	return nil
}

// scanners returns the servers that hold the keys: the one server, or every master.
func (s *Store) scanners(ctx context.Context) ([]scanner, error) {
	if s.cluster == nil {
		return []scanner{s.c}, nil
	}
	var (
		mu      sync.Mutex
		masters []scanner
	)
	err := s.cluster.ForEachMaster(ctx, func(_ context.Context, c *goredis.Client) error {
		mu.Lock()
		masters = append(masters, c)
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cluster masters: %w", fail(err))
	}
	return masters, nil
}

// fnError carries an error of the caller's fn through lister, to be returned as it is.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }

// lister passes the keys of the pages of one List to fn.
type lister struct {
	s          *Store
	withValues bool
	fn         func(key string, value []byte) error
	seen       map[string]struct{} // Redis keys passed to fn
}

// page passes the keys of one SCAN page that were not passed before to fn, with their
// values when wanted. Values are fetched in pipelines of about listPageBytes, sized by
// STRLEN, so that a page of large values is never in memory at once.
func (l *lister) page(ctx context.Context, keys []string) error {
	fresh := keys[:0]
	for _, k := range keys {
		if _, dup := l.seen[k]; !dup && strings.HasPrefix(k, l.s.opts.Prefix) && !l.s.isSet(k) {
			fresh = append(fresh, k)
		}
	}
	if len(fresh) == 0 || !l.withValues {
		return l.emit(ctx, fresh, nil)
	}
	sizes, err := l.s.strlens(ctx, fresh)
	if err != nil {
		return err
	}
	for len(fresh) > 0 {
		n, size := 0, int64(0)
		for n < len(fresh) && (n == 0 || size+sizes[n] <= listPageBytes) {
			size += sizes[n]
			n++
		}
		values, err := l.s.getAll(ctx, fresh[:n])
		if err != nil {
			return err
		}
		if err := l.emit(ctx, fresh[:n], values); err != nil {
			return err
		}
		fresh, sizes = fresh[n:], sizes[n:]
	}
	return nil
}

// emit calls fn for each of keys (Redis keys) with its value, if values is not nil; a key
// with a nil value there was deleted after SCAN and is left out.
func (l *lister) emit(ctx context.Context, keys []string, values [][]byte) error {
	for i, k := range keys {
		var v []byte
		if values != nil {
			if v = values[i]; v == nil {
				continue
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		l.seen[k] = struct{}{}
		if err := l.fn(strings.TrimPrefix(k, l.s.opts.Prefix), v); err != nil {
			return fnError{err}
		}
	}
	return nil
}

// strlens returns the sizes of the values of keys (Redis keys), 0 for a missing key.
func (s *Store) strlens(ctx context.Context, keys []string) ([]int64, error) {
	cmds := make([]*goredis.IntCmd, len(keys))
	_, err := s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.StrLen(ctx, k)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("strlen: %w", fail(err))
	}
	sizes := make([]int64, len(keys))
	for i, c := range cmds {
		sizes[i] = c.Val()
	}
	return sizes, nil
}

// getAll returns the values of keys (Redis keys) in one pipeline: nil for a missing key,
// never nil for a present one.
func (s *Store) getAll(ctx context.Context, keys []string) ([][]byte, error) {
	cmds := make([]*goredis.StringCmd, len(keys))
	_, err := s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.Get(ctx, k)
		}
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) { // Nil: a key was deleted meanwhile
		return nil, fmt.Errorf("get: %w", fail(err))
	}
	values := make([][]byte, len(keys))
	for i, c := range cmds {
		v, err := c.Result()
		switch {
		case errors.Is(err, goredis.Nil):
		case err != nil:
			return nil, fmt.Errorf("get %s: %w", strings.TrimPrefix(keys[i], s.opts.Prefix), fail(err))
		default:
			values[i] = []byte(v)
		}
	}
	return values, nil
}

// escapeGlob escapes the characters special to the glob patterns of SCAN MATCH, so that
// the pattern matches s literally.
func escapeGlob(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
