package bench

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math/rand"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/shim/auth"
	"github.com/aft-shim/aft/shim/server"
	"github.com/aft-shim/aft/shim/shimtest"
	"github.com/aft-shim/aft/shim/store/bolt"
	"github.com/aft-shim/aft/shim/txn"
)

// BenchmarkPaperShape runs the AFT paper's transaction (2 writes then 4 reads of 4 KiB
// values over 1,000 Zipf keys) from 16 concurrent clients: through aft over HTTP on the
// embedded store with fsync, call by call and in batches (a begin carrying the ops, then
// the commit), and the same work straight on the embedded store.
// Compare the two as a ratio: go test -bench PaperShape ./bench/
func BenchmarkPaperShape(b *testing.B) {
	b.Run("aft-http", func(b *testing.B) {
		ts, _ := shimtest.StartStore(b, openBolt(b), txn.Config{})
		runParallel(b, AftTxn(client.New(ts.URL)))
	})
	b.Run("aft-http-batch", func(b *testing.B) {
		ts, _ := shimtest.StartStore(b, openBolt(b), txn.Config{})
		runParallel(b, AftBatchTxn(client.New(ts.URL)))
	})
	// The cost of the callers' protection (http-api.md, "Callers and tenants"): bearer
	// tokens checked against an auth file of 100 tenants, TLS, both.
	for _, v := range []struct {
		name      string
		auth, tls bool
	}{{"aft-http-auth", true, false}, {"aft-https", false, true}, {"aft-https-auth", true, true}} {
		b.Run(v.name, func(b *testing.B) {
			runParallel(b, AftTxn(protectedShim(b, v.auth, v.tls)))
		})
	}
	b.Run("store-direct", func(b *testing.B) {
		runParallel(b, DirectTxn(openBolt(b)))
	})
}

// protectedShim serves a shim on the embedded store with an auth file of 100 tenants
// (withAuth) and over TLS (withTLS), and returns a client of it with one tenant's token.
func protectedShim(b *testing.B, withAuth, withTLS bool) *client.Client {
	s := shimtest.Open(b, openBolt(b), txn.Config{})
	var opts []client.Option
	if withAuth {
		var file strings.Builder
		token := ""
		for i := range 100 {
			token = auth.NewToken()
			file.WriteString(auth.Line(fmt.Sprintf("tenant-%d", i), token) + "\n")
		}
		tab, err := auth.Parse(strings.NewReader(file.String()))
		if err != nil {
			b.Fatal(err)
		}
		s.Handler().(*server.Server).Auth = tab
		opts = append(opts, client.WithToken(token))
	}
	if !withTLS {
		ts := httptest.NewServer(s.Handler())
		b.Cleanup(ts.Close)
		return client.New(ts.URL, opts...)
	}
	ts := httptest.NewTLSServer(s.Handler())
	b.Cleanup(ts.Close)
	roots := x509.NewCertPool()
	roots.AddCert(ts.Certificate())
	return client.New(ts.URL, append(opts, client.WithTLS(&tls.Config{RootCAs: roots}))...)
}

func openBolt(b *testing.B) *bolt.Store {
	st, err := bolt.Open(filepath.Join(b.TempDir(), "aft.db"), bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

// runParallel runs b.N transactions from 16 goroutines and reports transactions per second.
func runParallel(b *testing.B, fn TxnFunc) {
	const clients = 16
	b.SetParallelism((clients + 1) / 2) // GOMAXPROCS is 2 here: 8 x 2 = 16 goroutines
	ctx := context.Background()
	start := time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewSource(time.Now().UnixNano()))
		pick := keyPicker(rng, PaperShape)
		value := make([]byte, PaperShape.ValueSize)
		w, r := make([]string, PaperShape.Writes), make([]string, PaperShape.Reads)
		for pb.Next() {
			for i := range w {
				w[i] = pick()
			}
			for i := range r {
				r[i] = pick()
			}
			if err := fn(ctx, w, r, value); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "txn/s")
}

func TestRunBounds(t *testing.T) {
	calls := 0
	res, err := Run(context.Background(), Options{Shape: PaperShape, Clients: 1, Txns: 50},
		func(ctx context.Context, w, r []string, v []byte) error {
			calls++
			if len(w) != 2 || len(r) != 4 || len(v) != 4096 {
				t.Errorf("shape: %d writes, %d reads, %d bytes", len(w), len(r), len(v))
			}
			return nil
		})
	if err != nil || res.Txns != 50 || calls != 50 {
		t.Errorf("Run = %+v, %v after %d calls; want exactly 50 txns", res, err, calls)
	}
	if _, err := Run(context.Background(), Options{}, nil); err == nil {
		t.Error("unbounded Run accepted")
	}
}

func TestHistQuantiles(t *testing.T) {
	var h hist
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Millisecond)
	}
	for _, tt := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {1, time.Second}} {
		got := h.quantile(tt.q)
		if d := float64(got-tt.want) / float64(tt.want); d < -0.011 || d > 0.011 {
			t.Errorf("quantile(%v) = %v, want %v within 1%%", tt.q, got, tt.want)
		}
	}
	var empty hist
	if empty.quantile(0.5) != 0 {
		t.Error("quantile of an empty histogram is not 0")
	}
}
