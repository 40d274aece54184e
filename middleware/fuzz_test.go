package middleware

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/aft-shim/aft/api"
)

// FuzzMiddleware sends requests with random methods, paths, headers, bodies and function
// statuses through the middleware, over the real shim, and checks what holds for every
// answer: X-Aft-Attempts within bounds, the JSON error shape for the middleware's own
// errors, the function's answer passed on, and never shim_unavailable (the shim is up).
func FuzzMiddleware(f *testing.F) {
	f.Add("POST", "/", "Idempotency-Key", "k1", []byte("body"), uint16(200))
	f.Add("GET", "/a?b=c", "X-Call-Id", "call", []byte{}, uint16(500))
	f.Add("PUT", "/x", "Ce-Id", "1", []byte("event"), uint16(404))
	f.Add("DELETE", "/", "Idempotency-Key", "", []byte(nil), uint16(201))
	f.Add("POST", "/", "Idempotency-Key", "k1", []byte("other body"), uint16(200))
	f.Add("PATCH", "/", "X-Aft-Txn-Id", "nope", []byte("x"), uint16(200))
	f.Add("HEAD", "/", "Idempotency-Key", "\x01", []byte("x"), uint16(429))
	f.Add("POST", "//..", "Idempotency-Key", string(bytes.Repeat([]byte{0xff}, 300)), []byte("x"), uint16(302))

	shimURL, shim := newShim(f)
	fn := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, _ := strconv.Atoi(r.Header.Get("X-Fuzz-Status"))
		if r.Header.Get(api.HeaderTxnID) == "" || r.Header.Get(api.HeaderShim) != shimURL {
			status = 599 // never: the function runs only in a transaction
		}
		w.Header().Set("X-Fuzz-Echo", "1")
		w.WriteHeader(status)
		io.Copy(w, r.Body)
	})
	mw, err := New(Config{ShimURL: shimURL, Client: shim, Options: Options{Function: "fuzz", Attempts: 2,
		AttemptTimeout: 5 * time.Second, BackoffBase: time.Microsecond, BackoffMax: time.Microsecond, MaxRequestBytes: 1 << 10}}, nil, fn)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, method, path, hname, hvalue string, body []byte, status uint16) {
		fnStatus := 200 + int(status)%399 // 200..598 (599 flags a call without a transaction)
		req := (&http.Request{Method: method, URL: &url.URL{Path: path}, Header: http.Header{}, Host: "fuzz",
			Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body))}).WithContext(context.Background())
		req.Header[http.CanonicalHeaderKey(hname)] = []string{hvalue}
		req.Header.Set("X-Fuzz-Status", strconv.Itoa(fnStatus))
		rec := httptest.NewRecorder()
		mw.ServeHTTP(rec, req)

		n, err := strconv.Atoi(rec.Header().Get(api.HeaderAttempts))
		if http.CanonicalHeaderKey(hname) != api.HeaderTxnID && (err != nil || n < 0 || n > 2) {
			t.Fatalf("%s %q", api.HeaderAttempts, rec.Header().Get(api.HeaderAttempts))
		}
		if rec.Code == 599 {
			t.Fatal("the function ran without a transaction")
		}
		if rec.Header().Get("X-Fuzz-Echo") == "" { // the middleware's own answer
			if method == http.MethodHead {
				return // no body to check
			}
			var e struct{ Error, Code string }
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Code == "" || e.Error == "" {
				t.Fatalf("answer %d %q is not the JSON error shape", rec.Code, rec.Body.Bytes())
			}
			if e.Code == api.CodeShimUnavailable || e.Code == "internal" {
				t.Fatalf("answer %d %s: %s", rec.Code, e.Code, e.Error)
			}
			return
		}
		if rec.Header().Get(api.HeaderReplayed) == "" && rec.Code != fnStatus {
			t.Fatalf("answer %d, the function answered %d", rec.Code, fnStatus)
		}
		if rec.Code != http.StatusNoContent && rec.Code != http.StatusNotModified && method != http.MethodHead &&
			rec.Header().Get(api.HeaderReplayed) == "" && !bytes.Equal(rec.Body.Bytes(), body) {
			t.Fatalf("body %q, the function echoed %q", rec.Body.Bytes(), body)
		}
	})
}
