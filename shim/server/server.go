// Package server serves the shim's HTTP API (spec/http-api.md) over a txn.Manager. It is
// the only place where errors become HTTP statuses.
package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aft-shim/aft/api"
	"github.com/aft-shim/aft/shim/peer"
	"github.com/aft-shim/aft/shim/txn"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Server is the http.Handler of the API.
type Server struct {
	// BodyTimeout and BodyMinRate pace bodies both ways. A request body (a value, a commit
	// result, a batch) must start arriving within BodyTimeout and then bring BodyMinRate
	// bytes a second on average, else 408 body_timeout; a body sent to a call that takes
	// none is bounded as one of 256 KiB (boundBody). Each write of an answer gets as long
	// for its bytes, else the connection is cut (answerWriter). New sets
	// DefaultBodyTimeout and DefaultBodyMinRate; a zero BodyTimeout leaves bodies without a
	// bound, a zero BodyMinRate makes BodyTimeout the bound of the whole body.
	BodyTimeout time.Duration
	BodyMinRate int64
	// Auth, when set before serving, requires a known bearer token on every request but
	// the probes and /metrics, and makes the token's tenant the namespace of the request
	// (http-api.md, "Callers and tenants"); nil serves everyone as the default tenant.
	Auth Authenticator
	// BusyDelay holds each 429 tenant_busy answer this long (see fail); New sets
	// DefaultBusyDelay, 0 answers at once.
	BusyDelay time.Duration
	// ClientCerts requires a verified client certificate (tls.VerifyClientCertIfGiven
	// verifies what is given) on the same requests as Auth, so that probes and metrics
	// scrapers need none.
	ClientCerts bool

	m        *txn.Manager
	log      *slog.Logger
	metrics  http.Handler
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	series   sync.Map // routeCode -> *routeSeries: the metrics of a route and code, looked up once
	tenants  *prometheus.CounterVec
	tseries  sync.Map // tenantClass -> prometheus.Counter, looked up once as series is
}

// routeCode names the metric series of a request.
type routeCode struct {
	route string
	code  int
}

// routeSeries are the series of one route and code.
type routeSeries struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

// New returns the API over m. Its metrics (and m's, and the process's) are registered in
// reg and served at /metrics. A nil log discards.
func New(m *txn.Manager, reg *prometheus.Registry, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{
		BodyTimeout: DefaultBodyTimeout,
		BodyMinRate: DefaultBodyMinRate,
		BusyDelay:   DefaultBusyDelay,
		m:           m,
		log:         log,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "aft", Name: "http_requests_total",
			Help: "HTTP requests by route and status code."}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "aft", Name: "http_request_duration_seconds",
			Help: "HTTP request latency by route.", Buckets: prometheus.ExponentialBuckets(0.00005, 2, 18)}, []string{"route"}),
	}
	s.tenants = newTenantRequests()
	reg.MustRegister(s.requests, s.latency, s.tenants, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(m.Collectors()...)
	s.metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
	return s
}

// ServeHTTP routes a request. The path is split by hand, not by http.ServeMux, because
// ServeMux cleans paths (a key ".." would be redirected away) and keys may hold any byte.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rw := &answerWriter{ResponseWriter: w, code: http.StatusOK, pace: s.pace()}
	s.boundBody(rw, r, start)
	route := "unauthorized"
	if open(r.URL.Path) {
		route = s.route(rw, r, "")
	} else if tenant, ok := s.authenticate(rw, r); ok {
		route = s.route(rw, r, tenant)
		if s.Auth != nil {
			s.tenantCounter(tenant, rw.code/100).Inc()
		}
	}
	// What the HTTP server still holds of the answer (all of it, when the handler wrote
	// none, or a body was left unread) is written after the handler: it gets a deadline of
	// its own.
	rw.bound(0)
	rs := s.seriesOf(routeCode{route, rw.code})
	rs.requests.Inc()
	rs.latency.Observe(time.Since(start).Seconds())
}

// seriesOf returns the metric series of rc. Looking them up by label values hashes the
// values every time; the routes and codes are few, so each is looked up once.
func (s *Server) seriesOf(rc routeCode) *routeSeries {
	if v, ok := s.series.Load(rc); ok {
		return v.(*routeSeries)
	}
	rs := &routeSeries{requests: s.requests.WithLabelValues(rc.route, strconv.Itoa(rc.code)), latency: s.latency.WithLabelValues(rc.route)}
	v, _ := s.series.LoadOrStore(rc, rs)
	return v.(*routeSeries)
}

// route serves r, a request of tenant, and returns the name of its route, for metrics.
// A transaction id of another tenant is answered as an unknown one.
func (s *Server) route(w http.ResponseWriter, r *http.Request, tenant string) string {
	path := r.URL.EscapedPath()
	switch path {
	case "/healthz":
		if !method(w, r, http.MethodGet, http.MethodHead) {
			return "healthz"
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"ok"}`)
		return "healthz"
	case "/readyz":
		if method(w, r, http.MethodGet, http.MethodHead) {
			s.ready(w, r)
		}
		return "readyz"
	case "/metrics":
		if method(w, r, http.MethodGet) {
			s.metrics.ServeHTTP(w, r)
		}
		return "metrics"
	case "/v1/txns":
		if method(w, r, http.MethodPost) {
			s.begin(w, r, tenant)
		}
		return "begin"
	case "/v1/keys":
		if method(w, r, http.MethodGet) {
			s.keys(w, r, tenant)
		}
		return "keys"
	case "/v1/nodes":
		if method(w, r, http.MethodGet) {
			s.nodes(w)
		}
		return "nodes"
	case peer.Path:
		if method(w, r, http.MethodPost) {
			s.peerCommits(w, r)
		}
		return "peer_commits"
	}
	rest, ok := strings.CutPrefix(path, "/v1/txns/")
	if !ok {
		api.WriteError(w, http.StatusNotFound, api.CodeNotFound, "no such endpoint: "+path+" (the API lives under /v1/txns)")
		return "unknown"
	}
	id, tail, _ := strings.Cut(rest, "/")
	if tenantOf(id) != tenant {
		api.WriteError(w, http.StatusNotFound, api.CodeTxnNotFound, "txn "+strconv.Quote(id)+": "+txn.ErrTxnNotFound.Error())
		return "foreign_txn"
	}
	switch {
	case tail == "" && !strings.HasSuffix(rest, "/"):
		if method(w, r, http.MethodGet) {
			s.status(w, r, id)
		}
		return "status"
	case tail == "commit":
		if method(w, r, http.MethodPost) {
			s.commit(w, r, id)
		}
		return "commit"
	case tail == "abort":
		if method(w, r, http.MethodPost) {
			s.abort(w, r, id)
		}
		return "abort"
	case tail == "batch":
		if method(w, r, http.MethodPost) {
			s.batch(w, r, id)
		}
		return "batch"
	case strings.HasPrefix(tail, "keys/"):
		// Everything after keys/ is the key, percent-encoded; an unencoded '/' is taken as
		// part of the key too.
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			s.read(w, r, id, tail[len("keys/"):])
			return "read"
		case http.MethodPut:
			s.write(w, r, id, tail[len("keys/"):])
			return "write"
		case http.MethodDelete:
			s.delete(w, id, tail[len("keys/"):])
			return "delete"
		}
		method(w, r, http.MethodGet, http.MethodPut, http.MethodDelete)
		return "keys"
	}
	api.WriteError(w, http.StatusNotFound, api.CodeNotFound, "no such endpoint: "+path)
	return "unknown"
}

// method reports whether r uses one of allowed, answering 405 when it does not.
func method(w http.ResponseWriter, r *http.Request, allowed ...string) bool {
	for _, m := range allowed {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	api.WriteError(w, http.StatusMethodNotAllowed, api.CodeMethodNotAllowed, r.Method+" is not allowed here; use "+strings.Join(allowed, " or "))
	return false
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.m.Ready(ctx); err != nil {
		api.WriteError(w, http.StatusServiceUnavailable, api.CodeStoreUnavailable, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"status":"ready"}`)
}
