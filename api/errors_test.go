package api_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aft-shim/aft/api"
	"github.com/aft-shim/aft/api/apitest"
)

// TestWriteError: every text makes a valid error body that decodes to the text (bytes
// that are not UTF-8 become U+FFFD), with the status, Content-Type and Content-Length.
func TestWriteError(t *testing.T) {
	for _, text := range apitest.Texts {
		t.Run(text, func(t *testing.T) {
			w := httptest.NewRecorder()
			w.Header().Set("Retry-After", "1")
			api.WriteError(w, http.StatusServiceUnavailable, "shim_unavailable", text)
			if w.Code != http.StatusServiceUnavailable {
				t.Errorf("status %d, want 503", w.Code)
			}
			h := w.Header()
			if h.Get("Content-Type") != "application/json" || h.Get("Retry-After") != "1" || h.Get("Content-Length") != strconv.Itoa(w.Body.Len()) {
				t.Errorf("headers %v", h)
			}
			e := apitest.ErrorBody(t, w.Body.Bytes())
			if e.Code != "shim_unavailable" || utf8.ValidString(text) && e.Error != text {
				t.Errorf("decoded %+v, want error %q code shim_unavailable", e, text)
			}
			if !utf8.ValidString(text) && e.Error != strings.ToValidUTF8(e.Error, "?") {
				t.Errorf("decoded error %q is not UTF-8", e.Error)
			}
		})
	}
}

// TestErrorBodyFenced: the fields of a fenced commit appear only when set.
func TestErrorBodyFenced(t *testing.T) {
	if got := string(api.ErrorBody{Error: "e", Code: "c"}.JSON()); got != `{"error":"e","code":"c"}` {
		t.Errorf("plain body %s", got)
	}
	r := "cmVz"
	got := string(api.ErrorBody{Error: "e", Code: "fenced", Winner: "w", Result: &r}.JSON())
	if want := `{"error":"e","code":"fenced","winner":"w","result":"cmVz"}`; got != want {
		t.Errorf("fenced body %s, want %s", got, want)
	}
}
