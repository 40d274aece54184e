package txn

import (
	"errors"
	"testing"

	"github.com/aft-shim/aft/shim/store/mem"
)

// TestReserve: bytes reserved for request bodies and bytes in write buffers share one
// budget, MaxBufferedBytes, and a refused reservation charges nothing.
func TestReserve(t *testing.T) {
	m := newManager(t, mem.New(), Config{MaxValueSize: 10, MaxTxnBytes: 30, MaxBufferedBytes: 30})
	if err := m.Reserve("", 20); err != nil {
		t.Fatal(err)
	}
	if err := m.Reserve("", 11); !errors.Is(err, ErrBusy) {
		t.Errorf("reserving past the budget: %v, want ErrBusy", err)
	}
	id := begin(t, m, "")
	mustWrite(t, m, id, "k", "012345678") // 10 bytes with its key: the budget is full
	if err := m.Write(id, "l", []byte("0")); !errors.Is(err, ErrBusy) {
		t.Errorf("write with the budget held by reservations: %v, want ErrBusy", err)
	}
	m.Release("", 20)
	mustWrite(t, m, id, "l", "0")
	if err := m.Reserve("", 18); err != nil {
		t.Errorf("reserving what was released: %v", err)
	}
	m.Release("", 18)
	if _, err := m.Abort(ctx, id); err != nil {
		t.Fatal(err)
	}
	if got := m.buffered.Load(); got != 0 {
		t.Errorf("charged after every release and the abort: %d bytes, want 0", got)
	}
}
