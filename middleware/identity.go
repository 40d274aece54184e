package middleware

import (
	"crypto/rand"
	"fmt"
	"net/http"
)

// Headers of the middleware contract (spec/middleware.md), and of the identity of a
// request.
const (
	// HeaderTxnID carries the attempt's transaction id to the function; on an inbound
	// request, it makes the call join that transaction (a nested call).
	HeaderTxnID = "X-Aft-Txn-Id"
	// HeaderShim carries the shim's base URL to the function.
	HeaderShim = "X-Aft-Shim"
	// HeaderAttempt carries the attempt's number (1, 2, ...) to the function (an addition
	// to the contract).
	HeaderAttempt = "X-Aft-Attempt"
	// HeaderReplayed is "true" on an answer that is the stored result of an earlier
	// committed attempt: nothing ran for this request.
	HeaderReplayed = "X-Aft-Replayed"
	// HeaderAttempts is the number of attempts the answer took (for a stored result, the
	// number of the attempt that committed; 0 when no attempt ran).
	HeaderAttempts = "X-Aft-Attempts"
	// HeaderBodyOmitted is "true" on a stored answer whose body was too large to store
	// (an addition to the contract; see Result.BodyOmitted).
	HeaderBodyOmitted = "X-Aft-Body-Omitted"

	// HeaderIdempotencyKey is the caller's idempotency key, first in the identity order.
	HeaderIdempotencyKey = "Idempotency-Key"
	// HeaderCallID is OpenFaaS's call id, kept across queue-worker retries.
	HeaderCallID = "X-Call-Id"
	// HeaderCESource and HeaderCEID identify a CloudEvent in binary mode.
	HeaderCESource = "Ce-Source"
	HeaderCEID     = "Ce-Id"
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
	}{{HeaderIdempotencyKey, FromIdempotencyKey}, {HeaderCallID, FromCallID}} {
		if vs, ok := r.Header[s.header]; ok {
			if len(vs) != 1 {
				return "", s.from, fmt.Errorf("%w: %d %s headers, want one", errBadIdemKey, len(vs), s.header)
			}
			return vs[0], s.from, validKey(s.header, vs[0])
		}
	}
	src, okSrc := r.Header[HeaderCESource]
	id, okID := r.Header[HeaderCEID]
	if okSrc && okID {
		if len(src) != 1 || len(id) != 1 || src[0] == "" || id[0] == "" {
			return "", FromCloudEvent, fmt.Errorf("%w: want one non-empty Ce-Source and one non-empty Ce-Id", errBadIdemKey)
		}
		k := src[0] + " " + id[0]
		return k, FromCloudEvent, validKey("Ce-Source and Ce-Id", k)
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
