package record

import (
	"fmt"
	"strings"
)

// Tenants are namespaces in the storage layout (http-api.md, "Callers and tenants"), so
// that no code path can mix two tenants' names up: every name a tenant gives, a key or an
// idempotency key, is stored as TenantName makes it, and every transaction id the shim
// makes for a tenant starts with the tenant's name (TenantID). The default tenant (the
// empty name) keeps names as they are: the data of a shim run before tenants existed, or
// without --auth-file, is the default tenant's, and stays readable as such.
//
// A tenant's name is stored as NUL, the tenant, NUL, the name: user keys hold no NUL
// (http-api.md), so no name one tenant gives can be another tenant's, nor the default
// tenant's. Storage keys encode names (EncodeKey), so NUL never reaches a store.

// DefaultTenant is the tenant of a shim without --auth-file, and the tenant an auth file
// names "default".
const DefaultTenant = ""

// MaxTenantSize is the longest tenant name.
const MaxTenantSize = 63

// ValidTenant reports whether name can name a tenant: 1..63 bytes of [a-z0-9-], starting
// and ending with a letter or digit (a DNS label, so it also fits a Kubernetes name and
// a metrics label), or DefaultTenant.
func ValidTenant(name string) error {
	if name == DefaultTenant {
		return nil
	}
	ok := len(name) <= MaxTenantSize && name[0] != '-' && name[len(name)-1] != '-'
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-'
	}
	if !ok {
		return fmt.Errorf("tenant %q: a tenant is 1..%d of a-z, 0-9 and '-', starting and ending with a letter or digit", name, MaxTenantSize)
	}
	return nil
}

// TenantName is how name, a key or an idempotency key tenant gave, is stored.
func TenantName(tenant, name string) string {
	if tenant == DefaultTenant {
		return name
	}
	return "\x00" + tenant + "\x00" + name
}

// SplitTenantName returns the tenant and the name TenantName stored as s.
func SplitTenantName(s string) (tenant, name string) {
	if len(s) == 0 || s[0] != 0 {
		return DefaultTenant, s
	}
	tenant, name, ok := strings.Cut(s[1:], "\x00")
	if !ok {
		return DefaultTenant, s // not made by TenantName; no user key holds NUL
	}
	return tenant, name
}

// TenantLastName sorts after every name stored for a tenant other than the default, and
// before every name of the default tenant (none starts with NUL).
const TenantLastName = "\x00\xff"

// TenantID is the id of a transaction of tenant whose id would be id without tenants.
func TenantID(tenant, id string) string {
	if tenant == DefaultTenant {
		return id
	}
	return tenant + "_" + id
}

// SplitTenantID returns the tenant of a transaction id TenantID made, and the rest.
func SplitTenantID(id string) (tenant, rest string) {
	if tenant, rest, ok := strings.Cut(id, "_"); ok && tenant != "" {
		return tenant, rest
	}
	return DefaultTenant, id
}
