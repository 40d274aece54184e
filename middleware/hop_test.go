package middleware

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/aft-shim/aft/api"
	"github.com/aft-shim/aft/api/apitest"
)

// failing is a transport that fails every request with err.
type failing struct{ err error }

func (f failing) RoundTrip(*http.Request) (*http.Response, error) { return nil, f.err }

// TestHopUnreachable: a target that gives no answer is answered 502 with a valid JSON
// error body, code upstream_unreachable, whatever the error's text holds.
func TestHopUnreachable(t *testing.T) {
	target, _ := url.Parse("http://127.0.0.1:1/fn")
	for _, text := range apitest.Texts {
		t.Run(text, func(t *testing.T) {
			hop := NewHop(target, HopOptions{Transport: failing{errors.New(text)}})
			w := httptest.NewRecorder()
			hop.ServeHTTP(w, httptest.NewRequest("POST", "/x", strings.NewReader("body")))
			if w.Code != http.StatusBadGateway {
				t.Errorf("status %d, want 502", w.Code)
			}
			e := apitest.ErrorBody(t, w.Body.Bytes())
			if e.Code != api.CodeUpstreamUnreachable || !strings.HasPrefix(e.Error, "function: ") {
				t.Errorf("body %+v, want code %s and an error starting with \"function: \"", e, api.CodeUpstreamUnreachable)
			}
		})
	}
	// A real refused connection, with the plugin's prefix.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	down, _ := url.Parse("http://" + addr)
	w := httptest.NewRecorder()
	NewHop(down, HopOptions{ErrorPrefix: "the provider"}).ServeHTTP(w, httptest.NewRequest("GET", "/function/f", nil))
	if e := apitest.ErrorBody(t, w.Body.Bytes()); w.Code != 502 || e.Code != api.CodeUpstreamUnreachable || !strings.HasPrefix(e.Error, "the provider: ") {
		t.Errorf("refused: %d %+v, want 502 upstream_unreachable from the provider", w.Code, e)
	}
}

// TestHopRewrite: the path and query join the target's; Host and X-Forwarded-* as the
// options say.
func TestHopRewrite(t *testing.T) {
	var got *http.Request
	fn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Clone(r.Context())
		io.WriteString(w, "ok")
	}))
	t.Cleanup(fn.Close)
	target, _ := url.Parse(fn.URL + "/base")
	for _, tc := range []struct {
		name             string
		o                HopOptions
		wantHost         string
		wantForwardedFor bool
	}{
		{"proxy", HopOptions{XForwarded: true}, target.Host, true},
		{"plugin", HopOptions{KeepHost: true}, "gateway.example:8080", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "http://gateway.example:8080/function/f?a=1", nil)
			req.Header.Set("X-Forwarded-For", "10.0.0.1")
			req.Header.Set(api.HeaderTxnID, "t1")
			w := httptest.NewRecorder()
			NewHop(target, tc.o).ServeHTTP(w, req)
			if w.Code != 200 || got == nil {
				t.Fatalf("status %d", w.Code)
			}
			if got.URL.Path != "/base/function/f" || got.URL.RawQuery != "a=1" || got.Host != tc.wantHost {
				t.Errorf("function got %s %s?%s host %s, want /base/function/f?a=1 host %s", got.Method, got.URL.Path, got.URL.RawQuery, got.Host, tc.wantHost)
			}
			if ff := got.Header.Get("X-Forwarded-For"); (ff != "") != tc.wantForwardedFor {
				t.Errorf("X-Forwarded-For %q, want set: %v", ff, tc.wantForwardedFor)
			}
			if got.Header.Get(api.HeaderTxnID) != "t1" {
				t.Errorf("transaction id not passed on: %v", got.Header)
			}
		})
	}
}

// TestErrorAnswerText: every error answer of the middleware is a valid JSON error body,
// whatever the error's text holds.
func TestErrorAnswerText(t *testing.T) {
	for _, text := range apitest.Texts {
		for _, err := range []error{fmt.Errorf("%w: %s", errKeyReused, text), errors.New(text)} {
			a := errorAnswer(err, 1)
			if a.header.Get("Content-Type") != "application/json" {
				t.Errorf("%v: content type %q", err, a.header.Get("Content-Type"))
			}
			apitest.ErrorBody(t, a.body)
		}
	}
}
