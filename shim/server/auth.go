package server

import (
	"net/http"
	"strconv"

	"github.com/aft-shim/aft/api"
	"github.com/aft-shim/aft/shim/auth"
	"github.com/aft-shim/aft/shim/record"
	"github.com/prometheus/client_golang/prometheus"
)

// Authenticator tells the tenant of a bearer token (auth.File does, from --auth-file).
type Authenticator interface {
	Tenant(token string) (tenant string, ok bool)
}

// open reports whether path is served to anyone: the probes and the metrics
// (http-api.md, "Callers and tenants").
func open(path string) bool {
	return path == "/healthz" || path == "/readyz" || path == "/metrics"
}

// authenticate returns the tenant of r: record.DefaultTenant when the server has no
// Authenticator, else the tenant of r's bearer token. A request without a known token is
// answered 401 and authenticate returns false.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (string, bool) {
	if s.ClientCerts && (r.TLS == nil || len(r.TLS.VerifiedChains) == 0) {
		api.WriteError(w, http.StatusUnauthorized, api.CodeUnauthorized, "this shim needs a client certificate signed by its --tls-client-ca")
		return "", false
	}
	if s.Auth == nil {
		return record.DefaultTenant, true
	}
	vs := r.Header["Authorization"]
	if len(vs) == 1 {
		if token, ok := auth.BearerToken(vs[0]); ok {
			if tenant, ok := s.Auth.Tenant(token); ok {
				return tenant, true
			}
		}
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="aft"`)
	msg := "this shim needs a token: send Authorization: Bearer TOKEN (callers take it from --shim-token-file or AFT_SHIM_TOKEN)"
	if len(vs) > 0 {
		msg = "the token is not one this shim knows (unknown, revoked, or malformed Authorization: Bearer TOKEN)"
	}
	api.WriteError(w, http.StatusUnauthorized, api.CodeUnauthorized, msg)
	return "", false
}

// tenantOf returns the tenant of transaction id (record.TenantID).
func tenantOf(id string) string {
	tenant, _ := record.SplitTenantID(id)
	return tenant
}

// tenantLabel is the metrics label of tenant.
func tenantLabel(tenant string) string {
	if tenant == record.DefaultTenant {
		return auth.DefaultName
	}
	return tenant
}

// newTenantRequests is the counter of requests by tenant, which Auth alone names, so
// that its label values are the tenants of the auth file, no more.
func newTenantRequests() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "aft", Name: "tenant_requests_total",
		Help: "Authenticated HTTP requests by tenant and status class (2xx, 4xx, 5xx); with --auth-file only."}, []string{"tenant", "class"})
}

// tenantClass names a series of the tenant counter.
type tenantClass struct {
	tenant string
	class  int // the status code's hundreds
}

// tenantCounter returns the counter of tenant's requests answered with a status of class.
func (s *Server) tenantCounter(tenant string, class int) prometheus.Counter {
	k := tenantClass{tenant, class}
	if c, ok := s.tseries.Load(k); ok {
		return c.(prometheus.Counter)
	}
	c, _ := s.tseries.LoadOrStore(k, s.tenants.WithLabelValues(tenantLabel(tenant), strconv.Itoa(class)+"xx"))
	return c.(prometheus.Counter)
}
