package server

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/shim/store/mem"
	"github.com/aft-shim/aft/shim/txn"
	"github.com/prometheus/client_golang/prometheus"
)

// TestBodyMemoryFollowsArrival opens raw connections that each declare a 4 MiB value and send
// only part of it, then stall. The server must hold memory for what arrived, charged to
// --max-buffered, not for what was declared (before: +200 MB for 50 connections sending one
// byte). Run with -v for the figures.
func TestBodyMemoryFollowsArrival(t *testing.T) {
	const (
		conns    = 50
		declared = 4 << 20
		budget   = 4 << 20 // --max-buffered: the least that admits a 4 MiB value
	)
	tests := []struct {
		name     string
		sent     int  // bytes each connection sends before it stalls
		wantBusy bool // whether the budget must refuse some of them
	}{
		{"one byte each", 1, false},
		{"256 KiB each", 256 << 10, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := txn.New(ctx, mem.New(), txn.Config{MaxValueSize: declared, MaxTxnBytes: budget, MaxBufferedBytes: budget})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			s := New(m, prometheus.NewRegistry(), nil)
			watch := &bodyWatch{h: s, want: int64(tt.sent), settled: make(chan struct{}, conns), codes: map[int]int{}}
			ts := httptest.NewServer(watch)
			defer ts.Close()
			tx, err := client.New(ts.URL).Begin(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			payload := []byte(strings.Repeat("v", tt.sent))
			before := heap()
			var open []net.Conn
			defer func() {
				for _, c := range open {
					c.Close()
				}
			}()
			for i := range conns {
				c, err := net.Dial("tcp", ts.Listener.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				open = append(open, c)
				go func() {
					fmt.Fprintf(c, "PUT /v1/txns/%s/keys/k%d HTTP/1.1\r\nHost: aft\r\nContent-Length: %d\r\n\r\n", tx.ID, i, declared)
					c.Write(payload) // fails once the server refused the body and closed: fine
				}()
			}
			for range conns {
				select {
				case <-watch.settled:
				case <-time.After(time.Minute): // a bound on a hang, not a timing assertion
					t.Fatal("the server did not take up the stalled bodies within a minute")
				}
			}
			grown := heap() - before
			watch.mu.Lock()
			busy := watch.codes[http.StatusServiceUnavailable]
			t.Logf("%d connections declaring %d bytes, sending %d: heap +%d bytes; answered %v; %d refused busy",
				conns, declared, tt.sent, grown, watch.codes, busy)
			watch.mu.Unlock()
			if limit := int64(budget + conns*64<<10); grown > limit {
				t.Errorf("heap grew %d bytes, want at most --max-buffered + 64 KiB a connection = %d", grown, limit)
			}
			if tt.wantBusy && busy == 0 {
				t.Errorf("no body was refused with 503 busy, though %d x %d bytes exceed --max-buffered %d", conns, tt.sent, budget)
			}
		})
	}
}

// heap returns the bytes of live heap objects after a collection.
func heap() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// bodyWatch tells, once per request, when its body has brought want bytes or its handler
// returned, and counts the statuses answered.
type bodyWatch struct {
	h       http.Handler
	want    int64
	settled chan struct{}

	mu    sync.Mutex
	codes map[int]int
}

func (b *bodyWatch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var once sync.Once
	settle := func() { once.Do(func() { b.settled <- struct{}{} }) }
	r.Body = &watchedBody{ReadCloser: r.Body, want: b.want, reached: settle}
	rw := &answerWriter{ResponseWriter: w, code: http.StatusOK}
	b.h.ServeHTTP(rw, r)
	b.mu.Lock()
	b.codes[rw.code]++
	b.mu.Unlock()
	settle()
}

type watchedBody struct {
	io.ReadCloser
	n, want int64
	reached func()
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if b.n += int64(n); b.n >= b.want {
		b.reached()
	}
	return n, err
}

// TestSlowBodyTimesOut: a body that stops arriving gets 408 once its read deadline passes,
// and a refused one (too large for --max-value-size), or one sent to a call that takes no
// body, is answered though its rest never comes: net/http reads an unread rest under 256
// KiB before it answers, within the same deadline.
func TestSlowBodyTimesOut(t *testing.T) {
	m, err := txn.New(ctx, mem.New(), txn.Config{MaxValueSize: 100, MaxTxnBytes: 1000, MaxBufferedBytes: 10000})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s := New(m, prometheus.NewRegistry(), nil)
	s.BodyTimeout, s.BodyMinRate = 20*time.Millisecond, 1<<30
	ts := httptest.NewServer(s)
	defer ts.Close()
	tx, err := client.New(ts.URL).Begin(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		method, path string
		declared     int
		wantStatus   int
		wantCode     string
	}{
		{"PUT", "/v1/txns/" + tx.ID + "/keys/slow", 100, 408, "body_timeout"},
		{"POST", "/v1/txns/" + tx.ID + "/commit", 100, 408, "body_timeout"},
		{"PUT", "/v1/txns/" + tx.ID + "/keys/large", 1000, 413, "value_too_large"},
		{"GET", "/v1/txns/" + tx.ID, 100, 200, ""},
		{"GET", "/healthz", 100, 200, ""},
	}
	for _, tt := range tests {
		c, err := net.Dial("tcp", ts.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: aft\r\nContent-Length: %d\r\n\r\nx", tt.method, tt.path, tt.declared)
		c.SetReadDeadline(time.Now().Add(time.Minute)) // a bound on a hang, not a timing assertion
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("%s %s with a stalled body: no answer: %v", tt.method, tt.path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != tt.wantStatus || tt.wantCode != "" && !strings.Contains(string(b), `"code":"`+tt.wantCode+`"`) {
			t.Errorf("%s %s with a stalled body = %d %s, want %d %s", tt.method, tt.path, resp.StatusCode, b, tt.wantStatus, tt.wantCode)
		}
	}
	// The transaction is untouched and the budget charged for the bodies is given back.
	if got := readMetric(t, ts, "aft_buffered_bytes"); got != "0" {
		t.Errorf("aft_buffered_bytes after the timed-out bodies = %s, want 0", got)
	}
}

// readMetric returns the value of an unlabelled metric at /metrics.
func readMetric(t *testing.T, ts *httptest.Server, name string) string {
	t.Helper()
	_, _, b := call(t, ts, "GET", "/metrics", nil, "")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	t.Fatalf("/metrics has no %s", name)
	return ""
}

// TestBodySizes reads bodies of declared and of unknown length (chunked) across the growth of
// the buffer and at the limit, and gives back every byte charged for them.
func TestBodySizes(t *testing.T) {
	const limit = 100 << 10
	ts, _ := newServer(t, txn.Config{MaxValueSize: limit, MaxTxnBytes: 1 << 20, MaxBufferedBytes: 1 << 20})
	c := client.New(ts.URL)
	tx, err := c.Begin(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	value := make([]byte, limit+1)
	for i := range value {
		value[i] = byte(i * 7)
	}
	tests := []struct {
		name     string
		size     int
		chunked  bool
		wantCode int
	}{
		{"empty", 0, false, 204},
		{"empty chunked", 0, true, 204},
		{"one chunk", firstChunk, false, 204},
		{"grown", firstChunk*3 + 5, false, 204},
		{"grown chunked", firstChunk*3 + 5, true, 204},
		{"at the limit", limit, false, 204},
		{"at the limit chunked", limit, true, 204},
		{"over the limit", limit + 1, false, 413},
		{"over the limit chunked", limit + 1, true, 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader = bytes.NewReader(value[:tt.size])
			if tt.chunked {
				body = io.MultiReader(body) // hides the length: sent chunked
			}
			req, _ := http.NewRequest("PUT", ts.URL+"/v1/txns/"+tx.ID+"/keys/"+tt.name, body)
			resp, err := ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantCode {
				t.Fatalf("PUT of %d bytes = %d %s, want %d", tt.size, resp.StatusCode, b, tt.wantCode)
			}
			if tt.wantCode == 413 {
				if !strings.Contains(string(b), `"code":"value_too_large"`) || !strings.Contains(string(b), fmt.Sprint(limit)) {
					t.Errorf("413 answer %s does not name value_too_large and the limit", b)
				}
				return
			}
			v, err := c.Get(ctx, tx.ID, tt.name)
			if err != nil || !bytes.Equal(v.Bytes, value[:tt.size]) {
				t.Errorf("read back %d bytes, %v; want the %d written", len(v.Bytes), err, tt.size)
			}
		})
	}
	// What stays charged is the write buffer alone: each stored value and its key.
	c.Abort(ctx, tx.ID)
	if got := readMetric(t, ts, "aft_buffered_bytes"); got != "0" {
		t.Errorf("aft_buffered_bytes after the transaction ended = %s, want 0", got)
	}
}

// TestBodyOfTheWholeBudget: the charge of a body is its live buffer, never the old and the new
// one of a growth together, so a value that with its key fills --max-buffered is taken.
func TestBodyOfTheWholeBudget(t *testing.T) {
	const budget = 3<<20 + 1 // a size that the doubling buffer does not land on
	ts, _ := newServer(t, txn.Config{MaxValueSize: budget, MaxTxnBytes: budget, MaxBufferedBytes: budget})
	c := client.New(ts.URL)
	tx, err := c.Begin(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	value := bytes.Repeat([]byte("b"), budget-1)
	if err := c.Put(ctx, tx.ID, "k", value); err != nil {
		t.Fatalf("put of %d bytes under --max-buffered %d: %v", len(value), budget, err)
	}
}

// TestBodyOverBudgetIsBusy: a body that does not fit in what --max-buffered has left is
// refused before it is read, with 503 busy and Retry-After.
func TestBodyOverBudgetIsBusy(t *testing.T) {
	ts, _ := newServer(t, txn.Config{MaxValueSize: 64 << 10, MaxTxnBytes: 64 << 10, MaxBufferedBytes: 64 << 10})
	c := client.New(ts.URL)
	full, _ := c.Begin(ctx, "")
	if err := c.Put(ctx, full.ID, "k", make([]byte, 60<<10)); err != nil {
		t.Fatal(err)
	}
	other, _ := c.Begin(ctx, "")
	req, _ := http.NewRequest("PUT", ts.URL+"/v1/txns/"+other.ID+"/keys/k", bytes.NewReader(make([]byte, 8<<10)))
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(b), `"code":"busy"`) {
		t.Errorf("PUT over the budget = %d Retry-After %q %s, want 503 busy with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
}
