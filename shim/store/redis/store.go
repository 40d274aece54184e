// Package redis is a store.Store on Redis, a single server or a Redis Cluster, through
// github.com/redis/go-redis/v9.
//
// Every store key is a Redis string key: Options.Prefix followed by the key as the shim
// gives it (the shim's keys are safe as they are). Get is GET; Put is pipelined SETs;
// Create is SET NX, whose nil reply means store.ErrExists; Delete is pipelined UNLINKs; List
// is SCAN MATCH over the escaped prefix, page by page (on a cluster, on every master in
// turn), with the values fetched by pipelined GETs. A prefix lets several shims, or other
// applications, share one database; without one the shim expects the database to itself.
//
// Ordered keys (store.Ordered): a key under store.OrderedPrefix is a string key as any
// other and, besides, a member of a sorted set, all scores 0, named Options.Prefix + "o:" +
// its directory (the key up to and including its last "/"); the member is the key as the
// shim gives it. ListAfter is ZRANGEBYLEX on that set, which orders members bytewise.
// Put queues a ZADD after the SET of each ordered key, Delete a ZREM before its UNLINK, in
// the same pipeline; Create pipelines SET NX with a ZADD; PutCreate's script adds them
// with the rest. On a single server a pipeline runs in order, so a key enters its set
// after it is written and leaves it before it is deleted. On a cluster the set and the
// key lie in different slots, most likely on different masters, and the two commands are
// neither atomic nor ordered. That is enough for the contract: a Put, Create or Delete
// that returns nil has done both, so ListAfter, which reads the set from its master, sees
// what returned before it started; one that fails may have done either or neither, as
// the store contract allows for any failed write, and a retry does both again. (The shim
// reads the record an ordered key names before it trusts the key.) Each ordered key
// takes its bytes twice, as a key and as a member; the shim's are short and empty.
//
// Atomic commits: on a single server Open returns a *CommitStore, whose PutCreate (the
// optional store.Committer) runs one Lua script that checks the record key with EXISTS and
// then SETs every key and ZADDs the ordered ones, atomically, since Redis runs a script to
// its end before any other command. On a Redis Cluster the keys of one commit hash to
// different slots, and a script may only touch keys of one slot, so in cluster mode Open
// returns a plain *Store and the shim writes a commit as Put then Create, as it does on
// every store without PutCreate.
//
// Cluster mode is chosen by the URL: several addresses (redis://h1:7000,h2:7000/ or addr=
// options) or cluster=true with one seed address. It is not detected, because a cluster
// node also answers as a single server as long as every key lands on its own slots.
// Instead Open refuses a single-server URL that names a cluster node.
//
// Durability: a write returns once Redis has applied it in memory. What survives a crash of
// Redis itself is up to Redis' persistence, which this package does not configure: with
// appendonly yes and appendfsync always, every acknowledged write; with appendfsync
// everysec (the default once AOF is on), all of them after a crash of the Redis process
// (Redis writes the AOF before it replies) but up to about a second's worth after a crash
// of its machine; with RDB snapshots alone, nothing since the last snapshot. With replicas,
// a failover loses what the new primary had not yet received (this package does not WAIT
// for replicas). The shim's guarantees against crashes of the shim hold regardless; against
// crashes of Redis they hold only as far as its persistence does. For the durability of the
// embedded store, run Redis with appendonly yes and appendfsync always.
//
// Network errors: go-redis retries a failed connection attempt 5 times, 100ms apart, and a
// command after a transient error (a reset connection, a timeout, a LOADING or TRYAGAIN
// reply) up to Options.MaxRetries times with exponential backoff, never beyond the
// deadline of the call's context. A Create or PutCreate retried after its first try was
// applied but its reply lost reports store.ErrExists for the caller's own write; the shim
// tells that case apart by reading the record it finds. A call that fails with another
// error may or may not have been applied, as the store contract allows.
package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/aft-shim/aft/shim/store"
)

// ErrClosed is returned by every method called after Close.
var ErrClosed = errors.New("store closed")

// Pipelines of Put and Delete are cut into pieces of at most pipeCommands commands and,
// for Put, pipeBytes bytes of values, so that one call does not hold a connection for long.
const (
	pipeCommands = 512
	pipeBytes    = 8 << 20
)

// openTimeout bounds the checks of Open when its context has no deadline.
const openTimeout = 15 * time.Second

// Store is a store.Store on Redis, safe for concurrent use. It has no PutCreate; on a
// single server Open returns a *CommitStore, which adds it.
type Store struct {
	c       goredis.UniversalClient
	cluster *goredis.ClusterClient // nil on a single server
	opts    Options
	closed  atomic.Bool
}

// CommitStore is a Store on a single Redis server that also writes a commit in one atomic
// step (store.Committer).
type CommitStore struct {
	*Store
}

var (
	_ store.Store     = (*Store)(nil)
	_ store.Limiter   = (*Store)(nil)
	_ store.Store     = (*CommitStore)(nil)
	_ store.Limiter   = (*CommitStore)(nil)
	_ store.Committer = (*CommitStore)(nil)
	_ store.Ordered   = (*Store)(nil)
	_ store.Ordered   = (*CommitStore)(nil)
)

// Open connects to the Redis that o names and checks that it answers (PING). It returns a
// *CommitStore on a single server and a *Store in cluster mode. When Redis cannot be
// reached the error names its address. Open waits at most 15s when ctx has no deadline.
func Open(ctx context.Context, o Options) (store.Store, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("redis open: %w", err)
	}
	s := &Store{c: goredis.NewUniversalClient(o.universal()), opts: o}
	s.cluster, _ = s.c.(*goredis.ClusterClient)
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, openTimeout)
		defer cancel()
	}
	committer, err := s.check(ctx)
	if err != nil {
		s.c.Close()
		return nil, fmt.Errorf("redis open %s: %w", strings.Join(o.Addrs, ","), err)
	}
	if committer {
		return &CommitStore{s}, nil
	}
	return s, nil
}

// universal returns the client options of o.
func (o Options) universal() *goredis.UniversalOptions {
	return &goredis.UniversalOptions{
		Addrs:                 o.Addrs,
		IsClusterMode:         o.Cluster,
		DB:                    o.DB,
		Username:              o.Username,
		Password:              o.Password,
		TLSConfig:             o.TLS,
		ClientName:            o.ClientName,
		DialTimeout:           o.DialTimeout,
		ReadTimeout:           o.ReadTimeout,
		WriteTimeout:          o.WriteTimeout,
		ContextTimeoutEnabled: true,
		MaxRetries:            o.MaxRetries,
		MinRetryBackoff:       o.MinRetryBackoff,
		MaxRetryBackoff:       o.MaxRetryBackoff,
		PoolSize:              o.PoolSize,
		// Maintenance notifications are a Redis Enterprise feature; off, they cost no
		// round trip at connect and log nothing on other servers.
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	}
}

// check pings Redis, refuses a cluster node named as a single server, and on a single
// server loads the script of PutCreate. It reports whether PutCreate can be offered: not in
// cluster mode, nor when the server refuses scripts (an ACL, a proxy).
func (s *Store) check(ctx context.Context) (bool, error) {
	var err error
	if s.cluster != nil {
		// Loads the slot map with CLUSTER SLOTS, which a server that is no cluster refuses.
		err = s.cluster.ForEachMaster(ctx, func(ctx context.Context, c *goredis.Client) error {
			return c.Ping(ctx).Err()
		})
	} else {
		err = s.c.Ping(ctx).Err()
	}
	var netErr net.Error
	switch {
	case errors.As(err, &netErr):
		return false, fmt.Errorf("ping: %w (is Redis running there?)", err)
	case err != nil && strings.Contains(err.Error(), "cluster support disabled"):
		return false, fmt.Errorf("ping: %w (not a Redis Cluster: name one address, without cluster=true)", err)
	case err != nil:
		return false, fmt.Errorf("ping: %w", err)
	case s.cluster != nil:
		return false, nil
	}
	if info, err := s.c.Info(ctx, "cluster").Result(); err == nil && strings.Contains(info, "cluster_enabled:1") {
		return false, errors.New("the server is a Redis Cluster node: name several nodes or add cluster=true to the URL")
	}
	err = putCreateScript.Load(ctx, s.c).Err()
	var redisErr goredis.Error
	switch {
	case errors.As(err, &redisErr):
		return false, nil // the server answered: no scripts here
	case err != nil:
		return false, fmt.Errorf("load script: %w", err)
	}
	return true, nil
}

// MaxValueSize is the largest value, in bytes, that Put, Create and PutCreate accept.
func (s *Store) MaxValueSize() int { return s.opts.MaxValueSize }

// Cluster reports whether the store is on a Redis Cluster.
func (s *Store) Cluster() bool { return s.cluster != nil }

// String describes the store, as Options.String does.
func (s *Store) String() string { return s.opts.String() }

// usable returns the error a call must fail with before it starts, if any.
func (s *Store) usable(ctx context.Context) error {
	if s.closed.Load() {
		return ErrClosed
	}
	return ctx.Err()
}

// tooLarge returns a *store.TooLargeError when value is over the limit.
func (s *Store) tooLarge(key string, value []byte) error {
	if len(value) > s.opts.MaxValueSize {
		return &store.TooLargeError{Key: key, Size: len(value), Limit: s.opts.MaxValueSize}
	}
	return nil
}

// fail turns an error of the client into the store's: a client closed under a call is
// ErrClosed.
func fail(err error) error {
	if errors.Is(err, goredis.ErrClosed) {
		return ErrClosed
	}
	return err
}

// Get returns the value of key, or an error wrapping store.ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := s.usable(ctx); err != nil {
		return nil, fmt.Errorf("redis get %s: %w", key, err)
	}
	v, err := s.c.Get(ctx, s.opts.Prefix+key).Result()
	switch {
	case errors.Is(err, goredis.Nil):
		return nil, fmt.Errorf("redis get %s: %w", key, store.ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("redis get %s: %w", key, fail(err))
	}
	return []byte(v), nil // a copy: the caller owns it
}

// Put writes every item with pipelined SETs, overwriting existing values, each ordered key
// followed by the ZADD to its set. When any value is over the limit it writes none of them
// and returns a *store.TooLargeError. Otherwise it is not atomic: after an error any subset
// of the SETs and ZADDs may be applied.
func (s *Store) Put(ctx context.Context, items []store.Item) error {
	if err := s.usable(ctx); err != nil {
		return fmt.Errorf("redis put: %w", err)
	}
	for _, it := range items {
		if err := s.tooLarge(it.Key, it.Value); err != nil {
			return fmt.Errorf("redis put: %w", err)
		}
	}
	for len(items) > 0 {
		n, cmds, size := 0, 0, 0
		for n < len(items) && cmds < pipeCommands && (n == 0 || size+len(items[n].Value) <= pipeBytes) {
			size += len(items[n].Value)
			cmds += commands(items[n].Key)
			n++
		}
		chunk := items[:n]
		items = items[n:]
		key, err := s.pipeline(ctx, func(p goredis.Pipeliner) {
			for _, it := range chunk {
				p.Set(ctx, s.opts.Prefix+it.Key, it.Value, 0)
				if set, ok := s.orderedSet(it.Key); ok {
					p.ZAdd(ctx, set, goredis.Z{Member: it.Key})
				}
			}
		})
		if err != nil {
			return fmt.Errorf("redis put%s: %w", key, err)
		}
	}
	return nil
}

// commands is the number of commands Put or Delete queue for key: two for an ordered key,
// whose set is written as well, else one.
func commands(key string) int {
	if strings.HasPrefix(key, store.OrderedPrefix) {
		return 2
	}
	return 1
}

// pipeline runs the commands fill queues in one pipeline. After an error it also returns
// " KEY", the store key of the first command that failed, or "" when the pipeline failed as
// a whole (such as when no connection could be made).
func (s *Store) pipeline(ctx context.Context, fill func(p goredis.Pipeliner)) (string, error) {
	p := s.c.Pipeline()
	fill(p)
	cmds, err := p.Exec(ctx)
	if err == nil {
		return "", nil
	}
	for _, c := range cmds {
		if cerr := c.Err(); cerr != nil {
			return s.unprefixed(c), fail(cerr)
		}
	}
	return "", fail(err)
}

// unprefixed returns the store key of a command's first argument after its name or, for a
// ZADD or ZREM of the set of an ordered key, that key and its set.
func (s *Store) unprefixed(c goredis.Cmder) string {
	args := c.Args()
	if len(args) < 2 {
		return ""
	}
	k, _ := args[1].(string)
	if member, ok := args[len(args)-1].(string); ok && s.isSet(k) {
		return " " + member + " (" + c.Name() + " " + strings.TrimPrefix(k, s.opts.Prefix) + ")"
	}
	return " " + strings.TrimPrefix(k, s.opts.Prefix)
}

// Create writes key with SET NX, and returns an error wrapping store.ErrExists when the key
// holds a value. Of concurrent Creates of one key, across every client of the Redis,
// exactly one succeeds (but see the package comment on retries). An ordered key is also
// added to its set, in the same pipeline (see createOrdered).
func (s *Store) Create(ctx context.Context, key string, value []byte) error {
	if err := s.usable(ctx); err != nil {
		return fmt.Errorf("redis create %s: %w", key, err)
	}
	if err := s.tooLarge(key, value); err != nil {
		return fmt.Errorf("redis create: %w", err)
	}
	if set, ok := s.orderedSet(key); ok {
		return s.createOrdered(ctx, set, key, value)
	}
	err := s.c.SetArgs(ctx, s.opts.Prefix+key, value, goredis.SetArgs{Mode: "NX"}).Err()
	switch {
	case errors.Is(err, goredis.Nil): // NX and the key exists: nothing was set
		return fmt.Errorf("redis create %s: %w", key, store.ErrExists)
	case err != nil:
		return fmt.Errorf("redis create %s: %w", key, fail(err))
	}
	return nil
}

// Delete removes the keys with pipelined UNLINKs (the memory of large values is freed in
// the background), each ordered key preceded by the ZREM from its set. Keys that hold no
// value are not an error.
func (s *Store) Delete(ctx context.Context, keys []string) error {
	if err := s.usable(ctx); err != nil {
		return fmt.Errorf("redis delete: %w", err)
	}
	for len(keys) > 0 {
		n, cmds := 0, 0
		for n < len(keys) && cmds < pipeCommands {
			cmds += commands(keys[n])
			n++
		}
		chunk := keys[:n]
		keys = keys[n:]
		key, err := s.pipeline(ctx, func(p goredis.Pipeliner) {
			for _, k := range chunk {
				if set, ok := s.orderedSet(k); ok {
					p.ZRem(ctx, set, k)
				}
				p.Unlink(ctx, s.opts.Prefix+k)
			}
		})
		if err != nil {
			return fmt.Errorf("redis delete%s: %w", key, err)
		}
	}
	return nil
}

// Close closes the connections. Every call after it returns an error wrapping ErrClosed.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return fmt.Errorf("redis close: %w", ErrClosed)
	}
	if err := s.c.Close(); err != nil {
		return fmt.Errorf("redis close: %w", err)
	}
	return nil
}
