package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
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

// answerPace is the pace of the answers in these tests: 250 ms to start, then 8 MiB a
// second, so that an answer of bigValue is due 1.25 s after its first byte.
const (
	answerTimeout = 250 * time.Millisecond
	answerMinRate = 8 << 20
	bigValue      = 8 << 20 // more than the kernel buffers of a connection whose client reads nothing
)

// answerDue is the bound of an answer of n bytes: answerTimeout, then answerMinRate.
func answerDue(n int) time.Duration {
	return answerTimeout + time.Duration(n)*time.Second/answerMinRate
}

// pacedServer serves the API with answers paced by answerPace over a transaction manager
// holding bigValue bytes committed at key "big", and tells on returned each time the
// handler of a read or a batch returned.
func pacedServer(t *testing.T) (ts *httptest.Server, value []byte, returned <-chan time.Time) {
	t.Helper()
	m, err := txn.New(ctx, mem.New(), txn.Config{MaxValueSize: bigValue, MaxTxnBytes: 2 * bigValue, MaxBufferedBytes: 8 * bigValue})
	if err != nil {
		t.Fatal(err)
	}
	s := New(m, prometheus.NewRegistry(), nil)
	s.BodyTimeout, s.BodyMinRate = answerTimeout, answerMinRate
	done := make(chan time.Time, 16)
	ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.ServeHTTP(w, r)
		if r.Method == http.MethodGet || strings.HasSuffix(r.URL.Path, "/batch") {
			done <- time.Now()
		}
	}))
	t.Cleanup(func() { ts.Close(); m.Close() })
	value = bytes.Repeat([]byte("0123456789abcdef"), bigValue/16)
	c := client.New(ts.URL)
	tx, err := c.Begin(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Put(ctx, tx.ID, "big", value); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Commit(ctx, tx.ID, nil); err != nil {
		t.Fatal(err)
	}
	return ts, value, done
}

// dialSmall opens a connection to ts whose receive buffer stays small, so that an answer
// the client does not read fills the server's buffers at once.
func dialSmall(t *testing.T, ts *httptest.Server) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.(*net.TCPConn).SetReadBuffer(16 << 10); err != nil {
		t.Fatal(err)
	}
	return c
}

// readRequests are requests whose answers hold bigValue: a read, and a batch that reads.
func readRequests(t *testing.T, ts *httptest.Server) []struct{ name, raw string } {
	tx, err := client.New(ts.URL).Begin(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	batch := `{"ops":[{"op":"read","key":"big"}]}`
	return []struct{ name, raw string }{
		{"read", fmt.Sprintf("GET /v1/txns/%s/keys/big HTTP/1.1\r\nHost: aft\r\n\r\n", tx.ID)},
		{"batch", fmt.Sprintf("POST /v1/txns/%s/batch HTTP/1.1\r\nHost: aft\r\nContent-Length: %d\r\n\r\n%s", tx.ID, len(batch), batch)},
	}
}

// TestSlowReaderIsCut: a client that asks for a large answer and never reads it holds
// its handler until the answer is due (its start bound, plus its size at the minimum
// rate), not forever; what it reads afterwards is a cut answer.
func TestSlowReaderIsCut(t *testing.T) {
	ts, _, returned := pacedServer(t)
	for _, tt := range readRequests(t, ts) {
		t.Run(tt.name, func(t *testing.T) {
			c := dialSmall(t, ts)
			sent := time.Now()
			if _, err := io.WriteString(c, tt.raw); err != nil {
				t.Fatal(err)
			}
			due := answerDue(4 * bigValue / 3) // a batch answers in base64: the larger
			var took time.Duration
			select {
			case at := <-returned:
				took = at.Sub(sent)
			case <-time.After(due + 10*time.Second): // a bound on a hang, not a timing assertion
				t.Fatalf("the handler of an answer nobody reads still runs %v after the request; due after %v", time.Since(sent), due)
			}
			t.Logf("%s: handler returned %v after the request, the answer was due after at most %v", tt.name, took.Round(time.Millisecond), due)
			if slack := 5 * time.Second; took > due+slack {
				t.Errorf("the handler returned %v after the request, want within the answer's bound %v (+%v)", took, due, slack)
			}
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			n, err := io.Copy(io.Discard, c)
			if n >= bigValue {
				t.Errorf("read %d bytes of the cut answer (%v), want fewer than the value's %d", n, err, bigValue)
			}
		})
	}
}

// TestPacedReaderGetsAll: a client that reads at twice the minimum rate gets whole
// answers, and the bound of one answer does not outlive it: a second request on the same
// connection, after a pause longer than the first answer's bound, is answered whole too.
//
// The reader's pace is wall-clock time in a process that shares the machine with the rest
// of make test, so a loaded machine can starve it past the bound, and then the server is
// right to cut it. A cut is therefore checked against the clock: one that comes before the
// answer's bound, counted from when the request was sent (no later than the server's write
// started), is a failure; one after it means the reader fell behind, and the attempt is
// made again on a fresh connection, a bounded number of times.
func TestPacedReaderGetsAll(t *testing.T) {
	ts, value, _ := pacedServer(t)
	for _, tt := range readRequests(t, ts) {
		t.Run(tt.name, func(t *testing.T) {
			const attempts = 4
			for a := 1; ; a++ {
				behind := pacedAttempt(t, ts, tt.raw, tt.name == "batch", value)
				if behind == "" {
					return
				}
				if a == attempts {
					t.Fatalf("the reader fell behind its own pace in each of %d attempts (last: %s): the machine is too loaded for this test", attempts, behind)
				}
				t.Logf("attempt %d: %s; trying again", a, behind)
			}
		})
	}
}

// pacedAttempt sends raw twice on one connection, the second time after a pause longer
// than the first answer's bound, and reads each answer at twice the minimum rate. It
// fails t when an answer is wrong or cut before its bound, and returns why the attempt
// does not count when the reader itself fell behind the bound (else "").
func pacedAttempt(t *testing.T, ts *httptest.Server, raw string, batch bool, value []byte) (behind string) {
	t.Helper()
	size := len(value)
	if batch {
		size = 4 * size / 3 // base64
	}
	due := answerDue(size)
	c := dialSmall(t, ts)
	defer c.Close()
	br := bufio.NewReader(c)
	for i := range 2 {
		if i == 1 {
			time.Sleep(due + 500*time.Millisecond)
		}
		sent := time.Now()
		if _, err := io.WriteString(c, raw); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
		got, err := readPaced(resp.Body, 2*answerMinRate)
		resp.Body.Close()
		if err != nil {
			took := time.Since(sent)
			if took < due {
				t.Fatalf("request %d: the answer was cut after %d bytes and %v (%v), before its bound %v", i+1, len(got), took, err, due)
			}
			return fmt.Sprintf("request %d: %d bytes read in %v, past the answer's bound %v (%v)", i+1, len(got), took.Round(time.Millisecond), due, err)
		}
		if batch {
			got, err = batchValue(got)
		}
		if err != nil || !bytes.Equal(got, value) {
			t.Fatalf("request %d: answer of %d bytes (%v), want the value's %d", i+1, len(got), err, len(value))
		}
	}
	return ""
}

// batchValue returns the value of the one result of a batch answer.
func batchValue(b []byte) ([]byte, error) {
	var a api.BatchAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, err
	}
	if len(a.Results) != 1 || a.Results[0].Value == nil {
		return nil, fmt.Errorf("batch answer %.200s: want one result with a value", b)
	}
	return *a.Results[0].Value, nil
}

// readPaced reads r to its end at about rate bytes a second, in 64 KiB reads.
func readPaced(r io.Reader, rate int) ([]byte, error) {
	var out bytes.Buffer
	start := time.Now()
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		out.Write(buf[:n])
		if err == io.EOF {
			return out.Bytes(), nil
		}
		if err != nil {
			return out.Bytes(), err
		}
		if ahead := time.Duration(float64(out.Len())/float64(rate)*float64(time.Second)) - time.Since(start); ahead > 0 {
			time.Sleep(ahead)
		}
	}
}
