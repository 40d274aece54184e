package h1

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// start serves h on a loopback port and returns the server and its address.
func start(t testing.TB, h http.Handler, opts ...func(*Server)) (*Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Handler: h, HeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 8 << 10,
		ErrorBody: func(status int, msg string) (string, []byte) {
			return "application/json", fmt.Appendf(nil, `{"error":%q,"code":"%d"}`, msg, status)
		}}
	for _, o := range opts {
		o(s)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve returned %v, want http.ErrServerClosed", err)
		}
	})
	return s, ln.Addr().String()
}

// echo answers the method, the path, the Host and the body.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	fmt.Fprintf(w, "%s %s %s %s", r.Method, r.URL.Path, r.Host, b)
})

// raw sends req on a new connection and returns what the server wrote until it closed or
// wait passed.
func raw(t *testing.T, addr, req string, wait time.Duration) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(wait))
	b, _ := io.ReadAll(c)
	return string(b)
}

func TestRoundTrips(t *testing.T) {
	_, addr := start(t, echo)
	tr := &http.Transport{MaxIdleConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr}
	var conns atomic.Int32
	tr.DialContext = func(ctx context.Context, n, a string) (net.Conn, error) {
		conns.Add(1)
		return (&net.Dialer{}).DialContext(ctx, n, a)
	}
	for i, body := range []string{"", "x", strings.Repeat("y", 100<<10)} {
		resp, err := cl.Post("http://"+addr+"/p/"+fmt.Sprint(i), "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := fmt.Sprintf("POST /p/%d %s %s", i, addr, body); string(got) != want {
			t.Fatalf("answer %d: got %.60q, want %.60q", i, got, want)
		}
		if resp.StatusCode != 200 || resp.Header.Get("Date") == "" || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
			t.Errorf("answer %d: status %d, headers %v", i, resp.StatusCode, resp.Header)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for 3 requests, want 1 kept alive", n)
	}
}

func TestChunkedAndPipelined(t *testing.T) {
	_, addr := start(t, echo)
	got := raw(t, addr, "POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n"+
		"GET /b HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", 5*time.Second)
	if !strings.Contains(got, "POST /a h abcde") || !strings.Contains(got, "GET /b h ") || !strings.Contains(got, "Connection: close") {
		t.Fatalf("got %q", got)
	}
}

func TestExpectContinue(t *testing.T) {
	_, addr := start(t, echo)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "PUT /k HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	br := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := br.ReadString('\n')
	if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("first line %q, %v: want a 100 Continue before the body", line, err)
	}
	br.ReadString('\n')
	io.WriteString(c, "hello")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if string(b) != "PUT /k h hello" {
		t.Fatalf("got %q", b)
	}
}

func TestRefusals(t *testing.T) {
	_, addr := start(t, echo)
	for _, tc := range []struct{ name, req, want string }{
		{"garbage", "hello\r\n\r\n", "HTTP/1.1 400 "},
		{"no host", "GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 400 "},
		{"bad host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", "HTTP/1.1 400 "},
		{"two lengths", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", "HTTP/1.1 400 "},
		{"length and chunked", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", "HTTP/1.1 400 "},
		{"expect without a body", "GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n", "HTTP/1.1 417 "},
		{"expect in HTTP/1.0", "PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\na", "HTTP/1.1 417 "},
		{"chunked in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "HTTP/1.1 400 "},
		{"gzip", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", "HTTP/1.1 501 "},
		{"http2", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", "HTTP/1.1 505 "},
		{"bad header", "GET / HTTP/1.1\r\nHost: h\r\nBad Name: v\r\n\r\n", "HTTP/1.1 400 "},
		{"headers too large", "GET / HTTP/1.1\r\nHost: h\r\nX: " + strings.Repeat("a", 20<<10) + "\r\n\r\n", "HTTP/1.1 431 "},
	} {
		got := raw(t, addr, tc.req, 5*time.Second)
		if !strings.HasPrefix(got, tc.want) || !strings.Contains(got, "Connection: close") || !strings.Contains(got, `{"error":`) {
			t.Errorf("%s: got %q, want %q with a JSON error, closing", tc.name, got, tc.want)
		}
	}
}

func TestUnreadBody(t *testing.T) {
	ignore := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	_, addr := start(t, ignore)
	// A small unread body is read past: the next request on the connection is served.
	got := raw(t, addr, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", 5*time.Second)
	if strings.Count(got, "HTTP/1.1 200") != 2 {
		t.Errorf("small unread body: got %q, want two answers", got)
	}
	// A large one closes the connection after the answer.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n", 10<<20)
	go c.Write(make([]byte, 1<<20))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Close {
		t.Errorf("large unread body: the answer does not close the connection (headers %v)", resp.Header)
	}
}

func TestLargeAnswers(t *testing.T) {
	big := bytes.Repeat([]byte("z"), 200<<10)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/length" {
			w.Header().Set("Content-Length", fmt.Sprint(len(big)))
		}
		for i := 0; i < len(big); i += 10 << 10 {
			w.Write(big[i : i+10<<10])
		}
	})
	_, addr := start(t, h)
	for _, path := range []string{"/length", "/chunked"} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || !bytes.Equal(b, big) {
			t.Fatalf("%s: %d bytes, %v", path, len(b), err)
		}
		if chunked := len(resp.TransferEncoding) > 0; chunked != (path == "/chunked") {
			t.Errorf("%s: transfer encoding %v", path, resp.TransferEncoding)
		}
	}
}

func TestHeadAndNoContent(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/204" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Length", "5")
		io.WriteString(w, "hello")
	})
	_, addr := start(t, h)
	got := raw(t, addr, "HEAD / HTTP/1.1\r\nHost: h\r\n\r\nGET /204 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", 5*time.Second)
	if strings.Contains(got, "hello") || !strings.Contains(got, "Content-Length: 5") || !strings.Contains(got, "HTTP/1.1 204") {
		t.Fatalf("got %q", got)
	}
}

func TestHTTP10(t *testing.T) {
	_, addr := start(t, echo)
	got := raw(t, addr, "GET /x HTTP/1.0\r\n\r\n", 5*time.Second)
	if !strings.HasPrefix(got, "HTTP/1.1 200") || !strings.HasSuffix(got, "GET /x  ") {
		t.Fatalf("got %q", got)
	}
}

func TestHeaderInjection(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-A", "v\r\nX-Injected: 1")
		w.Header()["Bad Name"] = []string{"v"}
	})
	_, addr := start(t, h)
	got := raw(t, addr, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", 5*time.Second)
	if strings.Contains(got, "\r\nX-Injected") || strings.Contains(got, "Bad Name") {
		t.Fatalf("got %q", got)
	}
}

func TestDeadlinesFromHandler(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if err := rc.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
			t.Errorf("SetReadDeadline: %v", err)
		}
		_, err := io.ReadAll(r.Body)
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("reading a body that stalls: %v, want a timeout", err)
		}
		if err := rc.SetWriteDeadline(time.Now().Add(time.Second)); err != nil {
			t.Errorf("SetWriteDeadline: %v", err)
		}
		io.WriteString(w, "late")
	})
	_, addr := start(t, h)
	got := raw(t, addr, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc", 5*time.Second)
	if !strings.Contains(got, "Connection: close") || !strings.HasSuffix(got, "late") {
		t.Fatalf("got %q", got)
	}
}

func TestHeaderTimeout(t *testing.T) {
	_, addr := start(t, echo, func(s *Server) { s.HeaderTimeout = 200 * time.Millisecond })
	start := time.Now()
	got := raw(t, addr, "GET / HTTP/1.1\r\nHost: h\r\n", 5*time.Second)
	if el := time.Since(start); got != "" || el > 2*time.Second {
		t.Fatalf("a head that never ends: got %q after %v, want the connection closed after 200ms", got, el)
	}
}

func TestPanicClosesConnection(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) })
	_, addr := start(t, h)
	if got := raw(t, addr, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", 5*time.Second); got != "" {
		t.Fatalf("got %q", got)
	}
}

func TestShutdown(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(entered)
			<-release
		}
		io.WriteString(w, "done")
	})
	s, addr := start(t, h)
	idle, err := net.Dial("tcp", addr) // a kept-alive connection, idle: closed by Shutdown
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	io.WriteString(idle, "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	if _, err := http.ReadResponse(bufio.NewReader(idle), nil); err != nil {
		t.Fatal(err)
	}
	answered := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/slow")
		if err != nil {
			answered <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		answered <- string(b)
	}()
	select { // the request is in flight, however slow the machine, before Shutdown
	case <-entered:
	case got := <-answered:
		t.Fatalf("the slow request got %q before Shutdown", got)
	}
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	case <-time.After(200 * time.Millisecond):
	}
	idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := idle.Read(make([]byte, 1)); err == nil {
		t.Errorf("the idle connection is still open (read %d)", n)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Errorf("still listening during Shutdown")
	}
	close(release)
	if got := <-answered; got != "done" {
		t.Errorf("the request in flight got %q", got)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

func TestTLS(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || !r.TLS.HandshakeComplete {
			t.Errorf("r.TLS = %v", r.TLS)
		}
		io.WriteString(w, "secure")
	})
	ts := httptest.NewUnstartedServer(nil) // for its certificate
	ts.StartTLS()
	defer ts.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Handler: h}
	go s.Serve(tls.NewListener(ln, ts.TLS))
	defer s.Close()
	resp, err := ts.Client().Get("https://" + ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "secure" || resp.Proto != "HTTP/1.1" {
		t.Fatalf("got %q over %s", b, resp.Proto)
	}
}

// A client that drops its connection while the handler runs (a commit in the store) does
// not cut the handler short: it runs to its end with its context live, and its answer to
// nobody fails quietly; the server goes on serving.
func TestClientGoneMidHandler(t *testing.T) {
	entered, finished := make(chan struct{}), make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/commit" {
			io.WriteString(w, "ok")
			return
		}
		close(entered)
		time.Sleep(200 * time.Millisecond) // the client leaves meanwhile
		finished <- r.Context().Err()
		io.WriteString(w, "committed")
	})
	_, addr := start(t, h)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "POST /commit HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n")
	<-entered
	c.Close()
	select {
	case err := <-finished:
		if err != nil {
			t.Errorf("the handler's context ended when its client left: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the handler did not run to its end")
	}
	if got := raw(t, addr, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", 5*time.Second); !strings.HasSuffix(got, "ok") {
		t.Errorf("the next client got %q", got)
	}
}
