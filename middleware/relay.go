package middleware

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/aft-shim/aft/api"
	"github.com/aft-shim/aft/client"
)

// relay passes a function's calls of its transaction on to the shim node that holds it,
// with the Group's client: its token and TLS. With Config.RelayURL set, X-Aft-Shim names
// the relay, so that the function never holds the token, which would otherwise show up in
// its logs, in the headers it sends on, and in what it answers (a result stored with a
// commit is replayed to every duplicate).
//
// A running attempt's transaction id is the capability. The relay passes on calls of the
// transactions whose attempts run in this Group right now, and of those a nested call
// joined, while it runs (hold); of an id it does not hold, it answers 404 txn_not_found,
// as the shim does for an id it does not know. Of those it passes on the function's
// operations only: status, read, write, delete and batch. Begin, commit and abort are the
// middleware's, and listings belong to no transaction: 403 relay_refused. The relay sends
// each call once (client.RoundTripper goes through NoResend): a call of a transaction is
// never resent.
type relay struct {
	shim *client.Client
	url  string // where functions reach the relay: their X-Aft-Shim
	rt   http.RoundTripper
	log  *slog.Logger

	mu   sync.Mutex
	held map[string]int // transaction id -> calls running in it here
}

func newRelay(shim *client.Client, url string, log *slog.Logger) *relay {
	return &relay{shim: shim, url: url, rt: shim.RoundTripper(), log: log, held: map[string]int{}}
}

// hold makes the relay pass on calls of transaction id until release is called. Holds
// nest: an id stays held while any of its holds does.
func (rl *relay) hold(id string) (release func()) {
	rl.mu.Lock()
	rl.held[id]++
	rl.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			rl.mu.Lock()
			if rl.held[id]--; rl.held[id] <= 0 {
				delete(rl.held, id)
			}
			rl.mu.Unlock()
		})
	}
}

func (rl *relay) holds(id string) bool {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	return rl.held[id] > 0
}

// errRelayRefused: a call the relay does not pass on, whatever its transaction.
var errRelayRefused = errors.New("the middleware's relay passes on a function's calls of its own transaction only")

// relayed returns the transaction id of a call the relay passes on, given its method and
// escaped path, routed as the shim routes it (shim/server): status is GET /v1/txns/ID;
// read, write and delete are GET or HEAD, PUT and DELETE of /v1/txns/ID/keys/KEY (the
// whole rest of the path is the key); batch is POST /v1/txns/ID/batch. The id is
// percent-decoded, as a client escapes it. Another call is errRelayRefused; a call with no
// id, or one that does not decode, errTxnNotFound.
func relayed(method, path string) (string, error) {
	rest, ok := strings.CutPrefix(path, "/v1/txns/")
	if !ok {
		return "", fmt.Errorf("%w: %s %s is not a call of a transaction", errRelayRefused, method, path)
	}
	raw, tail, _ := strings.Cut(rest, "/")
	var allowed []string
	switch {
	case tail == "" && !strings.HasSuffix(rest, "/"):
		allowed = []string{http.MethodGet}
	case tail == "batch":
		allowed = []string{http.MethodPost}
	case strings.HasPrefix(tail, "keys/"):
		allowed = []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete}
	}
	if !slices.Contains(allowed, method) {
		return "", fmt.Errorf("%w (status, read, write, delete, batch), not %s %s: the middleware begins, commits and aborts", errRelayRefused, method, path)
	}
	id, err := url.PathUnescape(raw)
	if err != nil || id == "" {
		return "", fmt.Errorf("%w: transaction id %q in %s", errTxnNotFound, raw, path)
	}
	return id, nil
}

// ServeHTTP passes a function's call on, or refuses it.
func (rl *relay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, err := relayed(r.Method, r.URL.EscapedPath())
	if err == nil && !rl.holds(id) {
		err = fmt.Errorf("%w: transaction %q has no attempt running here (the relay passes on calls of running attempts only)", errTxnNotFound, id)
	}
	if err != nil {
		status, code := classify(err)
		api.WriteError(w, status, code, err.Error())
		return
	}
	target, err := url.Parse(rl.shim.NodeOf(id))
	if err != nil {
		api.WriteError(w, http.StatusInternalServerError, api.CodeInternal, fmt.Sprintf("relay: the node of transaction %q: %v", id, err))
		return
	}
	p := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target) // the path and query as they came, after the node's base path
		},
		Transport: rl.rt, // the token, in place of any the function sent; sent once
		ErrorLog:  slog.NewLogLogger(rl.log.Handler(), slog.LevelDebug),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			rl.log.Debug("relay: no answer from the shim", "txn", id, "err", err)
			api.WriteError(w, http.StatusServiceUnavailable, api.CodeShimUnavailable, "relay: the shim did not answer: "+err.Error())
		},
	}
	p.ServeHTTP(w, r)
}

// shimURL returns the X-Aft-Shim of transaction id: the relay, when the Group has one,
// else the node that holds id.
func (g *Group) shimURL(id string) string {
	if g.relay != nil {
		return g.relay.url
	}
	return g.shim.NodeOf(id)
}

// hold makes the Group's relay, if any, pass on calls of transaction id until release.
func (g *Group) hold(id string) (release func()) {
	if g.relay == nil {
		return func() {}
	}
	return g.relay.hold(id)
}

// Relay returns the handler of the Group's relay, to be served at Config.RelayURL; nil
// when the Group has none.
func (g *Group) Relay() http.Handler {
	if g.relay == nil {
		return nil
	}
	return g.relay
}
