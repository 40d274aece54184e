package middleware

import (
	"crypto/rand"
	"fmt"
	"net/http"

	"github.com/aft-shim/aft/api"
)

// MaxKeyBytes bounds an idempotency key (http-api.md).
const MaxKeyBytes = 256

// Identity names where the idempotency key of a request came from.
type Identity string

// The sources of an idempotency key, in the order they are looked for.
const (
	FromIdempotencyKey Identity = "idempotency-key"
	FromCallID         Identity = "call-id"
	FromCloudEvent     Identity = "cloudevent"
	FromRandom         Identity = "random"
)

// IdempotencyKey returns the idempotency key of r and where it came from: the
// Idempotency-Key header, else X-Call-Id, else Ce-Source and Ce-Id joined by a space (a
// CloudEvents source is a URI reference and holds no space), else a fresh random key. A
// header that is present counts, even when empty; a key that is empty, longer than
// MaxKeyBytes, holds control bytes, or comes in several headers is an error.
func IdempotencyKey(r *http.Request) (string, Identity, error) {
	for _, s := range []struct {
		header string
		from   Identity
	}{{api.HeaderIdempotencyKey, FromIdempotencyKey}, {api.HeaderCallID, FromCallID}} {
		if vs, ok := r.Header[s.header]; ok {
			if len(vs) != 1 {
				return "", s.from, fmt.Errorf("%w: %d %s headers, want one", errBadIdemKey, len(vs), s.header)
			}
			return vs[0], s.from, validKey(s.header, vs[0])
		}
	}
	src, okSrc := r.Header[api.HeaderCESource]
	id, okID := r.Header[api.HeaderCEID]
	if okSrc && okID {
		if len(src) != 1 || len(id) != 1 || src[0] == "" || id[0] == "" {
			return "", FromCloudEvent, fmt.Errorf("%w: want one non-empty %s and one non-empty %s", errBadIdemKey, api.HeaderCESource, api.HeaderCEID)
		}
		k := src[0] + " " + id[0]
		return k, FromCloudEvent, validKey(api.HeaderCESource+" and "+api.HeaderCEID, k)
	}
	return "aft-" + rand.Text(), FromRandom, nil
}

// validKey checks a key: 1..MaxKeyBytes bytes, none a control byte (the key travels to
// the shim in a header).
func validKey(what, k string) error {
	if len(k) == 0 || len(k) > MaxKeyBytes {
		return fmt.Errorf("%w: %s: keys are 1..%d bytes, got %d", errBadIdemKey, what, MaxKeyBytes, len(k))
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return fmt.Errorf("%w: %s: control byte 0x%02x at %d", errBadIdemKey, what, c, i)
		}
	}
	return nil
}
