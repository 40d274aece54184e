package record

import (
	"strings"
	"testing"
)

func TestTenantNames(t *testing.T) {
	for _, tc := range []struct {
		tenant, name string
	}{{"", "k"}, {"a", "k"}, {"team-7", ""}, {"a", "\x00b\x00c"}, {"", "a_b"}} {
		s := TenantName(tc.tenant, tc.name)
		if tenant, name := SplitTenantName(s); tenant != tc.tenant || name != tc.name {
			t.Errorf("SplitTenantName(TenantName(%q, %q)) = %q, %q", tc.tenant, tc.name, tenant, name)
		}
		if tc.tenant != DefaultTenant && s >= TenantLastName {
			t.Errorf("TenantName(%q, %q) sorts after TenantLastName", tc.tenant, tc.name)
		}
	}
	// No name a tenant gives (no NUL in it) is another tenant's stored name.
	if TenantName("a", "b") == TenantName("", "\x00a\x00b") && strings.IndexByte("\x00a\x00b", 0) < 0 {
		t.Error("unreachable")
	}
	if TenantName("ab", "c") == TenantName("a", "bc") {
		t.Error("tenants ab and a share a name")
	}
	if "\x01" <= TenantLastName || "" > TenantLastName {
		t.Error("the default tenant's names (no leading NUL) must sort after TenantLastName")
	}
}

func TestTenantIDs(t *testing.T) {
	id := strings.Repeat("a", 32)
	for _, tenant := range []string{"", "x", "team-7"} {
		tid := TenantID(tenant, id)
		if got, rest := SplitTenantID(tid); got != tenant || rest != id {
			t.Errorf("SplitTenantID(%q) = %q, %q", tid, got, rest)
		}
	}
	if tenant, rest := SplitTenantID("_" + id); tenant != DefaultTenant || rest != "_"+id {
		t.Errorf("an id with an empty tenant: %q, %q; want it the default tenant's, whole", tenant, rest)
	}
}

func TestValidTenant(t *testing.T) {
	for _, ok := range []string{"", "a", "team-7", "0", strings.Repeat("a", 63)} {
		if err := ValidTenant(ok); err != nil {
			t.Errorf("ValidTenant(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"A", "-a", "a-", "a_b", "a.b", "a b", strings.Repeat("a", 64), "\x00", "ü"} {
		if ValidTenant(bad) == nil {
			t.Errorf("ValidTenant(%q) = nil, want an error", bad)
		}
	}
}
