package redis

import (
	"context"
	"fmt"

	goredis "github.com/redis/go-redis/v9"

	"github.com/aft-shim/aft/shim/store"
)

// putCreateScript is PutCreate: KEYS[1] and ARGV[1] are the key to create and its value,
// the other KEYS and ARGV the items. Redis runs a script to its end before any other
// command, and once a script has written it is not stopped for lack of memory, so the
// script writes all of it or, when the key exists, nothing. With AOF its writes are logged
// as one MULTI/EXEC block, which a restart replays whole or not at all.
var putCreateScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then
	return 0
end
for i = 2, #KEYS do
	redis.call('SET', KEYS[i], ARGV[i])
end
redis.call('SET', KEYS[1], ARGV[1])
return 1
`)

// PutCreate writes items and creates key with value in one atomic step, a Lua script run
// with EVALSHA (EVAL when Redis lost its script cache): when key holds a value it writes
// nothing at all and returns an error wrapping store.ErrExists. When any value is over the
// limit it writes nothing and returns a *store.TooLargeError.
//
// The whole commit travels in one command, bounded by Redis' client-query-buffer-limit
// (1 GiB by default), far above the shim's largest transaction (64 MiB by default).
func (s *CommitStore) PutCreate(ctx context.Context, items []store.Item, key string, value []byte) error {
	if err := s.usable(ctx); err != nil {
		return fmt.Errorf("redis put-create %s: %w", key, err)
	}
	keys := make([]string, 0, len(items)+1)
	args := make([]any, 0, len(items)+1)
	for _, it := range append([]store.Item{{Key: key, Value: value}}, items...) {
		if err := s.tooLarge(it.Key, it.Value); err != nil {
			return fmt.Errorf("redis put-create: %w", err)
		}
		keys = append(keys, s.opts.Prefix+it.Key)
		args = append(args, it.Value)
	}
	created, err := putCreateScript.Run(ctx, s.c, keys, args...).Int64()
	switch {
	case err != nil:
		return fmt.Errorf("redis put-create %s: %w", key, fail(err))
	case created == 0:
		return fmt.Errorf("redis put-create %s: %w", key, store.ErrExists)
	}
	return nil
}
