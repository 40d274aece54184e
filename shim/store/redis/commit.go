package redis

import (
	"context"
	"fmt"
	"strconv"

	goredis "github.com/redis/go-redis/v9"

	"github.com/aft-shim/aft/shim/store"
)

// putCreateScript is PutCreate. KEYS[1] is the key to create, KEYS[2..n] the items and
// KEYS[n+1..] the sorted sets of the ordered keys among them, each once, so that the
// script declares every key it touches. ARGV[1] is n, ARGV[2..n+1] the values of
// KEYS[1..n], and the rest of ARGV pairs: the index in KEYS of a set, and the member to
// add to it (an ordered key).
//
// Redis runs a script to its end before any other command, and once a script has written
// it is not stopped for lack of memory, so the script writes all of it or, when the key
// exists, nothing. With AOF its writes are logged as one MULTI/EXEC block, which a restart
// replays whole or not at all.
var putCreateScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then
	return 0
end
local n = tonumber(ARGV[1])
for i = 2, n do
	redis.call('SET', KEYS[i], ARGV[i+1])
end
for i = n+2, #ARGV, 2 do
	redis.call('ZADD', KEYS[tonumber(ARGV[i])], 0, ARGV[i+1])
end
redis.call('SET', KEYS[1], ARGV[2])
return 1
`)

// PutCreate writes items and creates key with value in one atomic step, a Lua script run
// with EVALSHA (EVAL when Redis lost its script cache): when key holds a value it writes
// nothing at all and returns an error wrapping store.ErrExists. The ordered keys among
// them are added to their sets in the same step. When any value is over the limit it
// writes nothing and returns a *store.TooLargeError.
//
// The whole commit travels in one command, bounded by Redis' client-query-buffer-limit
// (1 GiB by default), far above the shim's largest transaction (64 MiB by default).
func (s *CommitStore) PutCreate(ctx context.Context, items []store.Item, key string, value []byte) error {
	if err := s.usable(ctx); err != nil {
		return fmt.Errorf("redis put-create %s: %w", key, err)
	}
	all := append([]store.Item{{Key: key, Value: value}}, items...)
	keys := make([]string, 0, len(all)+1)
	args := make([]any, 0, len(all)+1)
	args = append(args, strconv.Itoa(len(all)))
	var (
		sets []string       // the sets of the ordered keys, each once, to follow keys
		at   map[string]int // the index in KEYS (from 1) of each of sets
		adds []any          // pairs: the index in KEYS of a set, a member
	)
	for _, it := range all {
		if err := s.tooLarge(it.Key, it.Value); err != nil {
			return fmt.Errorf("redis put-create: %w", err)
		}
		keys = append(keys, s.opts.Prefix+it.Key)
		args = append(args, it.Value)
		if set, ok := s.orderedSet(it.Key); ok {
			if at == nil {
				at = make(map[string]int)
			}
			if _, seen := at[set]; !seen {
				sets = append(sets, set)
				at[set] = len(all) + len(sets)
			}
			adds = append(adds, strconv.Itoa(at[set]), it.Key)
		}
	}
	keys = append(keys, sets...)
	created, err := putCreateScript.Run(ctx, s.c, keys, append(args, adds...)...).Int64()
	switch {
	case err != nil:
		return fmt.Errorf("redis put-create %s: %w", key, fail(err))
	case created == 0:
		return fmt.Errorf("redis put-create %s: %w", key, store.ErrExists)
	}
	return nil
}
