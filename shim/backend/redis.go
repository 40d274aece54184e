package backend

import (
	"context"
	"net/url"

	"github.com/aft-shim/aft/shim/store"
	"github.com/aft-shim/aft/shim/store/redis"
)

// redisScheme opens redis:// and rediss:// stores: a Redis server or a Redis Cluster (see
// redis.ParseURL for the URL's forms and options).
var redisScheme = scheme{
	check: func(u *url.URL) error {
		_, err := redis.ParseURL(u.String())
		return err
	},
	open: openRedis,
}

func openRedis(ctx context.Context, u *url.URL, _ Options) (store.Store, string, error) {
	o, err := redis.ParseURL(u.String())
	if err != nil {
		return nil, "", err
	}
	s, err := redis.Open(ctx, o)
	if err != nil {
		return nil, "", err
	}
	return s, o.String(), nil
}
