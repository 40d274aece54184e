package server

import (
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/aft-shim/aft/api/apitest"
	"github.com/aft-shim/aft/shim/txn"
)

// TestErrorBodyText: an error whose text holds what the caller sent (here an unknown
// transaction id with quotes, newlines, non-ASCII or bytes that are not UTF-8) is still a
// valid JSON error body with both fields.
func TestErrorBodyText(t *testing.T) {
	ts, _ := newServer(t, txn.Config{})
	for _, text := range apitest.Texts {
		if text == "" {
			continue
		}
		t.Run(text, func(t *testing.T) {
			resp, err := ts.Client().Get(ts.URL + "/v1/txns/" + url.PathEscape(text))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("status %d %s, want 404", resp.StatusCode, b)
			}
			if e := apitest.ErrorBody(t, b); e.Code != "txn_not_found" {
				t.Errorf("code %q, want txn_not_found", e.Code)
			}
		})
	}
}
