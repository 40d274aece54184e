package client

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// replayable are requests that http.Transport takes as replayable.
var replayable = []struct {
	method, body string
	header       string // Idempotency-Key, X-Idempotency-Key, or ""
}{
	{"GET", "", ""},
	{"GET", "", "Idempotency-Key"},
	{"HEAD", "", ""},
	{"OPTIONS", "", ""},
	{"TRACE", "", ""},
	{"DELETE", "", "Idempotency-Key"},
	{"POST", "", "Idempotency-Key"},
	{"POST", "order 1", "Idempotency-Key"},
	{"PUT", "value", "X-Idempotency-Key"},
	{"PATCH", "", "X-Idempotency-Key"},
}

// dropSecond is a server, kept-alive connections on, that counts the runs of each request
// (named by its X-Run header) and drops the connection of the second request it gets
// after reading it: its client sees a reused connection break before the answer.
type dropSecond struct {
	mu   sync.Mutex
	n    int
	runs map[string]int
}

func (d *dropSecond) ran(run string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.runs[run]
}

func (d *dropSecond) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	d.mu.Lock()
	d.n++
	n := d.n
	d.runs[r.Header.Get("X-Run")]++
	d.mu.Unlock()
	if n == 2 {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
			return
		}
	}
	io.WriteString(w, "ok")
}

// TestNoResend: a request that broke on a reused connection after the server read it runs
// once through NoResend, and twice (the transport resends it) through http.Transport alone:
// the second shows that the first can fail.
func TestNoResend(t *testing.T) {
	for _, tc := range replayable {
		name := fmt.Sprintf("%s body=%q %s", tc.method, tc.body, tc.header)
		for _, wrap := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s wrapped=%v", name, wrap), func(t *testing.T) {
				d := &dropSecond{runs: map[string]int{}}
				srv := httptest.NewServer(d)
				defer srv.Close()
				var rt http.RoundTripper = srv.Client().Transport.(*http.Transport).Clone()
				if wrap {
					rt = NoResend(rt)
				}
				hc := &http.Client{Transport: rt}
				send := func(run string) error {
					var body io.Reader
					if tc.body != "" {
						body = bytes.NewReader([]byte(tc.body)) // sets GetBody
					}
					req, _ := http.NewRequest(tc.method, srv.URL, body)
					req.Header.Set("X-Run", run)
					if tc.header != "" {
						req.Header.Set(tc.header, "key-"+run)
					}
					resp, err := hc.Do(req)
					if err != nil {
						return err
					}
					io.Copy(io.Discard, resp.Body)
					return resp.Body.Close()
				}
				if err := send("warm"); err != nil {
					t.Fatalf("first request: %v", err)
				}
				err := send("dropped")
				want := 1
				if !wrap {
					want = 2 // resent on a new connection
				}
				if got := d.ran("dropped"); got != want {
					t.Errorf("the dropped request ran %d times, want %d (error %v)", got, want, err)
				}
				if wrap && err == nil {
					t.Error("the dropped request answered no error")
				}
			})
		}
	}
}

// seen is what a server saw of a request.
type seen struct {
	Method           string
	ContentLength    int64
	TransferEncoding []string
	Header           http.Header
	Body             string
}

// TestNoResendWire: through NoResend a server sees each request as it sees it through
// http.Transport alone (but TRACE, documented to go out with an empty chunked body), and
// the request given to RoundTrip is not changed.
func TestNoResendWire(t *testing.T) {
	var (
		mu  sync.Mutex
		got seen
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h := r.Header.Clone()
		h.Del("User-Agent")
		mu.Lock()
		got = seen{r.Method, r.ContentLength, r.TransferEncoding, h, string(b)}
		mu.Unlock()
	}))
	defer srv.Close()
	plain := srv.Client().Transport.(*http.Transport).Clone()
	for _, tc := range replayable {
		if tc.method == "TRACE" {
			continue
		}
		t.Run(fmt.Sprintf("%s body=%q %s", tc.method, tc.body, tc.header), func(t *testing.T) {
			var want seen
			for i, rt := range []http.RoundTripper{plain, NoResend(plain)} {
				var body io.Reader
				if tc.body != "" {
					body = bytes.NewReader([]byte(tc.body))
				}
				req, _ := http.NewRequest(tc.method, srv.URL, body)
				if tc.header != "" {
					req.Header.Set(tc.header, "k1")
				}
				before := req.Header.Clone()
				resp, err := (&http.Client{Transport: rt}).Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				mu.Lock()
				saw := got
				mu.Unlock()
				if i == 0 {
					want = saw
					continue
				}
				if diff := cmp.Diff(want, saw); diff != "" {
					t.Errorf("the server saw (-plain +NoResend):\n%s", diff)
				}
				if diff := cmp.Diff(before, req.Header); diff != "" || (tc.body != "" && req.GetBody == nil) {
					t.Errorf("the request given was changed: header (-before +after):\n%s, GetBody %v", diff, req.GetBody != nil)
				}
			}
		})
	}
}

// TestClientNoResend: a Client sends through NoResend whatever HTTP client it is given, or
// through its own Transport, which sends nothing twice.
func TestClientNoResend(t *testing.T) {
	for _, hc := range []*http.Client{nil, {}, {Transport: &Retarget{}}, NoResendClient(nil)} {
		var opts []Option
		if hc != nil {
			opts = append(opts, WithHTTPClient(hc))
		}
		c := New("http://127.0.0.1:1", opts...)
		switch c.hc.Transport.(type) {
		case noResend:
		case *Transport:
			if hc != nil {
				t.Errorf("client of %+v sends through its own Transport, want the given one through noResend", hc)
			}
		default:
			t.Errorf("client of %+v sends through %T, want noResend or Transport", hc, c.hc.Transport)
		}
	}
}

// BenchmarkNoResend: the cost of NoResend on a GET over loopback (for a GET it gives an
// empty body that the transport probes as it writes the request).
func BenchmarkNoResend(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	plain := srv.Client().Transport.(*http.Transport).Clone()
	for _, bc := range []struct {
		name string
		rt   http.RoundTripper
	}{{"transport", plain}, {"NoResend", NoResend(plain)}} {
		b.Run(bc.name, func(b *testing.B) {
			hc := &http.Client{Transport: bc.rt}
			for b.Loop() {
				resp, err := hc.Get(srv.URL)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}
