package client

import (
	"errors"
	"net/http"
	"sync"
)

// Retarget is an http.RoundTripper that sends every request to the host set last: for a
// client of a shim whose address changes, as when it restarts on another port. Give it to
// New with WithHTTPClient(&http.Client{Transport: r}). Its zero value, with a nil Base,
// uses http.DefaultTransport.
type Retarget struct {
	Base http.RoundTripper

	mu   sync.Mutex
	host string
}

// Set makes later requests go to host ("127.0.0.1:7654").
func (r *Retarget) Set(host string) {
	r.mu.Lock()
	r.host = host
	r.mu.Unlock()
}

// RoundTrip sends req to the current host; before any Set it fails.
func (r *Retarget) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	host := r.host
	r.mu.Unlock()
	if host == "" {
		return nil, errors.New("client: no shim address set yet")
	}
	out := req.Clone(req.Context())
	out.URL.Host, out.Host = host, host
	base := r.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(out)
}
