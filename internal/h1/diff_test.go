package h1

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// seen is what a handler saw of one request.
type seen struct {
	Method, URI, Host, Proto string
	ContentLength            int64
	TransferEncoding         []string
	Header                   string // sorted, canonical keys
	Body                     string
	BodyErr                  bool
}

func (s seen) String() string {
	type fields seen // without this method
	return fmt.Sprintf("%+v", fields(s))
}

// recorder returns a handler that appends what it sees to out.
func recorder(mu *sync.Mutex, out *[]seen) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		var hs []string
		for k, vs := range r.Header {
			hs = append(hs, k+"="+strings.Join(vs, "\x00"))
		}
		slices.Sort(hs)
		mu.Lock()
		*out = append(*out, seen{r.Method, r.RequestURI, r.Host, r.Proto, r.ContentLength, r.TransferEncoding,
			strings.Join(hs, "\n"), string(b), err != nil})
		mu.Unlock()
		io.WriteString(w, "ok")
	})
}

// viaH1 serves in on one connection through this package's server.
func viaH1(in []byte) []seen {
	var mu sync.Mutex
	var got []seen
	s := &Server{Handler: recorder(&mu, &got), HeaderTimeout: time.Second, MaxHeaderBytes: 4 << 10}
	var out bytes.Buffer
	c := newConn(s, &fakeConn{in: bytes.NewReader(in), out: &out})
	s.trackConn(c, true)
	c.serve()
	return got
}

// viaNetHTTP serves in on one connection through net/http's server.
func viaNetHTTP(in []byte) []seen {
	var mu sync.Mutex
	var got []seen
	closed := make(chan struct{})
	conn := &closingConn{fakeConn: fakeConn{in: bytes.NewReader(in), out: &bytes.Buffer{}}, closed: closed}
	ln := &oneConnListener{c: conn, done: make(chan struct{})}
	srv := &http.Server{Handler: recorder(&mu, &got), ReadHeaderTimeout: time.Second, MaxHeaderBytes: 4 << 10,
		ErrorLog: nil}
	go srv.Serve(ln)
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
	}
	srv.Close()
	mu.Lock()
	defer mu.Unlock()
	return slices.Clone(got)
}

// closingConn tells when net/http closes it.
type closingConn struct {
	fakeConn
	once   sync.Once
	closed chan struct{}
}

func (c *closingConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

// oneConnListener accepts c once, then blocks until closed.
type oneConnListener struct {
	c    net.Conn
	once sync.Once
	done chan struct{}
	took bool
	mu   sync.Mutex
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if !l.took {
		l.took = true
		l.mu.Unlock()
		return l.c, nil
	}
	l.mu.Unlock()
	<-l.done
	return nil, net.ErrClosed
}

func (l *oneConnListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *oneConnListener) Addr() net.Addr { return &net.TCPAddr{} }

// FuzzDifferential feeds the same bytes to this server and to net/http's: every request
// this server hands to its handler, net/http hands over the same (method, URI, Host,
// headers, framing, body). This server may refuse what net/http takes (it is stricter
// about framing), never the other way round.
func FuzzDifferential(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		ours, theirs := viaH1(in), viaNetHTTP(in)
		if len(ours) > len(theirs) {
			t.Fatalf("this server handled %d requests, net/http %d\nin: %q\nours: %v\ntheirs: %v", len(ours), len(theirs), in, ours, theirs)
		}
		for i := range ours {
			a, b := ours[i], theirs[i]
			if a.BodyErr || b.BodyErr { // a body cut short: what was read may differ in size
				continue
			}
			if a.String() != b.String() {
				t.Fatalf("request %d differs\nin: %q\nours:   %v\ntheirs: %v", i, in, a, b)
			}
		}
	})
}
