package bench

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/aft-shim/aft/shim/backend"
	"github.com/aft-shim/aft/shim/serve"
	"github.com/aft-shim/aft/shim/store"
	"github.com/aft-shim/aft/shim/store/dynamodb"
	"github.com/prometheus/client_golang/prometheus"
)

// StoreConfig says how the stores of a run are opened.
type StoreConfig struct {
	URL     string        // a --store URL of aft serve; "" is the embedded store
	DataDir string        // embedded stores live in a subdirectory of it per store
	NoSync  bool          // embedded stores skip fsync
	Latency time.Duration // injected into every storage call
	Jitter  time.Duration // plus a uniform random extra up to this
}

// Open opens the store name (for an embedded store, a fresh one in DataDir/name) with the
// injected latency, and describes it in a few words.
func (c StoreConfig) Open(ctx context.Context, name string) (store.Store, string, error) {
	st, desc, err := backend.Open(ctx, c.URL, backend.Options{DataDir: filepath.Join(c.DataDir, name), CreateStore: true, NoSync: c.NoSync})
	if err != nil {
		return nil, "", fmt.Errorf("open store %s: %w", name, err)
	}
	st, desc = serve.WithLatency(st, desc, c.Latency, c.Jitter)
	return st, desc, nil
}

// OpenShim opens the store name (Open) and serves a shim over it in this process
// (StartShim), which closes the store when it is closed.
func (c StoreConfig) OpenShim(ctx context.Context, name string) (*Shim, string, error) {
	st, desc, err := c.Open(ctx, name)
	if err != nil {
		return nil, "", err
	}
	shim, err := StartShim(ctx, st)
	if err != nil {
		return nil, "", err
	}
	return shim, desc, nil
}

// BackendName returns the short name of a store URL: embedded (for ""), or its scheme
// (mem, redis, dynamodb, s3; rediss is redis).
func BackendName(storeURL string) string {
	if storeURL == "" {
		return "embedded"
	}
	u, err := url.Parse(storeURL)
	if err != nil || u.Scheme == "" {
		return "unknown"
	}
	if s := strings.ToLower(u.Scheme); s != "rediss" {
		return s
	}
	return "redis"
}

// Shim is a shim served in this process on a loopback port.
type Shim struct {
	*Server
	Registry *prometheus.Registry // its metrics
	shim     *serve.Shim
	st       store.Store
}

// StartShim serves a shim over st (serve.OpenStore with aft serve's defaults), and closes
// st when it is closed.
func StartShim(ctx context.Context, st store.Store) (*Shim, error) {
	shim, err := serve.OpenStore(ctx, st, serve.Defaults(), nil)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("start shim: %w", err)
	}
	srv, err := Serve(shim.Handler())
	if err != nil {
		shim.Close()
		st.Close()
		return nil, fmt.Errorf("start shim: %w", err)
	}
	return &Shim{Server: srv, Registry: shim.Registry(), shim: shim, st: st}, nil
}

// Close stops the shim and closes its store.
func (s *Shim) Close() error {
	s.Server.Close()
	s.shim.Close()
	return s.st.Close()
}

// ErrNotDynamoDB is returned by DynamoTxn for a store that is not DynamoDB.
var ErrNotDynamoDB = fmt.Errorf("the dynamodb-txn baseline needs a dynamodb:// store")

// DynamoTxn does the work of one transaction with DynamoDB's own transactions
// (dynamodb.Store.Transact): the writes in one TransactWriteItems, the reads in one
// TransactGetItems. st is a DynamoDB store, perhaps under injected faults; the injected
// latency is added to each of the two round trips, as the faults store adds it to each of
// its calls.
func DynamoTxn(st store.Store, latency time.Duration) (TxnFunc, error) {
	ds := dynamodb.Of(st)
	if ds == nil {
		return nil, ErrNotDynamoDB
	}
	return func(ctx context.Context, writeKeys, readKeys []string, value []byte) error {
		items := make([]store.Item, len(writeKeys))
		for i, k := range writeKeys {
			items[i] = store.Item{Key: "d/" + k, Value: value}
		}
		reads := make([]string, len(readKeys))
		for i, k := range readKeys {
			reads[i] = "d/" + k
		}
		time.Sleep(2 * latency)
		_, err := ds.Transact(ctx, items, reads)
		return err
	}, nil
}
