package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"

	"github.com/aft-shim/aft/internal/loopback"
	"github.com/aft-shim/aft/middleware"
	"github.com/aft-shim/aft/sdk"
	"github.com/aft-shim/aft/shim/store"
	"github.com/prometheus/client_golang/prometheus"
)

// ShapeFunction is a function of the paper's transaction, written with the Go SDK: it reads a
// TxnRequest from its body, writes a value of Size bytes to each key of Writes, then reads
// each key of Reads. Under the aft middleware (with the X-Aft-Txn-Id and X-Aft-Shim
// headers) it does so in the invocation's transaction, through the shim. Called directly
// it does the same work straight on plain, as DirectTxn does (the plain mode), or answers
// 400 when plain is nil. An error of the store or the shim answers 500, which the
// middleware retries.
func ShapeFunction(plain store.Store) http.Handler {
	var values sync.Map // size -> []byte, shared read-only
	value := func(size int) []byte {
		if v, ok := values.Load(size); ok {
			return v.([]byte)
		}
		v, _ := values.LoadOrStore(size, make([]byte, size))
		return v.([]byte)
	}
	var direct TxnFunc
	if plain != nil {
		direct = DirectTxn(plain)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req TxnRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
			return
		}
		fn := direct
		tx, err := sdk.FromRequest(r)
		switch {
		case err == nil:
			fn = sdkTxn(tx)
		case !errors.Is(err, sdk.ErrNoTxn) || fn == nil:
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := fn(r.Context(), req.Writes, req.Reads, value(req.Size)); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "%d writes, %d reads\n", len(req.Writes), len(req.Reads))
	})
}

// sdkTxn does the shape's work in the invocation's transaction.
func sdkTxn(tx *sdk.Txn) TxnFunc {
	return func(ctx context.Context, writeKeys, readKeys []string, value []byte) error {
		for _, k := range writeKeys {
			if err := tx.Put(ctx, k, value); err != nil {
				return err
			}
		}
		for _, k := range readKeys {
			if _, err := tx.Get(ctx, k); err != nil && !errors.Is(err, sdk.ErrNotFound) {
				return err
			}
		}
		return nil
	}
}

// Server is a server of a run on a loopback port (package loopback).
type Server = loopback.Server

// Serve serves h on a free loopback port until Close.
func Serve(h http.Handler) (*Server, error) { return loopback.Serve(h) }

// Gateway is the aft middleware as a reverse proxy in front of the function at fnURL,
// beginning and committing at the shim at shimURL: what `aft proxy --upstream fnURL --shim
// shimURL` runs, in process. Its metrics are registered in reg (nil: not). Close it after
// the load.
func Gateway(shimURL, fnURL string, reg prometheus.Registerer) (*Server, *middleware.Middleware, error) {
	u, err := url.Parse(fnURL)
	if err != nil {
		return nil, nil, fmt.Errorf("gateway: %w", err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 512, 512
	hop := middleware.NewHop(u, middleware.HopOptions{Transport: tr}) // as aft proxy's
	mw, err := middleware.New(middleware.Config{ShimURL: shimURL, Options: middleware.Options{Function: "paper-shape"}}, reg, hop)
	if err != nil {
		return nil, nil, fmt.Errorf("gateway: %w", err)
	}
	s, err := Serve(mw)
	if err != nil {
		return nil, nil, fmt.Errorf("gateway: %w", err)
	}
	return s, mw, nil
}

// LoadClient returns an HTTP client with enough keep-alive connections for a load of n
// concurrent requests to one host.
func LoadClient(n int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = max(n, 100), max(n, 100)
	return &http.Client{Transport: tr}
}
