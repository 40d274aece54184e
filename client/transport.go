package client

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// Transport is the http.RoundTripper of New's default client, for shims reached over plain
// HTTP: the goroutine that calls RoundTrip writes the request and reads the answer on a
// kept-alive connection of its own, and no request is ever sent twice.
//
// http.Transport hands every request to a writer goroutine and every answer back from a
// reader goroutine of its connection: two goroutine switches per call, which on the shim's
// call path cost more than the call's own work (go test -bench Transport ./client: about a
// fifth of the CPU of a small call, client and server together). It also resends requests
// it takes as replayable, which a call of a transaction must never be (see NoResend).
//
// Requests that are not plain HTTP to the host itself (https://, or a proxy from the
// environment) go to Fallback, as every request does where the socket cannot be peeked at
// (not unix). A connection is reused only after its answer was read to the
// end and neither side asked to close it; before a reuse, a look at the socket without
// blocking (MSG_PEEK) drops a connection that the server closed while it was idle, so that a
// request is not written to a dead connection.
type Transport struct {
	// Fallback serves the requests Transport does not (nil: http.DefaultTransport through
	// NoResend).
	Fallback http.RoundTripper
	// MaxIdlePerHost is the most idle connections kept per host (0: 256).
	MaxIdlePerHost int
	// IdleTimeout closes a connection idle this long rather than reuse it (0: 60s).
	IdleTimeout time.Duration

	dialer net.Dialer
	mu     sync.Mutex
	idle   map[string][]*pconn // by host:port, most recently used last
	direct map[string]bool     // by host:port: no proxy from the environment
}

// pconn is one kept-alive connection.
type pconn struct {
	c      net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	usedAt time.Time
}

// defaultMaxIdlePerHost is Transport.MaxIdlePerHost's default.
const defaultMaxIdlePerHost = 256

// transportBufSize is the size of a connection's read and write buffers: a request's
// headers and a small body go out in one write, and a batch of a few values in few.
const transportBufSize = 32 << 10

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	addr, ok := t.plain(req)
	if !ok {
		return t.fallback().RoundTrip(req)
	}
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
		closeBody(req)
		return nil, err
	}
	pc, err := t.conn(ctx, addr)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	// A cancelled context ends the call at once: the connection's deadline passes, and the
	// connection is not reused.
	stop := context.AfterFunc(ctx, func() { pc.c.SetDeadline(time.Unix(1, 0)) })
	fail := func(err error) (*http.Response, error) {
		stop()
		pc.c.Close()
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		return nil, err
	}
	if err := req.Write(pc.bw); err != nil {
		return fail(err)
	}
	if err := pc.bw.Flush(); err != nil {
		return fail(err)
	}
	var resp *http.Response
	for {
		if resp, err = http.ReadResponse(pc.br, req); err != nil {
			return fail(err)
		}
		if resp.StatusCode == http.StatusSwitchingProtocols {
			return fail(errors.New("the server switched protocols, which the shim's client does not speak"))
		}
		if resp.StatusCode >= 200 {
			break
		}
		resp.Body.Close() // an informational answer (100 Continue, 103): the real one follows
	}
	b := &respBody{t: t, ctx: ctx, addr: addr, pc: pc, stop: stop, rc: resp.Body, reuse: !resp.Close && !req.Close}
	if resp.Body == http.NoBody {
		b.finish(true)
		return resp, nil
	}
	resp.Body = b
	return resp, nil
}

// CloseIdleConnections closes the connections not in use (http.Client's method calls it).
func (t *Transport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	t.mu.Unlock()
	for _, pcs := range idle {
		for _, pc := range pcs {
			pc.c.Close()
		}
	}
	if f, ok := t.fallback().(interface{ CloseIdleConnections() }); ok {
		f.CloseIdleConnections()
	}
}

func (t *Transport) fallback() http.RoundTripper {
	if t.Fallback != nil {
		return t.Fallback
	}
	return defaultFallback
}

var defaultFallback = NoResend(http.DefaultTransport)

// HTTPSTransport returns an http.Transport for https:// shims with cfg that keeps as many
// idle connections per host as Transport does: http.DefaultTransport keeps 2, so that
// concurrent callers would pay a TLS handshake for most calls (a tenth of the throughput on
// the paper's shape from 16 clients, go test -bench PaperShape/aft-https ./bench/). Wrap it
// in NoResend. The transport takes a copy of cfg: net/http writes to the configuration it
// holds (HTTP/2's protocols), which would race with anyone else using cfg.
func HTTPSTransport(cfg *tls.Config) *http.Transport {
	ht := http.DefaultTransport.(*http.Transport).Clone()
	ht.TLSClientConfig = cfg.Clone()
	ht.MaxIdleConnsPerHost = defaultMaxIdlePerHost
	return ht
}

// plain returns the host:port of req when Transport serves it: plain HTTP, not through a
// proxy.
func (t *Transport) plain(req *http.Request) (string, bool) {
	if !canPeek || req.URL == nil || req.URL.Scheme != "http" || req.URL.Host == "" {
		return "", false
	}
	addr := req.URL.Host
	if req.URL.Port() == "" {
		addr = net.JoinHostPort(req.URL.Hostname(), "80")
	}
	t.mu.Lock()
	direct, known := t.direct[addr]
	t.mu.Unlock()
	if !known {
		p, err := http.ProxyFromEnvironment(req)
		direct = err == nil && p == nil
		t.mu.Lock()
		if t.direct == nil {
			t.direct = map[string]bool{}
		}
		t.direct[addr] = direct
		t.mu.Unlock()
	}
	return addr, direct
}

// conn returns an idle connection to addr that is still open, or a new one.
func (t *Transport) conn(ctx context.Context, addr string) (*pconn, error) {
	for {
		t.mu.Lock()
		pcs := t.idle[addr]
		var pc *pconn
		if n := len(pcs); n > 0 {
			pc = pcs[n-1]
			pcs[n-1] = nil
			t.idle[addr] = pcs[:n-1]
		}
		t.mu.Unlock()
		if pc == nil {
			break
		}
		if time.Since(pc.usedAt) < t.idleTimeout() && pc.br.Buffered() == 0 && open(pc.c) {
			return pc, nil
		}
		pc.c.Close()
	}
	c, err := t.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &pconn{c: c, br: bufio.NewReaderSize(c, transportBufSize), bw: bufio.NewWriterSize(c, transportBufSize)}, nil
}

func (t *Transport) idleTimeout() time.Duration {
	if t.IdleTimeout > 0 {
		return t.IdleTimeout
	}
	return 60 * time.Second
}

// put keeps pc for reuse, or closes it when enough are kept.
func (t *Transport) put(addr string, pc *pconn) {
	pc.usedAt = time.Now()
	limit := t.MaxIdlePerHost
	if limit <= 0 {
		limit = defaultMaxIdlePerHost
	}
	t.mu.Lock()
	if t.idle == nil {
		t.idle = map[string][]*pconn{}
	}
	if len(t.idle[addr]) < limit {
		t.idle[addr] = append(t.idle[addr], pc)
		pc = nil
	}
	t.mu.Unlock()
	if pc != nil {
		pc.c.Close()
	}
}

// respBody is the body of an answer: read to its end, it gives the connection back.
type respBody struct {
	t     *Transport
	ctx   context.Context // the request's
	addr  string
	pc    *pconn
	stop  func() bool // stops the context's watch of the connection
	rc    io.ReadCloser
	reuse bool // the answer let the connection be kept alive

	mu   sync.Mutex
	done bool
}

func (b *respBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return 0, errBodyClosed
	}
	n, err := b.rc.Read(p)
	switch {
	case err == io.EOF:
		b.finish(true)
	case err != nil:
		b.finish(false)
		if cerr := b.ctx.Err(); cerr != nil {
			err = cerr // the context's end, which its watch turned into a passed deadline
		}
	}
	return n, err
}

// Close implements io.Closer: a body closed before its end closes the connection.
func (b *respBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.done {
		b.finish(false)
	}
	return nil
}

var errBodyClosed = errors.New("client: read of a closed response body")

// finish ends the call: the connection goes back to the pool when the answer was read to
// its end (atEnd), nothing asked to close it, and the context did not end meanwhile.
func (b *respBody) finish(atEnd bool) {
	b.done = true
	watched := b.stop() // false: the context ended and set the deadline
	if atEnd && b.reuse && watched {
		b.t.put(b.addr, b.pc)
		return
	}
	b.pc.c.Close()
}

// closeBody closes the body of a request that was not sent, as a RoundTripper must.
func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}
