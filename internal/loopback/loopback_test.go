package loopback

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestServeAndClose(t *testing.T) {
	s, err := Serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hi "+r.URL.Path) }))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") {
		t.Errorf("URL %q, want a loopback address", s.URL)
	}
	resp, err := http.Get(s.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "hi /x" {
		t.Errorf("answer %q, want %q", b, "hi /x")
	}
	s.Close()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	if _, err := c.Get(s.URL + "/x"); err == nil {
		t.Error("the server answered after Close")
	}
}
