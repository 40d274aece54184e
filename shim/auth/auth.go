// Package auth checks the bearer tokens of the shim's callers (http-api.md, "Callers and
// tenants"): an auth file holds, one per line, a tenant and the SHA-256 of a token of
// it, so that the file names who may call without holding anything a reader of it could
// call with. A token is checked in constant time against every line, and the file is
// re-read when it changes (a Kubernetes Secret update), the new table swapped in whole, so
// that no request sees half of it or waits for it.
package auth

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/aft-shim/aft/shim/record"
)

// DefaultName is how an auth file names record.DefaultTenant: the tenant that owns the data
// a shim stored before it had an auth file.
const DefaultName = "default"

// MaxFileSize bounds an auth file.
const MaxFileSize = 1 << 20

// Entry is one line of an auth file.
type Entry struct {
	Tenant string // record.DefaultTenant for DefaultName
	Hash   [sha256.Size]byte
}

// Table is a parsed auth file. The zero Table lets no one in.
type Table struct {
	entries []Entry
	tenants []string // distinct, in the order of the file
}

// Parse reads an auth file: one "TENANT SHA256-HEX-OF-TOKEN" per line, blank lines and
// everything after a '#' ignored. Errors name the line.
func Parse(r io.Reader) (*Table, error) {
	t := &Table{}
	seen := map[string]bool{}
	hashes := map[[sha256.Size]byte]bool{}
	sc := bufio.NewScanner(io.LimitReader(r, MaxFileSize+1))
	sc.Buffer(make([]byte, 4096), MaxFileSize+1)
	read := 0
	for n := 1; sc.Scan(); n++ {
		read += len(sc.Bytes()) + 1
		if read > MaxFileSize+1 {
			return nil, fmt.Errorf("auth file is over %d bytes", MaxFileSize)
		}
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if len(fields) != 2 {
			return nil, fmt.Errorf("auth file line %d: want \"TENANT SHA256-HEX-OF-TOKEN\", got %d fields (aft token new TENANT prints a line)", n, len(fields))
		}
		tenant := fields[0]
		if tenant == DefaultName {
			tenant = record.DefaultTenant
		} else if err := record.ValidTenant(tenant); err != nil {
			return nil, fmt.Errorf("auth file line %d: %w", n, err)
		}
		var e Entry
		if len(fields[1]) != 2*sha256.Size {
			return nil, fmt.Errorf("auth file line %d: the hash is %d characters, want the %d hex digits of a SHA-256 (of the token, not the token)", n, len(fields[1]), 2*sha256.Size)
		}
		if _, err := hex.Decode(e.Hash[:], []byte(strings.ToLower(fields[1]))); err != nil {
			return nil, fmt.Errorf("auth file line %d: the hash is not hex: %v", n, err)
		}
		if hashes[e.Hash] {
			return nil, fmt.Errorf("auth file line %d: the same token hash is on an earlier line: a token belongs to one tenant", n)
		}
		hashes[e.Hash] = true
		e.Tenant = tenant
		t.entries = append(t.entries, e)
		if !seen[tenant] {
			seen[tenant] = true
			t.tenants = append(t.tenants, tenant)
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("auth file is over %d bytes", MaxFileSize)
		}
		return nil, fmt.Errorf("read auth file: %w", err)
	}
	return t, nil
}

// Tenant returns the tenant of token, comparing its hash with every entry in constant
// time, whatever entry matches.
func (t *Table) Tenant(token string) (tenant string, ok bool) {
	if t == nil || token == "" {
		return "", false
	}
	h := sha256.Sum256([]byte(token))
	found := -1
	for i := range t.entries {
		if subtle.ConstantTimeCompare(h[:], t.entries[i].Hash[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return "", false
	}
	return t.entries[found].Tenant, true
}

// Tenants returns the tenants of the table, each once (record.DefaultTenant for
// DefaultName).
func (t *Table) Tenants() []string {
	if t == nil {
		return nil
	}
	return t.tenants
}

// Len returns how many tokens the table holds.
func (t *Table) Len() int {
	if t == nil {
		return 0
	}
	return len(t.entries)
}

// BearerToken returns the token of an Authorization header value "Bearer TOKEN" (the
// scheme in any case, RFC 7235), or false.
func BearerToken(h string) (string, bool) {
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimLeft(token, " ")
	if token == "" || strings.ContainsAny(token, " \t") {
		return "", false
	}
	return token, true
}

// NewToken returns a fresh random token: 32 bytes from crypto/rand, base64url.
func NewToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return "aft_" + base64.RawURLEncoding.EncodeToString(b[:])
}

// Line returns the auth file line of token for tenant.
func Line(tenant, token string) string {
	h := sha256.Sum256([]byte(token))
	return tenant + " " + hex.EncodeToString(h[:])
}

// parseBytes parses b, an auth file's content.
func parseBytes(b []byte) (*Table, error) { return Parse(bytes.NewReader(b)) }
