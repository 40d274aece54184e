package h1

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// seeds are the requests both fuzz targets start from: keep-alive, pipelining, chunked
// bodies, 100-continue, HEAD, absolute URIs, repeated and folded headers, escapes.
var seeds = []string{
	"GET / HTTP/1.1\r\nHost: h\r\n\r\n",
	"POST /v1/txns HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcGET /x?y=%20 HTTP/1.0\r\n\r\n",
	"PUT /k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
	"PUT /k HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nab",
	"HEAD / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n",
	"GET http://other/p HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nx-a: 2\r\n\r\n",
	"DELETE /v1/txns/a_b/keys/k%2F1 HTTP/1.1\r\nHost: h:80\r\nAuthorization: Bearer t\r\n\r\n",
}

func addSeeds(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
}

// FuzzConn feeds arbitrary bytes to a connection: the server must not panic or hang, and
// whatever it writes must be a sequence of well-formed answers, one per request it handed
// to its handler (or an error answer last).
func FuzzConn(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		watchdog := time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("hung on %q", in)) })
		defer watchdog.Stop()
		handled := 0
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			handled++
			b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			if r.URL.Path == "/stream" {
				w.Write(bytes.Repeat([]byte("s"), 70<<10))
			}
			w.Write(b)
		})
		s := &Server{Handler: h, HeaderTimeout: time.Second, MaxHeaderBytes: 1 << 10}
		var out bytes.Buffer
		c := newConn(s, &fakeConn{in: bytes.NewReader(in), out: &out})
		s.trackConn(c, true)
		done := make(chan struct{})
		go func() {
			defer close(done)
			c.serve()
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("the connection's goroutine did not end")
		}
		br := bufio.NewReader(&out)
		answers := 0
		for {
			if _, err := br.Peek(1); err == io.EOF {
				break
			}
			if b, _ := br.Peek(len("HTTP/1.1 100 Continue\r\n\r\n")); string(b) == "HTTP/1.1 100 Continue\r\n\r\n" {
				br.Discard(len(b))
				continue
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("answer %d is not well-formed: %v\nin: %q\nout: %q", answers, err, in, out.String())
			}
			if _, err := io.Copy(io.Discard, resp.Body); err != nil && !strings.Contains(err.Error(), "EOF") {
				t.Fatalf("answer %d's body: %v", answers, err)
			}
			answers++
		}
		if answers < handled || answers > handled+1 {
			t.Fatalf("%d answers for %d requests handled\nin: %q\nout: %q", answers, handled, in, out.String())
		}
	})
}

// fakeConn reads in, then io.EOF, and writes to out.
type fakeConn struct {
	in  io.Reader
	out *bytes.Buffer
}

func (c *fakeConn) Read(p []byte) (int, error)       { return c.in.Read(p) }
func (c *fakeConn) Write(p []byte) (int, error)      { return c.out.Write(p) }
func (c *fakeConn) Close() error                     { return nil }
func (c *fakeConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *fakeConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *fakeConn) SetDeadline(time.Time) error      { return nil }
func (c *fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fakeConn) SetWriteDeadline(time.Time) error { return nil }
