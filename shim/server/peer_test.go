package server

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/aft-shim/aft/shim/peer"
	"github.com/aft-shim/aft/shim/record"
	"github.com/aft-shim/aft/shim/store/mem"
	"github.com/aft-shim/aft/shim/txn"
)

// A push of a commit that the store holds applies it; a record the store does not hold
// (forged, or of a commit that never landed) changes nothing; bytes that are not pushes
// are 400 bad_body; a node whose store is not shared answers 404.
func TestPeerCommits(t *testing.T) {
	ctx := context.Background()
	st := mem.New()
	cfg := func(node string) txn.Config {
		return txn.Config{Node: node, SyncInterval: time.Hour} // learns by pushes only
	}
	a, err := txn.New(ctx, st, cfg("a"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := txn.New(ctx, st, cfg("b"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	tsB := httptest.NewServer(New(b, prometheus.NewRegistry(), nil))
	defer tsB.Close()

	var pushed []byte
	a.SetPush(func(rec []byte, stamp uint64) { pushed = peer.Append(nil, peer.Commit{Stamp: stamp, Record: rec}) })
	info, _ := a.Begin(ctx, txn.BeginOptions{})
	a.Write(info.ID, "k", []byte("v"))
	if _, err := a.Commit(ctx, info.ID, nil); err != nil {
		t.Fatal(err)
	}
	forged := record.Record{Version: info.Version, Attempt: 1, Writes: []record.Write{{Key: "evil"}}}
	forged.Version.TS, forged.Version.Txn = 12345, "0123456789abcdef0123456789abcdef"
	if code, _, body := call(t, tsB, "POST", peer.Path, nil, string(peer.Append(nil, peer.Commit{Stamp: 1, Record: forged.Marshal()}))); code != 204 {
		t.Fatalf("push of a record the store does not hold: %d %s, want 204 (and nothing applied)", code, body)
	}
	if code, _, body := call(t, tsB, "POST", peer.Path, nil, string(pushed)); code != 204 {
		t.Fatalf("push: %d %s", code, body)
	}
	r, _ := b.Begin(ctx, txn.BeginOptions{})
	if got, err := b.Read(ctx, r.ID, "k"); err != nil || string(got.Value) != "v" {
		t.Fatalf("after the push, node b reads k = %q, %v", got.Value, err)
	}
	if got, _ := b.Read(ctx, r.ID, "evil"); got.Found {
		t.Fatal("a forged push made a write visible")
	}
	if code, _, body := call(t, tsB, "POST", peer.Path, nil, "\x05\xff"); code != 400 {
		t.Errorf("a bad push body: %d %s, want 400", code, body)
	}
	solo, _ := newServer(t, txn.Config{})
	if code, _, body := call(t, solo, "POST", peer.Path, nil, string(pushed)); code != 404 {
		t.Errorf("a push to a node whose store is not shared: %d %s, want 404", code, body)
	}
}
