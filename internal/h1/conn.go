package h1

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
)

// A connection's states, for Shutdown: only an idle one (waiting for a request) is closed
// under it.
const (
	stateActive int32 = iota
	stateIdle
	stateClosed
)

// conn is one client connection, served by one goroutine.
type conn struct {
	s      *Server
	rw     net.Conn
	lr     limitedReader // rw, with the header bound while a request's head is read
	br     *bufio.Reader
	tp     textproto.Reader
	state  atomic.Int32
	start  time.Time // the connection's accept
	served int       // requests answered on it
	remote string
	tls    *tls.ConnectionState
	head   []byte // an answer's head, kept between answers
	body   []byte // an answer's buffered body, kept between answers
}

// readBufSize is a connection's read buffer: a request's head and a small body in one read.
const readBufSize = 16 << 10

// rstAvoidanceDelay is how long a connection closed after an error answer waits, its
// writing side shut, before it closes: a client still sending would otherwise get a reset
// that may drop the answer (net/http waits as long).
const rstAvoidanceDelay = 500 * time.Millisecond

func newConn(s *Server, rw net.Conn) *conn {
	c := &conn{s: s, rw: rw, remote: rw.RemoteAddr().String(), start: time.Now()}
	c.lr = limitedReader{r: rw, n: noLimit}
	c.br = bufio.NewReaderSize(&c.lr, readBufSize)
	c.tp.R = c.br
	c.state.Store(stateActive)
	return c
}

func (c *conn) serve() {
	defer c.s.trackConn(c, false)
	defer c.rw.Close()
	if tc, ok := c.rw.(*tls.Conn); ok {
		if d := c.s.HeaderTimeout; d > 0 {
			tc.SetDeadline(c.start.Add(d))
		}
		if err := tc.HandshakeContext(context.Background()); err != nil {
			c.s.log().Debug("TLS handshake failed", "remote", c.remote, "err", err)
			return
		}
		st := tc.ConnectionState()
		c.tls = &st
	}
	for {
		if !c.waitRequest() {
			return
		}
		req, err := c.readRequest()
		if err != nil {
			c.refuse(err)
			return
		}
		if !c.handle(req) {
			return
		}
		c.served++
	}
}

// waitRequest waits, idle, for the first byte of the next request, and reports whether one
// came while the server keeps serving. The first request's head is bounded by
// HeaderTimeout from the connection's start, its first byte included; a later one waits
// up to IdleTimeout for its first byte, then HeaderTimeout for the rest of its head.
func (c *conn) waitRequest() bool {
	if !c.state.CompareAndSwap(stateActive, stateIdle) || c.s.shuttingDown() {
		return false
	}
	var idle, hdr time.Time
	first := c.served == 0
	switch d := c.s.HeaderTimeout; {
	case first && d > 0:
		idle = c.start.Add(d)
	case !first && c.s.IdleTimeout > 0:
		idle = time.Now().Add(c.s.IdleTimeout)
	}
	c.rw.SetDeadline(idle)
	c.lr.n = c.s.maxHeaderBytes() + 4096 // as net/http: a little past, for the line ends
	if _, err := c.br.Peek(1); err != nil {
		return false
	}
	if !c.state.CompareAndSwap(stateIdle, stateActive) {
		return false // Shutdown closed it meanwhile
	}
	now := time.Now()
	var wr time.Time
	if d := c.s.HeaderTimeout; first {
		hdr = idle
	} else if d > 0 {
		hdr = now.Add(d)
	}
	if d := c.s.WriteTimeout; d > 0 {
		wr = now.Add(d)
	}
	c.rw.SetReadDeadline(hdr)
	c.rw.SetWriteDeadline(wr)
	return true
}

// requestError is a request the server refuses before any handler runs.
type requestError struct {
	status int
	msg    string
}

func (e *requestError) Error() string { return e.msg }

func badRequest(msg string) error { return &requestError{http.StatusBadRequest, msg} }

// readRequest reads a request's line and headers and frames its body.
func (c *conn) readRequest() (*http.Request, error) {
	line, err := c.tp.ReadLine()
	if err != nil {
		return nil, c.headError(err)
	}
	method, rest, ok1 := strings.Cut(line, " ")
	uri, proto, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || !validMethod(method) {
		return nil, badRequest("malformed request line")
	}
	major, minor, ok := http.ParseHTTPVersion(proto)
	if !ok {
		return nil, badRequest("malformed HTTP version " + strconv.Quote(proto))
	}
	if major != 1 {
		return nil, &requestError{http.StatusHTTPVersionNotSupported, "only HTTP/1.x is served"}
	}
	mh, err := c.tp.ReadMIMEHeader()
	if err != nil {
		return nil, c.headError(err)
	}
	c.lr.n = noLimit
	hdr := http.Header(mh)
	for k, vs := range hdr {
		if !validFieldName(k) {
			return nil, badRequest("malformed header name " + strconv.Quote(k))
		}
		for _, v := range vs {
			if !httpguts.ValidHeaderFieldValue(v) {
				return nil, badRequest("malformed value of header " + k)
			}
		}
	}
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		return nil, badRequest("malformed request URI")
	}
	req := &http.Request{
		Method: method, URL: u, Proto: proto, ProtoMajor: major, ProtoMinor: minor,
		Header: hdr, RemoteAddr: c.remote, RequestURI: uri, TLS: c.tls,
	}
	hosts := hdr["Host"]
	switch {
	case len(hosts) > 1:
		return nil, badRequest("too many Host headers")
	case len(hosts) == 0 && minor >= 1:
		return nil, badRequest("missing required Host header")
	case len(hosts) == 1:
		if !httpguts.ValidHostHeader(hosts[0]) { // as net/http: the header, even beside an absolute URI
			return nil, badRequest("malformed Host header")
		}
		req.Host = hosts[0]
	}
	if u.Host != "" {
		req.Host = u.Host
	}
	delete(hdr, "Host")
	req.Close = shouldClose(minor, hdr)
	if err := c.frameBody(req); err != nil {
		return nil, err
	}
	return req, nil
}

// headError is the error of a request's head that could not be read: too large, or the
// read's own (a client gone, a header timeout: the connection closes without an answer).
func (c *conn) headError(err error) error {
	switch {
	case errors.Is(err, errHeadTooLarge):
		return &requestError{http.StatusRequestHeaderFieldsTooLarge, "request line and headers are over " + strconv.FormatInt(c.s.maxHeaderBytes(), 10) + " bytes"}
	}
	var pe textproto.ProtocolError
	if errors.As(err, &pe) {
		return badRequest("malformed header: " + pe.Error())
	}
	return err
}

// frameBody gives req its body: Content-Length bytes, or chunked.
func (c *conn) frameBody(req *http.Request) error {
	hdr := req.Header
	te, cls := hdr["Transfer-Encoding"], hdr["Content-Length"]
	b := &body{c: c}
	switch {
	case len(te) > 0 && req.ProtoMinor == 0:
		// net/http ignores it there and frames by Content-Length: a request a proxy in
		// front may frame otherwise. Refused.
		return badRequest("Transfer-Encoding in an HTTP/1.0 request")
	case len(te) > 0:
		if len(te) != 1 || !strings.EqualFold(strings.TrimSpace(te[0]), "chunked") {
			return &requestError{http.StatusNotImplemented, "unsupported transfer encoding " + strconv.Quote(strings.Join(te, ", "))}
		}
		if len(cls) > 0 {
			return badRequest("both Transfer-Encoding and Content-Length")
		}
		delete(hdr, "Transfer-Encoding")
		req.TransferEncoding, req.ContentLength = []string{"chunked"}, -1
		b.chunked = httputil.NewChunkedReader(c.br) // up to its last chunk; readTrailer reads the rest
	case len(cls) > 0:
		n, err := parseContentLength(cls)
		if err != nil {
			return err
		}
		req.ContentLength, b.remain = n, n
	}
	if e, ok := hdr["Expect"]; ok {
		// As net/http: the one expectation taken is 100-continue, of an HTTP/1.1 request
		// with a body; any other is refused.
		if len(e) != 1 || !strings.EqualFold(e[0], "100-continue") || req.ProtoMinor < 1 || req.ContentLength == 0 {
			return &requestError{http.StatusExpectationFailed, "unsupported Expect " + strconv.Quote(strings.Join(e, ", "))}
		}
		b.expect = true
	}
	if req.ContentLength == 0 {
		req.Body = http.NoBody
		return nil
	}
	req.Body = b
	return nil
}

// parseContentLength parses the Content-Length values: all the same, digits only.
func parseContentLength(vs []string) (int64, error) {
	v := strings.TrimSpace(vs[0])
	for _, o := range vs[1:] {
		if strings.TrimSpace(o) != v {
			return 0, badRequest("Content-Length given twice, differently")
		}
	}
	if v == "" || len(v) > 18 || strings.Trim(v, "0123456789") != "" {
		return 0, badRequest("malformed Content-Length " + strconv.Quote(v))
	}
	n, _ := strconv.ParseInt(v, 10, 64)
	return n, nil
}

// shouldClose reports whether the connection closes after this request's answer: HTTP/1.0
// unless it asks for keep-alive, HTTP/1.1 when it asks for close.
func shouldClose(minor int, hdr http.Header) bool {
	conn := hdr["Connection"]
	if minor == 0 {
		return !hasToken(conn, "keep-alive")
	}
	return hasToken(conn, "close")
}

func hasToken(vs []string, token string) bool {
	for _, v := range vs {
		for f := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), token) {
				return true
			}
		}
	}
	return false
}

// validMethod reports whether m is a token (RFC 9110).
func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		if !isTokenByte(m[i]) {
			return false
		}
	}
	return true
}

func isTokenByte(b byte) bool {
	return b > ' ' && b < 0x7f && !strings.ContainsRune("\"(),/:;<=>?@[\\]{}", rune(b))
}

// refuse answers a request refused before its handler (a requestError), and closes; any
// other error (the client's connection) just closes.
func (c *conn) refuse(err error) {
	var re *requestError
	if !errors.As(err, &re) {
		return
	}
	ctype, body := "text/plain; charset=utf-8", []byte(re.msg)
	if c.s.ErrorBody != nil {
		ctype, body = c.s.ErrorBody(re.status, re.msg)
	}
	b := appendStatus(nil, re.status)
	b = append(b, "Content-Type: "...)
	b = append(b, ctype...)
	b = append(b, "\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\nConnection: close\r\n\r\n"...)
	b = append(b, body...)
	if c.s.WriteTimeout <= 0 {
		c.rw.SetWriteDeadline(time.Now().Add(10 * time.Second))
	}
	if _, err := c.rw.Write(b); err == nil {
		c.closeWriteAndWait()
	}
}

// closeWriteAndWait shuts the writing side and waits a little before the close, so that
// the client reads the answer before any reset.
func (c *conn) closeWriteAndWait() {
	if cw, ok := c.rw.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		time.Sleep(rstAvoidanceDelay)
	}
}

// handle runs the handler for req and answers; it reports whether the connection is kept
// for another request.
func (c *conn) handle(req *http.Request) (keep bool) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req = req.WithContext(ctx)
	w := &response{c: c, req: req, header: make(http.Header, 4), cl: -1}
	w.body = c.body[:0]
	if !c.run(w, req) {
		return false
	}
	keep = w.finish()
	c.body = w.body[:0]
	if cap(c.body) > maxBuffered {
		c.body = nil
	}
	return keep
}

// run calls the handler, and reports whether it returned; a panic closes the connection
// (http.ErrAbortHandler silently), as net/http does.
func (c *conn) run(w *response, req *http.Request) (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler {
				c.s.log().Error("handler panicked", "remote", c.remote, "method", req.Method, "path", req.URL.Path, "panic", p, "stack", string(debug.Stack()))
			}
			ok = false
		}
	}()
	c.s.Handler.ServeHTTP(w, req)
	return true
}

// limitedReader reads from r at most n bytes, then errHeadTooLarge.
type limitedReader struct {
	r io.Reader
	n int64
}

const noLimit = 1<<63 - 1

var errHeadTooLarge = errors.New("h1: request head too large")

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errHeadTooLarge
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}
