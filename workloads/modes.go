package workloads

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/middleware"
	"github.com/aft-shim/aft/sdk"
	"github.com/aft-shim/aft/shim/store"
	"github.com/aft-shim/aft/shim/store/dynamodb"
	"github.com/aft-shim/aft/shim/store/faults"
	"github.com/prometheus/client_golang/prometheus"
)

// Settings of the middleware in aft mode: it gives up on an attempt before the platform
// gives up on a delivery, and keeps zombies long enough to commit after a stall.
var middlewareOptions = middleware.Options{
	Attempts:       3,
	AttemptTimeout: 150 * time.Millisecond,
	Deadline:       3 * time.Second,
	BackoffBase:    5 * time.Millisecond,
	BackoffMax:     40 * time.Millisecond,
}

// openStore opens the store of the run, and wraps it with the scenario's faults: the
// functions (or the shim) use faulty, the final read raw.
func (r *run) openStore(ctx context.Context) (raw, faulty store.Store, err error) {
	st, err := r.s.open(ctx, r.id)
	if err != nil {
		return nil, nil, err
	}
	r.closers = append(r.closers, func() { st.Close() })
	faulty = st
	if r.sc.StoreFaults != nil {
		faulty, r.sfaults = faults.Wrap(st, *r.sc.StoreFaults)
	}
	return st, faulty, nil
}

func (r *run) setupPlain(ctx context.Context) error {
	st, fst, err := r.openStore(ctx)
	if err != nil {
		return err
	}
	r.rt.kv = func(*http.Request, *pod) (kv, error) { return storeKV{st: fst, hc: r.hc}, nil }
	r.snap, r.final = storeSnapshot(fst), storeSnapshot(st)
	r.wrap = func(_ string, h http.Handler) (http.Handler, error) { return h, nil }
	return nil
}

func (r *run) setupDynamo(ctx context.Context) error {
	st, _, err := r.openStore(ctx)
	if err != nil {
		return err
	}
	ds := dynamodb.Of(st)
	if ds == nil {
		return errors.New("dynamodb-txn mode needs a dynamodb:// store")
	}
	var tf txnFaults
	if f := r.sc.StoreFaults; f != nil {
		tf = txnFaults{failRate: f.FailRate, ambiguousRate: f.AmbiguousRate}
	}
	tf.count = &r.dynamoFaults
	r.rt.kv = func(*http.Request, *pod) (kv, error) { return &dynamoKV{ds: ds, faults: tf, hc: r.hc}, nil }
	r.snap, r.final = dynamoSnapshot(ds), dynamoSnapshot(ds)
	r.wrap = func(_ string, h http.Handler) (http.Handler, error) { return h, nil }
	return nil
}

func (r *run) setupAft(ctx context.Context) error {
	r.reg = prometheus.NewRegistry()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 128
	r.closers = append(r.closers, tr.CloseIdleConnections)
	shimHC := &http.Client{Transport: tr}
	var shimURL string
	var shimNodes []string
	if r.sc.ShimProcess && r.sc.ShimNodes > 1 {
		urls, err := r.startNodes(ctx)
		if err != nil {
			return err
		}
		shimURL, shimNodes = urls[0], urls[1:]
	} else if r.sc.ShimProcess {
		swap := &client.Retarget{Base: tr}
		shimHC = &http.Client{Transport: swap}
		shimURL = "http://aft-shim.invalid:7654"
		// The data directory holds the embedded store, or with a shared store the node id
		// file, so that each restart is the same node and gets its own lease back at once.
		args := []string{"--log-level", "warn", "--data-dir", r.s.dir + "/" + r.id + "-shim"}
		if u := r.s.o.Store; sharedStore(u) {
			args = append(args, "--store", u, "--create-store")
		}
		ps := &procShim{command: r.s.o.ServeCommand, args: args, swap: swap}
		r.closers = append(r.closers, ps.stop)
		if err := ps.start(ctx); err != nil {
			return err
		}
		r.rt.killShim = func() { r.crashShim(ctx, ps) }
	} else {
		_, fst, err := r.openStore(ctx)
		if err != nil {
			return err
		}
		ls, err := startLocalShim(ctx, fst, r.reg)
		if err != nil {
			return err
		}
		r.closers = append(r.closers, ls.close)
		shimURL = ls.url
	}
	c := client.New(shimURL, append([]client.Option{client.WithHTTPClient(shimHC), client.WithNodes(shimNodes...)}, r.s.o.ShimOptions...)...)
	r.snap, r.final = shimSnapshot(c), shimSnapshot(c)
	r.rt.kv = func(req *http.Request, _ *pod) (kv, error) {
		t, err := sdk.FromRequest(req, sdk.WithHTTPClient(shimHC))
		return sdkKV{t}, err
	}
	r.wrap = func(fn string, h http.Handler) (http.Handler, error) {
		o := middlewareOptions
		o.Function = fn
		mw, err := middleware.New(middleware.Config{Options: o, ShimURL: shimURL, ShimNodes: shimNodes, Client: c}, r.reg, h)
		if err != nil {
			return nil, err
		}
		r.mu.Lock()
		r.mws = append(r.mws, mw)
		r.mu.Unlock()
		return mw, nil
	}
	return nil
}

// detach runs h without its caller's cancellation, as a function process runs on after
// the gateway stopped waiting for it.
func detach(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(req.Context()), 30*time.Second)
		defer cancel()
		h.ServeHTTP(w, req.WithContext(ctx))
	})
}
