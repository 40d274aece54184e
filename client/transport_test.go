package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aft-shim/aft/api"
)

// connCounter is a test server that counts the connections it accepted and the requests
// it got.
type connCounter struct {
	*httptest.Server
	conns, reqs atomic.Int64
}

func newConnCounter(t *testing.T, h http.HandlerFunc) *connCounter {
	cc := &connCounter{}
	cc.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cc.reqs.Add(1)
		h(w, r)
	}))
	cc.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			cc.conns.Add(1)
		}
	}
	cc.Start()
	t.Cleanup(cc.Close)
	return cc
}

func echo(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.Path, b)
}

// do sends one request through hc and returns the answer's body.
func do(t *testing.T, hc *http.Client, method, url, body string) string {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read: %v", method, url, err)
	}
	return string(b)
}

func TestTransportReusesConnections(t *testing.T) {
	srv := newConnCounter(t, echo)
	hc := &http.Client{Transport: &Transport{}}
	for i := range 50 {
		if got, want := do(t, hc, "POST", srv.URL+"/p", fmt.Sprint(i)), fmt.Sprintf("POST /p %d", i); got != want {
			t.Fatalf("answer %q, want %q", got, want)
		}
	}
	if n := srv.conns.Load(); n != 1 {
		t.Errorf("50 calls one after the other took %d connections, want 1", n)
	}
}

func TestTransportConcurrent(t *testing.T) {
	srv := newConnCounter(t, echo)
	hc := &http.Client{Transport: &Transport{}}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				body := fmt.Sprintf("%d-%d", g, i)
				req, _ := http.NewRequest("PUT", srv.URL+"/k", strings.NewReader(body))
				resp, err := hc.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != "PUT /k "+body {
					t.Errorf("answer %q to %q", b, body)
				}
			}
		})
	}
	wg.Wait()
	if n := srv.conns.Load(); n > 8 {
		t.Errorf("8 callers took %d connections, want at most 8", n)
	}
}

// TestTransportServerClosedIdle: a connection the server closed while it was idle is not
// written to; the next call dials.
func TestTransportServerClosedIdle(t *testing.T) {
	srv := newConnCounter(t, echo)
	hc := &http.Client{Transport: &Transport{}}
	for i := range 5 {
		do(t, hc, "POST", srv.URL+"/a", "x")
		srv.CloseClientConnections()
		time.Sleep(10 * time.Millisecond) // the FIN reaches the client's socket
		_ = i
	}
	if got, want := srv.reqs.Load(), int64(5); got != want {
		t.Errorf("server saw %d requests, want %d", got, want)
	}
}

// TestTransportConnectionClose: an answer with Connection: close, or a body closed before
// its end, leaves its connection out of the pool.
func TestTransportConnectionClose(t *testing.T) {
	srv := newConnCounter(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/close" {
			w.Header().Set("Connection", "close")
		}
		io.WriteString(w, strings.Repeat("v", 100<<10))
	})
	hc := &http.Client{Transport: &Transport{}}
	do(t, hc, "GET", srv.URL+"/close", "")
	do(t, hc, "GET", srv.URL+"/x", "")
	resp, err := hc.Get(srv.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Read(make([]byte, 10))
	resp.Body.Close() // before its end
	if _, err := resp.Body.Read(make([]byte, 1)); err == nil {
		t.Error("a read after Close succeeded")
	}
	do(t, hc, "GET", srv.URL+"/x", "")
	if n := srv.conns.Load(); n != 3 {
		t.Errorf("took %d connections, want 3 (a close answer, a body closed early)", n)
	}
}

// TestTransportNeverResends: a request that reached the server, whose connection broke
// before the answer, is an error, never sent again, whatever its method and headers.
func TestTransportNeverResends(t *testing.T) {
	var seen atomic.Int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					if seen.Add(1)%2 == 1 {
						io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
						continue
					}
					return // every second request: the connection breaks before the answer
				}
			}()
		}
	}()
	hc := &http.Client{Transport: &Transport{}}
	url := "http://" + ln.Addr().String() + "/v1/txns/t/keys/k"
	do(t, hc, "GET", url, "") // warms a connection, so that the next call reuses it
	for _, method := range []string{"GET", "POST", "PUT"} {
		before := seen.Load()
		req, _ := http.NewRequest(method, url, nil)
		req.Header.Set(api.HeaderIdempotencyKey, "k")
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
			t.Errorf("%s: answered %d, want the error of a broken connection", method, resp.StatusCode)
		}
		if n := seen.Load() - before; n != 1 {
			t.Errorf("%s: the server got the request %d times, want once (err %v)", method, n, err)
		}
		do(t, hc, "GET", url, "") // the answered one of the pair
	}
}

func TestTransportContext(t *testing.T) {
	release := make(chan struct{})
	srv := newConnCounter(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		io.WriteString(w, "ok")
	})
	defer close(release)
	hc := &http.Client{Transport: &Transport{}}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/slow", nil)
	start := time.Now()
	_, err := hc.Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a call past its context's deadline: %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the call returned after %v", d)
	}
	if got := do(t, hc, "GET", srv.URL+"/fast", ""); got != "ok" {
		t.Errorf("after a cancelled call: %q", got)
	}
}

// TestTransportFallback: https and proxied requests go to Fallback.
func TestTransportFallback(t *testing.T) {
	var got []string
	fb := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		got = append(got, r.URL.String())
		return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
	})
	hc := &http.Client{Transport: &Transport{Fallback: fb}}
	resp, err := hc.Get("https://shim.example/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(got) != 1 || got[0] != "https://shim.example/healthz" {
		t.Errorf("fallback got %v", got)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// BenchmarkTransport compares a small call over loopback through http.Transport (as
// NoResend) and through Transport, client and server in this process; compare ns/op as a
// ratio.
func BenchmarkTransport(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Length", "4096")
		w.Write(make([]byte, 4096))
	}))
	defer srv.Close()
	std := http.DefaultTransport.(*http.Transport).Clone()
	std.MaxIdleConnsPerHost = 256
	for _, tc := range []struct {
		name string
		rt   http.RoundTripper
	}{{"http.Transport", NoResend(std)}, {"Transport", &Transport{}}} {
		b.Run(tc.name, func(b *testing.B) {
			hc := &http.Client{Transport: tc.rt}
			b.SetParallelism(8)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := hc.Post(srv.URL, "application/octet-stream", strings.NewReader("value"))
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
		})
	}
}
