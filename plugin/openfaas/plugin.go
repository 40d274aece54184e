// Package openfaas is the aft plugin for OpenFaaS: a provider (on
// github.com/openfaas/faas-provider) that the gateway talks to as its
// functions_provider_url. It forwards the management API (deploy, list, scale, secrets,
// logs, namespaces) to the provider it stands in front of (faas-netes, faasd, or aft's
// local provider), and puts invocations of functions annotated
// com.openfaas.aft/transactional: "true" through the aft middleware. Other functions pass
// through untouched.
package openfaas

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aft-shim/aft/api"
	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/middleware"
	"github.com/gorilla/mux"
	"github.com/openfaas/faas-provider/types"
	"github.com/prometheus/client_golang/prometheus"
)

// Options configure a Plugin.
type Options struct {
	Upstream string // base URL of the provider behind the plugin. Required.
	ShimURL  string // base URL of the shim. Required.
	// ShimNodes are more shim nodes on the same store (middleware.Config.ShimNodes).
	ShimNodes []string
	// ShimOptions configure the shim client: its credentials (client.Credentials).
	ShimOptions []client.Option
	// RelayURL, when not empty, is where the functions reach the relay (Relay), which the
	// caller serves there: the functions call the shim through it, without the token
	// (middleware.Config.RelayURL). It must name this plugin instance, not a Service in
	// front of several: an instance relays the calls of its own attempts only.
	RelayURL string
	Defaults middleware.Options // settings of transactional functions that annotations do not set
	// SettingsTTL is how long a function's annotations are cached (default 5s); deploys,
	// updates and deletes through the plugin clear the cache at once.
	SettingsTTL time.Duration
	Registry    prometheus.Registerer // for the middleware's metrics; nil: not registered
	Log         *slog.Logger          // nil discards
}

// Plugin is the provider. Its handlers are safe for concurrent use.
type Plugin struct {
	o        Options
	upstream *url.URL
	hop      *httputil.ReverseProxy // to the upstream provider, path and query as they are
	mws      *middleware.Group      // the middlewares of the transactional functions
	client   *http.Client

	mu       sync.Mutex
	settings map[string]cached
}

type cached struct {
	s  settings
	at time.Time
}

// settings are what the plugin needs to know of a function.
type settings struct {
	transactional bool
	opts          middleware.Options
	mw            *middleware.Middleware // transactional with valid options: its middleware
	err           error                  // bad annotations: invocations are answered 500
}

// New returns the plugin.
func New(o Options) (*Plugin, error) {
	up, err := url.Parse(o.Upstream)
	if err != nil || (up.Scheme != "http" && up.Scheme != "https") || up.Host == "" {
		return nil, fmt.Errorf("openfaas plugin: upstream %q: want http(s)://host:port", o.Upstream)
	}
	if o.SettingsTTL == 0 {
		o.SettingsTTL = 5 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	p := &Plugin{o: o, upstream: up, settings: map[string]cached{}, client: &http.Client{Timeout: 10 * time.Second}}
	// An attempt reaches the provider at most once (the provider's own hop to the
	// function is its business: see the README).
	p.hop = middleware.NewHop(up, middleware.HopOptions{
		ErrorPrefix: "aft plugin: the upstream provider did not answer",
		KeepHost:    true,
		Log:         o.Log,
	})
	def := o.Defaults
	def.Function = "openfaas" // each function's middleware is named after it
	shim := client.New(o.ShimURL, append(o.ShimOptions, client.WithNodes(o.ShimNodes...))...)
	p.mws, err = middleware.NewGroup(middleware.Config{Options: def, ShimURL: o.ShimURL, ShimNodes: o.ShimNodes,
		Client: shim, RelayURL: o.RelayURL, Log: o.Log}, o.Registry)
	if err != nil {
		return nil, fmt.Errorf("openfaas plugin: %w", err)
	}
	return p, nil
}

// Handlers returns the provider's handlers for faas-provider's bootstrap.Serve.
func (p *Plugin) Handlers() *types.FaaSHandlers {
	fwd := p.hop.ServeHTTP
	return &types.FaaSHandlers{
		FunctionProxy:   p.invoke,
		FunctionLister:  fwd,
		DeployFunction:  p.forwardAndForget,
		UpdateFunction:  p.forwardAndForget,
		DeleteFunction:  p.forwardAndForget,
		FunctionStatus:  fwd,
		ScaleFunction:   fwd,
		Secrets:         fwd,
		Logs:            fwd,
		ListNamespaces:  fwd,
		MutateNamespace: fwd,
		Info:            fwd,
		Health:          func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) },
	}
}

// Relay returns the handler of the relay, to be served at Options.RelayURL on a
// listener of its own (not through faas-provider's router, which cleans paths and would
// redirect a key such as "a/../b"); nil without RelayURL.
func (p *Plugin) Relay() http.Handler { return p.mws.Relay() }

// Wait waits for the middlewares' background attempts (zombies) after shutdown.
func (p *Plugin) Wait(ctx context.Context) error { return p.mws.Wait(ctx) }

// forwardAndForget forwards a deploy, update or delete and forgets cached settings.
func (p *Plugin) forwardAndForget(w http.ResponseWriter, r *http.Request) {
	p.hop.ServeHTTP(w, r)
	p.mu.Lock()
	clear(p.settings)
	p.mu.Unlock()
}

// invoke serves /function/NAME[/...]: through the middleware when NAME is transactional.
func (p *Plugin) invoke(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["name"]
	if name == "" {
		name = strings.SplitN(strings.TrimPrefix(r.URL.Path, "/function/"), "/", 2)[0]
	}
	s, err := p.lookup(r.Context(), name)
	switch {
	case err != nil:
		api.WriteError(w, http.StatusBadGateway, api.CodeProviderUnavailable,
			fmt.Sprintf("function %s: cannot read its settings from the upstream provider, so it does not run (it may be transactional): %v", name, err))
	case s.err != nil:
		api.WriteError(w, http.StatusInternalServerError, api.CodeBadFunctionOptions, fmt.Sprintf("function %s: %v", name, s.err))
	case s.mw != nil:
		s.mw.ServeHTTP(w, r)
	default:
		p.hop.ServeHTTP(w, r)
	}
}

// lookup returns a function's settings, from the cache or from its annotations upstream,
// with the function's middleware when it is transactional, made once per fetch.
// A function the upstream does not know is not transactional: the invocation is forwarded
// and the upstream answers it. When the upstream cannot tell, stale settings serve; with
// none, the error is returned, and the function must not run: it may be transactional.
func (p *Plugin) lookup(ctx context.Context, name string) (settings, error) {
	p.mu.Lock()
	c, ok := p.settings[name]
	p.mu.Unlock()
	if ok && time.Since(c.at) < p.o.SettingsTTL {
		return c.s, nil
	}
	s, err := p.fetch(ctx, name)
	if err == nil && s.transactional && s.err == nil {
		s.mw, s.err = p.mws.Handler(s.opts, p.hop)
	}
	switch {
	case errors.Is(err, errNoFunction):
		return settings{}, nil
	case err != nil && ok:
		p.o.Log.Warn("function settings: using stale ones", "function", name, "err", err)
		return c.s, nil
	case err != nil:
		return settings{}, err
	}
	p.mu.Lock()
	p.settings[name] = cached{s: s, at: time.Now()}
	p.mu.Unlock()
	return s, nil
}

var errNoFunction = errors.New("no such function")

func (p *Plugin) fetch(ctx context.Context, name string) (settings, error) {
	u := p.upstream.JoinPath("/system/function/", name)
	if ns := namespaceOf(name); ns != "" {
		u = p.upstream.JoinPath("/system/function/", strings.TrimSuffix(name, "."+ns))
		u.RawQuery = url.Values{"namespace": {ns}}.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return settings{}, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return settings{}, fmt.Errorf("status of %s: %w", name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return settings{}, errNoFunction
	}
	if resp.StatusCode != http.StatusOK {
		return settings{}, fmt.Errorf("status of %s: upstream answered %s", name, resp.Status)
	}
	var st types.FunctionStatus
	if err := decodeJSON(resp, &st); err != nil {
		return settings{}, fmt.Errorf("status of %s: %w", name, err)
	}
	var ann map[string]string
	if st.Annotations != nil {
		ann = *st.Annotations
	}
	return parseAnnotations(name, ann), nil
}

// namespaceOf returns the namespace of a "name.namespace" function name.
func namespaceOf(name string) string {
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		return name[i+1:]
	}
	return ""
}
