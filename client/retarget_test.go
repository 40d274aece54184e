package client

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

func TestRetarget(t *testing.T) {
	a := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "a") }))
	defer a.Close()
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "b") }))
	defer b.Close()
	var rt Retarget
	hc := &http.Client{Transport: &rt}
	if _, err := hc.Get("http://shim/x"); err == nil {
		t.Error("a request before Set succeeded")
	}
	for _, srv := range []*httptest.Server{a, b} {
		u, _ := url.Parse(srv.URL)
		rt.Set(u.Host)
		resp, err := hc.Get("http://shim/x")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := map[*httptest.Server]string{a: "a", b: "b"}[srv]; string(body) != want {
			t.Errorf("after Set(%s): answered by %q, want %q", u.Host, body, want)
		}
	}
}
