package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/aft-shim/aft/shim/store"
	"github.com/aft-shim/aft/shim/store/bolt"
	"github.com/aft-shim/aft/shim/txn"
	"github.com/prometheus/client_golang/prometheus"
)

// slowCommit is the embedded store with a commit that takes a while: it tells when a commit
// reached it, then waits until its context ends (the caller left) or half a second passed.
type slowCommit struct {
	*bolt.Store
	entered chan struct{}
}

func (s slowCommit) PutCreate(ctx context.Context, items []store.Item, key string, value []byte) error {
	s.entered <- struct{}{}
	select {
	case <-ctx.Done():
	case <-time.After(500 * time.Millisecond):
	}
	return s.Store.PutCreate(ctx, items, key, value)
}

// Issue 15, item 3: a client that drops its connection in the middle of a commit on the
// embedded store leaves no commit of unknown outcome behind: the commit runs to its end, and
// its writes are visible at once.
func TestCommitOfADroppedConnection(t *testing.T) {
	bs, err := bolt.Open(filepath.Join(t.TempDir(), "aft.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bs.Close() })
	st := slowCommit{Store: bs, entered: make(chan struct{}, 1)}
	m, err := txn.New(ctx, st, txn.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(New(m, prometheus.NewRegistry(), nil))
	t.Cleanup(func() { ts.Close(); m.Close() })

	code, _, b := call(t, ts, "POST", "/v1/txns", map[string]string{"Idempotency-Key": "dropped"}, "")
	var began struct{ ID string }
	if err := json.Unmarshal(b, &began); code != 201 || err != nil {
		t.Fatalf("begin = %d %s", code, b)
	}
	id := began.ID
	if code, _, b := call(t, ts, "PUT", "/v1/txns/"+id+"/keys/k", nil, "v"); code != 204 {
		t.Fatalf("write = %d %s", code, b)
	}

	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST /v1/txns/%s/commit HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", id)
	select {
	case <-st.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the commit never reached the store")
	}
	conn.Close() // the client is gone while its commit is in the store

	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := m.Status(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if info.Status != txn.Running {
			if info.Status != txn.Committed {
				t.Fatalf("status after the caller left mid-commit = %s, want committed", info.Status)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the commit of a caller that left is still running after 10s: its outcome is unknown")
		}
		time.Sleep(10 * time.Millisecond)
	}
	r := beginID(t, ts)
	if code, _, b := call(t, ts, "GET", "/v1/txns/"+r+"/keys/k", nil, ""); code != 200 || string(b) != "v" {
		t.Errorf("read k = %d %q, want 200 v", code, b)
	}
	if code, _, b := call(t, ts, "POST", "/v1/txns", map[string]string{"Idempotency-Key": "dropped"}, ""); code != 200 {
		t.Errorf("begin with the key = %d %s, want 200 committed", code, b)
	}
}
