package local

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	"github.com/aft-shim/aft/client"
	"github.com/gorilla/mux"
	"github.com/openfaas/faas-provider/types"
)

type targetKey struct{}

// invoker returns the handler of /function/NAME[/PATH]: it forwards the invocation to
// PATH (and the query) on one of the function's processes, as faas-provider's proxy does,
// but through client.NoResend: an invocation that carries a transaction (the aft plugin in
// front sends X-Aft-Txn-Id) reaches the function at most once, where faas-provider's
// client would resend a GET, or a request with an Idempotency-Key header, whose kept-alive
// connection broke after the function read it. A function without a running process is
// answered 503; one that cannot be reached, 502.
func (p *Provider) invoker(cfg types.FaaSConfig) http.HandlerFunc {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: cfg.GetReadTimeout()}).DialContext
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = cfg.GetMaxIdleConns(), cfg.GetMaxIdleConnsPerHost()
	tr.ResponseHeaderTimeout = cfg.GetReadTimeout()
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			u := pr.In.Context().Value(targetKey{}).(*url.URL)
			pr.Out.URL = u
			pr.Out.Host = u.Host
			pr.SetXForwarded()
		},
		Transport: client.NoResend(tr),
		ErrorLog:  log.New(io.Discard, "", 0),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			http.Error(w, "aft provider local: cannot reach function "+mux.Vars(r)["name"]+": "+err.Error(), http.StatusBadGateway)
		},
	}
	return func(w http.ResponseWriter, r *http.Request) {
		name := mux.Vars(r)["name"]
		if name == "" {
			http.Error(w, "aft provider local: no function name in the path", http.StatusBadRequest)
			return
		}
		base, err := p.Resolve(name)
		if err != nil {
			http.Error(w, "aft provider local: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		u := &url.URL{Scheme: base.Scheme, Host: base.Host, Path: "/" + strings.TrimPrefix(mux.Vars(r)["params"], "/"), RawQuery: r.URL.RawQuery}
		rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), targetKey{}, u)))
	}
}
