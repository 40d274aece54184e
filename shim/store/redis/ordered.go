package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/aft-shim/aft/shim/store"
)

// setInfix follows Options.Prefix in the name of the sorted set of a directory of ordered
// keys: Options.Prefix + "o:" + the directory. No store key holds a ":", so no store key
// is the name of a set, and List leaves out the Redis keys that start with it.
const setInfix = "o:"

// orderedSet returns the Redis key of the sorted set that orders key, and whether key is
// an ordered key (under store.OrderedPrefix) at all. The set is that of key's directory:
// key up to and including its last "/".
func (s *Store) orderedSet(key string) (string, bool) {
	if !strings.HasPrefix(key, store.OrderedPrefix) {
		return "", false
	}
	return s.opts.Prefix + setInfix + key[:strings.LastIndexByte(key, '/')+1], true
}

// isSet reports whether k, a Redis key, is the name of a sorted set of ordered keys.
func (s *Store) isSet(k string) bool {
	return strings.HasPrefix(k, s.opts.Prefix+setInfix)
}

// ListAfter calls fn, in ascending byte order, for at most limit keys of dir that sort
// after after (every key of dir when after is ""). It reads one page of the directory's
// sorted set with ZRANGEBYLEX (rather than ZRANGE BYLEX, which needs Redis 6.2) from the
// master that holds it, then calls fn without holding anything, so fn may call the store.
//
// It lists the keys directly in dir, as the shim's ordered keys are: a key of a
// subdirectory of dir is in the set of that subdirectory. dir must start with
// store.OrderedPrefix and end with "/", and limit must be above 0.
func (s *Store) ListAfter(ctx context.Context, dir, after string, limit int, fn func(key string) error) error {
	if err := s.usable(ctx); err != nil {
		return fmt.Errorf("redis list-after %s: %w", dir, err)
	}
	switch {
	case !strings.HasPrefix(dir, store.OrderedPrefix) || !strings.HasSuffix(dir, "/"):
		return fmt.Errorf("redis list-after %s: not a directory of ordered keys: want %sNAME/", dir, store.OrderedPrefix)
	case limit <= 0:
		return fmt.Errorf("redis list-after %s: limit %d: want a number > 0", dir, limit)
	}
	lo := "-" // the least of all strings
	if after != "" {
		lo = "(" + after // exclusive
	}
	set, _ := s.orderedSet(dir)
	keys, err := s.c.ZRangeByLex(ctx, set, &goredis.ZRangeBy{Min: lo, Max: "+", Count: int64(limit)}).Result()
	if err != nil {
		return fmt.Errorf("redis list-after %s: zrangebylex: %w", dir, fail(err))
	}
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("redis list-after %s: %w", dir, err)
		}
		if err := fn(k); err != nil {
			return err
		}
	}
	return nil
}

// createOrdered is Create of an ordered key, whose set is set: SET NX and ZADD in one
// pipeline. The ZADD runs whether or not SET NX created the key, so that a Create whose
// SET NX was applied but whose reply was lost, retried into store.ErrExists (see the
// package comment), still leaves its key in the set; adding a member that is there changes
// nothing. The price: a Create racing a Delete of the same key may leave the key in its
// set without a value, which the shim, which never deletes a key it is creating, does not
// meet.
func (s *Store) createOrdered(ctx context.Context, set, key string, value []byte) error {
	var (
		created *goredis.StatusCmd
		added   *goredis.IntCmd
	)
	_, err := s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		created = p.SetArgs(ctx, s.opts.Prefix+key, value, goredis.SetArgs{Mode: "NX"})
		added = p.ZAdd(ctx, set, goredis.Z{Member: key})
		return nil
	})
	// A pipeline that fails as a whole sets its error on every command.
	switch {
	case added.Err() != nil:
		return fmt.Errorf("redis create %s: zadd %s: %w", key, set, fail(added.Err()))
	case errors.Is(created.Err(), goredis.Nil): // NX and the key exists: nothing was set
		return fmt.Errorf("redis create %s: %w", key, store.ErrExists)
	case created.Err() != nil:
		return fmt.Errorf("redis create %s: %w", key, fail(created.Err()))
	case err != nil:
		return fmt.Errorf("redis create %s: %w", key, fail(err))
	}
	return nil
}
