package lease

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/aft-shim/aft/shim/record"
	"github.com/aft-shim/aft/shim/store"
	"github.com/aft-shim/aft/shim/store/mem"
)

var ctx = context.Background()

// rival puts another node's record right after each Put of the lease: a node that took the
// same expired lease over at the same moment, whose Put landed last.
type rival struct {
	store.Store
	holder Holder
}

func (r *rival) Put(ctx context.Context, items []store.Item) error {
	if err := r.Store.Put(ctx, items); err != nil {
		return err
	}
	b, _ := json.Marshal(r.holder)
	return r.Store.Put(ctx, []store.Item{{Key: record.LeaseKey, Value: b}})
}

// Of two nodes taking over one expired lease at once, the one whose Put landed first
// refuses, naming the other.
func TestTakeoverRace(t *testing.T) {
	st := mem.New()
	old := time.Now().Add(-time.Hour)
	if _, err := Acquire(ctx, st, Options{Node: "dead", Now: func() time.Time { return old }}); err != nil {
		t.Fatal(err)
	}
	r := &rival{Store: st, holder: Holder{Node: "b", Instance: "bbbb", Expires: time.Now().Add(time.Minute)}}
	_, err := Acquire(ctx, r, Options{Node: "a", Settle: time.Millisecond})
	var held *HeldError
	if !errors.As(err, &held) || held.Holder.Node != "b" {
		t.Fatalf("takeover that lost the race: %v, want refused naming b", err)
	}
}

// Renew keeps the lease and reports a takeover; Release leaves another node's lease alone.
func TestRenewAndRelease(t *testing.T) {
	st := mem.New()
	now := time.Now()
	clock := func() time.Time { return now }
	l, err := Acquire(ctx, st, Options{Node: "a", Time: 10 * time.Second, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(8 * time.Second)
	if err := l.Renew(ctx); err != nil || !l.Valid(now.Add(9*time.Second)) {
		t.Fatalf("renew: %v, valid %v", err, l.Valid(now.Add(9*time.Second)))
	}
	st.Delete(ctx, []string{record.LeaseKey}) // by hand
	if err := l.Renew(ctx); err != nil {
		t.Fatalf("renew of a deleted lease: %v", err)
	}
	now = now.Add(time.Minute) // a's renewals stopped; b takes over
	if _, err := Acquire(ctx, st, Options{Node: "b", Now: clock, Settle: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if l.Valid(now) {
		t.Error("lease valid past its expiry")
	}
	if err := l.Renew(ctx); !errors.Is(err, ErrLost) {
		t.Errorf("renew after a takeover: %v, want ErrLost", err)
	}
	l.Release(ctx)
	if b, err := st.Get(ctx, record.LeaseKey); err != nil {
		t.Errorf("release removed b's lease: %q, %v", b, err)
	}
}

// A damaged record keeps nodes out with an error that says what to do.
func TestDamagedRecord(t *testing.T) {
	st := mem.New()
	st.Put(ctx, []store.Item{{Key: record.LeaseKey, Value: []byte("{")}})
	if _, err := Acquire(ctx, st, Options{Node: "a"}); err == nil {
		t.Fatal("acquired over a damaged record")
	}
}
