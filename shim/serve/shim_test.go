package serve

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aft-shim/aft/api"
	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/shim/store/mem"
	"github.com/aft-shim/aft/shim/txn"
	"github.com/prometheus/client_golang/prometheus"
)

// A second shim on a data directory in use is refused, and gets in once the first closed.
func TestOpenDataDirInUse(t *testing.T) {
	cfg := Defaults()
	cfg.DataDir = t.TempDir()
	ctx := context.Background()
	a, err := Open(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, cfg, nil); err == nil || !strings.Contains(err.Error(), "in use by another process") {
		t.Errorf("second Open on one data dir = %v, want in use", err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("second Close = %v, want the first's nil", err)
	}
	b, err := Open(ctx, cfg, nil)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	b.Close()
}

// OpenStore serves a store the caller opened, with the configured latency, metrics in the
// given registry, and leaves the store open at Close.
func TestOpenStore(t *testing.T) {
	st := mem.New()
	defer st.Close()
	reg := prometheus.NewRegistry()
	cfg := Defaults()
	cfg.StoreLatency, cfg.Registry = time.Millisecond, reg
	s, err := OpenStore(context.Background(), st, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.Describe(), "in process, +1ms latency"; got != want {
		t.Errorf("Describe() = %q, want %q", got, want)
	}
	if s.Registry() != reg || s.Manager() == nil {
		t.Errorf("Registry() %p, want the configured %p; Manager() %v", s.Registry(), reg, s.Manager())
	}
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	c := client.New(ts.URL)
	ctx := context.Background()
	tx, err := c.Begin(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	c.Put(ctx, tx.ID, "k", []byte("v"))
	if _, err := c.Commit(ctx, tx.ID, nil); err != nil {
		t.Fatal(err)
	}
	if fams, err := reg.Gather(); err != nil || len(fams) == 0 {
		t.Errorf("registry gathers %d families, %v", len(fams), err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.List(ctx, "", false, func(string, []byte) error { return nil }); err != nil {
		t.Errorf("store after the shim closed: %v, want it still open", err)
	}
}

// Serve answers until Shutdown, and returns http.ErrServerClosed; after it a new Serve
// returns that at once.
func TestServeShutdown(t *testing.T) {
	s, err := OpenStore(context.Background(), mem.New(), Defaults(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	if _, err := client.New("http://"+ln.Addr().String()).Begin(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown = %v", err)
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve after Shutdown = %v, want http.ErrServerClosed", err)
	}
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(ln2); !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve on a closed shim = %v, want http.ErrServerClosed", err)
	}
}

// An Open that fails after it opened the store releases it.
func TestOpenFailureReleasesStore(t *testing.T) {
	cfg := Defaults()
	cfg.DataDir = t.TempDir()
	cfg.Txn.MaxValueSize, cfg.Txn.MaxTxnBytes = 10<<20, 1<<20 // not validated: txn.New refuses it
	if _, err := Open(context.Background(), cfg, nil); err == nil || !strings.Contains(err.Error(), "txn config") {
		t.Fatalf("Open with impossible limits = %v, want a txn config error", err)
	}
	cfg.Txn = txn.Config{}
	s, err := Open(context.Background(), cfg, nil)
	if err != nil {
		t.Fatalf("Open after a failed Open: %v (store not released?)", err)
	}
	s.Close()
}

// serveOn serves s on a loopback port until the test ends, and returns its base URL.
func serveOn(t *testing.T, s *Shim) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return "http://" + ln.Addr().String()
}

// Headers up to MaxHeaderBytes are served; larger ones get net/http's 431 before the API
// runs (plain text, not the spec's JSON: see MaxHeaderBytes).
func TestServeHeaderLimit(t *testing.T) {
	s, err := OpenStore(context.Background(), mem.New(), Defaults(), nil)
	if err != nil {
		t.Fatal(err)
	}
	base := serveOn(t, s)
	tests := []struct {
		name string
		pad  int // bytes of one extra header's value
		want int
	}{
		{"under the limit", MaxHeaderBytes - 1<<10, http.StatusOK},
		{"past the server's slack", MaxHeaderBytes + 4<<10, http.StatusRequestHeaderFieldsTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", base+"/healthz", nil)
			req.Header.Set("X-Pad", strings.Repeat("p", tt.pad))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			t.Logf("%d bytes of header: %s, Content-Type %q", tt.pad, resp.Status, resp.Header.Get("Content-Type"))
			if resp.StatusCode != tt.want {
				t.Errorf("GET /healthz with %d bytes of header = %d, want %d", tt.pad, resp.StatusCode, tt.want)
			}
			if tt.want != http.StatusOK {
				var e api.ErrorBody
				if err := json.Unmarshal(body, &e); err != nil || e.Code != api.CodeHeadersTooLarge || !resp.Close {
					t.Errorf("answer %q (closing: %v), want the JSON error headers_too_large, closing", body, resp.Close)
				}
			}
		})
	}
}

// A request the server cannot parse gets the API's JSON error, 400 bad_request, before any
// handler runs.
func TestServeMalformedRequest(t *testing.T) {
	s, err := OpenStore(context.Background(), mem.New(), Defaults(), nil)
	if err != nil {
		t.Fatal(err)
	}
	base := serveOn(t, s)
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /v1/txns/%zz HTTP/1.1\r\nHost: h\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	var e api.ErrorBody
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || resp.StatusCode != http.StatusBadRequest || e.Code != api.CodeBadRequest {
		t.Errorf("a malformed request got %s %+v (%v), want 400 bad_request", resp.Status, e, err)
	}
}

// A handler that outlives the server's WriteTimeout (the start of the answers' pace) still
// answers: its answer sets its own write deadline before writing.
func TestServeSlowHandlerAnswers(t *testing.T) {
	cfg := Defaults()
	cfg.BodyTimeout, cfg.StoreLatency = 100*time.Millisecond, 300*time.Millisecond // a commit writes to the store
	s, err := OpenStore(context.Background(), mem.New(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := client.New(serveOn(t, s))
	ctx := context.Background()
	tx, err := c.Begin(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Put(ctx, tx.ID, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := c.Commit(ctx, tx.ID, nil); err != nil {
		t.Fatalf("a commit of %v, past WriteTimeout %v: %v", time.Since(start), cfg.BodyTimeout, err)
	}
	if took := time.Since(start); took < cfg.BodyTimeout {
		t.Fatalf("the commit took %v, not past WriteTimeout %v: the test shows nothing", took, cfg.BodyTimeout)
	}
}
