package dlq

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aft-shim/aft/shim/shimtest"

	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/shim/store/mem"
	"github.com/aft-shim/aft/shim/txn"
	"github.com/google/go-cmp/cmp"
)

func newShim(t *testing.T, cfg txn.Config) *client.Client {
	ts, _ := shimtest.StartStore(t, mem.New(), cfg)
	return client.New(ts.URL)
}

func TestDlq(t *testing.T) {
	ctx := context.Background()
	c := newShim(t, txn.Config{MaxValueSize: 2048})
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	entry := func(key, body string) Entry {
		return Entry{Key: key, Function: "f", LastError: "boom", Attempts: 3, Time: at,
			Request: Request{Method: "POST", URL: "/p?q=1", Header: http.Header{"X-A": {"1"}}, Body: []byte(body)}}
	}
	// Keys with any bytes, including '/', and one whose body is over the value limit.
	for _, e := range []Entry{entry("a/b", "one"), entry("ключ", "two"), entry("big", strings.Repeat("x", 4096))} {
		if err := Put(ctx, c, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := Put(ctx, c, entry("a/b", "one again")); err != nil { // replaces
		t.Fatal(err)
	}
	got, err := List(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	big := entry("big", "")
	big.Request.Body, big.Request.BodyOmitted = nil, true
	want := map[string]Entry{"a/b": entry("a/b", "one again"), "ключ": entry("ключ", "two"), "big": big}
	if len(got) != len(want) {
		t.Fatalf("listed %d entries, want %d", len(got), len(want))
	}
	for _, e := range got {
		if diff := cmp.Diff(want[e.Key], e); diff != "" {
			t.Errorf("entry %q (-want +got):\n%s", e.Key, diff)
		}
	}
	if _, err := Replay(ctx, c, "http://127.0.0.1:1", big, ReplayOptions{}); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("replay of an entry without body: %v", err)
	}
	if err := Delete(ctx, c, "a/b"); err != nil {
		t.Fatal(err)
	}
	if err := Delete(ctx, c, "never there"); err != nil {
		t.Errorf("delete of a missing entry: %v", err)
	}
	if _, err := Get(ctx, c, "a/b"); !errors.Is(err, ErrNotFound) {
		t.Errorf("get after delete: %v", err)
	}
	if e, err := Get(ctx, c, "ключ"); err != nil || e.Key != "ключ" {
		t.Errorf("get: %+v, %v", e, err)
	}
	if got, _ := List(ctx, c); len(got) != 2 {
		t.Errorf("%d entries after a delete, want 2", len(got))
	}
	if !strings.HasPrefix(Key("a/b"), Prefix) || strings.Contains(strings.TrimPrefix(Key("a/b"), Prefix), "/") {
		t.Errorf("Key(a/b) = %q", Key("a/b"))
	}
}

// TestListPages: more entries than one page of the shim's key listing.
func TestListPages(t *testing.T) {
	ctx := context.Background()
	c := newShim(t, txn.Config{})
	const n = 1005 // the shim lists 1,000 keys a page
	for i := range n {
		if err := Put(ctx, c, Entry{Key: fmt.Sprintf("k%04d", i), Attempts: 1}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := List(ctx, c)
	if err != nil || len(got) != n {
		t.Fatalf("listed %d, %v; want %d", len(got), err, n)
	}
}

func TestStoredHeader(t *testing.T) {
	h := http.Header{"Authorization": {"x"}, "Cookie": {"c"}, "X-Aft-Txn-Id": {"t"}, "Connection": {"close"},
		"Idempotency-Key": {"k"}, "Content-Type": {"a/b"}}
	want := http.Header{"Idempotency-Key": {"k"}, "Content-Type": {"a/b"}}
	if diff := cmp.Diff(want, StoredHeader(h)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
