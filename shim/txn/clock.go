package txn

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"

	"github.com/aft-shim/aft/shim/record"
)

// hlc hands out commit timestamps: wall-clock nanoseconds, but strictly increasing on one
// node even when the clock steps back, and above every timestamp seen at recovery.
type hlc struct {
	mu   sync.Mutex
	last uint64
	now  func() time.Time
}

func (c *hlc) next() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := uint64(c.now().UnixNano())
	if t <= c.last {
		t = c.last + 1
	}
	c.last = t
	return t
}

// observe makes later timestamps exceed ts.
func (c *hlc) observe(ts uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ts > c.last {
		c.last = ts
	}
}

// newID returns a random transaction id: 32 lowercase hex digits.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// validID reports whether s could be an id Begin made: newID's, after a tenant's name
// (record.TenantID); other strings are never looked up.
func validID(s string) bool {
	tenant, s := record.SplitTenantID(s)
	if tenant != record.DefaultTenant && record.ValidTenant(tenant) != nil {
		return false
	}
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
