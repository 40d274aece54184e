package txn

import (
	"errors"
	"testing"

	"github.com/aft-shim/aft/shim/record"
	"github.com/aft-shim/aft/shim/store/mem"
)

func beginAs(t *testing.T, m *Manager, tenant, idem string) Info {
	t.Helper()
	info, err := m.Begin(ctx, BeginOptions{Tenant: tenant, IdemKey: idem})
	if err != nil {
		t.Fatalf("Begin(%q, %q): %v", tenant, idem, err)
	}
	return info
}

// TestTenantsAreNamespaces: two tenants and the default one write the same key under the
// same idempotency key: three commits, three values, three stored results, and each
// tenant's listing holds its own keys alone.
func TestTenantsAreNamespaces(t *testing.T) {
	st := mem.New()
	m := newManager(t, st, Config{})
	for _, tenant := range []string{"", "a", "b"} {
		info := beginAs(t, m, tenant, "order-42")
		if got, _ := record.SplitTenantID(info.ID); got != tenant || !validID(info.ID) {
			t.Fatalf("tenant %q began %q", tenant, info.ID)
		}
		mustWrite(t, m, info.ID, "k", "by "+tenant)
		mustWrite(t, m, info.ID, "only-"+tenant, "x")
		if _, err := m.Commit(ctx, info.ID, []byte("result of "+tenant)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tenant := range []string{"", "a", "b"} {
		again := beginAs(t, m, tenant, "order-42")
		if again.Status != Committed || string(again.Result) != "result of "+tenant {
			t.Errorf("tenant %q: the committed key answered %+v, want its own result", tenant, again)
		}
		r := beginAs(t, m, tenant, "")
		if got := readString(t, m, r.ID, "k"); got != "by "+tenant {
			t.Errorf("tenant %q reads k = %q", tenant, got)
		}
		keys := m.Keys(tenant, "", "", 0)
		if len(keys) != 2 || keys[0] != "k" || keys[1] != "only-"+tenant {
			t.Errorf("tenant %q lists %q, want [k only-%s]", tenant, keys, tenant)
		}
		if got := m.Keys(tenant, "", "k", 0); len(got) != 1 || got[0] != "only-"+tenant {
			t.Errorf("tenant %q lists after k: %q", tenant, got)
		}
	}
	// After a restart, from the store alone.
	m.Close()
	m2 := newManager(t, st, Config{})
	r := beginAs(t, m2, "b", "")
	if got := readString(t, m2, r.ID, "k"); got != "by b" {
		t.Errorf("after recovery tenant b reads k = %q", got)
	}
}

// TestTenantIDsAreNotShared: the status of a finished transaction is not found under an
// id with another tenant's name and the same random part.
func TestTenantIDsAreNotShared(t *testing.T) {
	m := newManager(t, mem.New(), Config{})
	a := beginAs(t, m, "a", "")
	mustWrite(t, m, a.ID, "k", "v")
	mustCommit(t, m, a.ID)
	_, rest := record.SplitTenantID(a.ID)
	for _, other := range []string{rest, record.TenantID("b", rest)} {
		if info, err := m.Status(ctx, other); !errors.Is(err, ErrTxnNotFound) {
			t.Errorf("Status(%q) = %+v, %v; want not found (it is tenant a's %q)", other, info, err, a.ID)
		}
		if err := m.Write(other, "k", nil); !errors.Is(err, ErrTxnNotFound) {
			t.Errorf("Write(%q) = %v, want not found", other, err)
		}
	}
	if info, err := m.Status(ctx, a.ID); err != nil || info.Status != Committed {
		t.Errorf("Status of a's own id: %+v, %v", info, err)
	}
}

// TestTenantLimits: a tenant at its own limits gets ErrTenantBusy, the others go on, and
// what it held is given back when its transactions end.
func TestTenantLimits(t *testing.T) {
	m := newManager(t, mem.New(), Config{TenantMaxRunning: 2, TenantMaxBuffered: 100, MaxValueSize: 80})
	a1, a2 := beginAs(t, m, "a", ""), beginAs(t, m, "a", "")
	if _, err := m.Begin(ctx, BeginOptions{Tenant: "a"}); !errors.Is(err, ErrTenantBusy) {
		t.Errorf("a third begin of tenant a: %v, want ErrTenantBusy", err)
	}
	b := beginAs(t, m, "b", "")
	mustWrite(t, m, a1.ID, "k", string(make([]byte, 70)))
	if err := m.Write(a2.ID, "l", make([]byte, 40)); !errors.Is(err, ErrTenantBusy) {
		t.Errorf("tenant a past its buffered bytes: %v, want ErrTenantBusy", err)
	}
	if err := m.Reserve("a", 40); !errors.Is(err, ErrTenantBusy) {
		t.Errorf("a body of tenant a past its bytes: %v, want ErrTenantBusy", err)
	}
	mustWrite(t, m, b.ID, "k", string(make([]byte, 70)))
	if _, err := m.Abort(ctx, a1.ID); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, m, a2.ID, "l", string(make([]byte, 40)))
	beginAs(t, m, "a", "")
	if _, err := m.Abort(ctx, a2.ID); err != nil {
		t.Fatal(err)
	}
	if got := m.tenant("a").buffered.Load(); got != 0 {
		t.Errorf("tenant a still charged %d bytes with nothing buffered", got)
	}
}
