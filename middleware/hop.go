package middleware

import (
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"

	"github.com/aft-shim/aft/api"
	"github.com/aft-shim/aft/client"
)

// HopOptions configure a Hop. The zero value is the hop of `aft proxy` but for its
// X-Forwarded headers.
type HopOptions struct {
	// Transport sends the requests, through client.NoResend (nil: a clone of
	// http.DefaultTransport keeping up to 256 idle connections to the target).
	Transport http.RoundTripper
	// ErrorPrefix starts the text of the error answered when the target gives no answer,
	// before ": " and the error (default "function").
	ErrorPrefix string
	// KeepHost sends the request's own Host header on (true: the OpenFaaS plugin to its
	// provider); false sends the target's host.
	KeepHost bool
	// XForwarded sets X-Forwarded-For, -Host and -Proto (httputil.ProxyRequest's
	// SetXForwarded); false sends none, not even those the request came with.
	XForwarded bool
	// Log receives a warning for each request that found no answer, and the reverse
	// proxy's own errors at debug level; nil discards.
	Log *slog.Logger
}

// NewHop returns the one way a request reaches what is behind aft: the function, or the
// provider in front of functions. It is a reverse proxy to target (the request's path
// and query are joined to target's, as httputil.ProxyRequest.SetURL does), used by `aft
// proxy` and by the OpenFaaS plugin, inside a Middleware or alone.
//
// A request reaches target at most once: the hop sends through client.NoResend, as an
// attempt that carries a transaction id and ran twice would commit its effects twice
// (see the package documentation). A request that finds no answer (connection refused or
// broken, target gone) is answered 502 with the JSON error body, code
// upstream_unreachable: for the Middleware a failed attempt, retried.
func NewHop(target *url.URL, o HopOptions) *httputil.ReverseProxy {
	if o.Transport == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 256
		o.Transport = tr
	}
	if o.ErrorPrefix == "" {
		o.ErrorPrefix = "function"
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			if o.KeepHost {
				pr.Out.Host = pr.In.Host
			}
			if o.XForwarded {
				pr.SetXForwarded()
			}
		},
		Transport: client.NoResend(o.Transport),
		ErrorLog:  slog.NewLogLogger(o.Log.Handler(), slog.LevelDebug),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			lvl := slog.LevelWarn
			if r.Context().Err() != nil {
				lvl = slog.LevelDebug // the caller left, or the attempt was cancelled
			}
			o.Log.Log(r.Context(), lvl, "hop: no answer", "from", o.ErrorPrefix, "path", r.URL.Path, "err", err)
			api.WriteError(w, http.StatusBadGateway, api.CodeUpstreamUnreachable, o.ErrorPrefix+": "+err.Error())
		},
	}
}
