package middleware

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Proxy is the middleware as a reverse proxy in front of one function (`aft proxy`, the
// Knative sidecar shape): a Middleware in front of a Hop to the function, with its own
// Prometheus registry. Serve Handler on the function's address and Admin where the
// metrics and health are wanted; after shutting the servers down, Wait.
type Proxy struct {
	mw *Middleware
	// Handler serves the function through the middleware; with SameAddressAdmin, it
	// serves GET and HEAD of /metrics and /healthz as Admin does (shadowing the
	// function's own paths).
	Handler http.Handler
	// Admin serves GET /metrics (the middleware's metrics, Go's and the process's) and
	// GET /healthz ({"status":"ok"}).
	Admin http.Handler
	// Relay serves the relay (Group.Relay) where Config.RelayURL says, an address of its
	// own that the function reaches (for a function in the same pod, a loopback one); nil
	// without RelayURL. Handler does not serve it: the callers have no business there.
	Relay http.Handler
}

// ProxyConfig configures a Proxy.
type ProxyConfig struct {
	Config                      // the middleware's, with the function's name
	Upstream         *url.URL   // the function's URL
	SameAddressAdmin bool       // Handler serves /metrics and /healthz too
	Hop              HopOptions // the hop to the function; Log defaults to Config.Log
}

// NewProxy returns the proxy of cfg.
func NewProxy(cfg ProxyConfig) (*Proxy, error) {
	if cfg.Upstream == nil {
		return nil, errors.New("middleware proxy: no upstream URL")
	}
	if cfg.Hop.Log == nil {
		cfg.Hop.Log = cfg.Log
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mw, err := New(cfg.Config, reg, NewHop(cfg.Upstream, cfg.Hop))
	if err != nil {
		return nil, err
	}
	admin := http.NewServeMux()
	admin.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	admin.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"ok"}`)
	})
	p := &Proxy{mw: mw, Handler: mw, Admin: admin, Relay: mw.Relay()}
	if cfg.SameAddressAdmin {
		p.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if (r.URL.Path == "/metrics" || r.URL.Path == "/healthz") && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
				admin.ServeHTTP(w, r)
				return
			}
			mw.ServeHTTP(w, r)
		})
	}
	return p, nil
}

// Wait waits for the attempts still running in the background (see Group.Wait).
func (p *Proxy) Wait(ctx context.Context) error { return p.mw.Wait(ctx) }
