package middleware

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/aft-shim/aft/api"
)

// Errors of the middleware, mapped to answers only by fail.
var (
	errBadIdemKey      = errors.New("bad idempotency key")
	errBadVersion      = errors.New("bad version")
	errNotCaughtUp     = errors.New("the shim did not catch up with the commit asked for")
	errBadBody         = errors.New("reading the request body failed")
	errRequestTooLarge = errors.New("request body too large")
	errKeyReused       = errors.New("idempotency key reused with another request")
	errInProgress      = errors.New("a request with this idempotency key is in progress")
	errShimUnavailable = errors.New("shim unavailable")
	errTxnNotFound     = errors.New("transaction not found")
	errTxnNotRunning   = errors.New("transaction not running")
	errAttemptTimeout  = errors.New("attempt timed out")
	errFunctionFailed  = errors.New("function failed")
	errResponseLarge   = errors.New("response too large")
	errCallerGone      = errors.New("caller gone")
	// errRelayRefused is in relay.go.
)

var codes = []struct {
	err    error
	status int
	code   string
}{
	{errBadIdemKey, http.StatusBadRequest, api.CodeBadIdempotencyKey},
	{errBadVersion, http.StatusBadRequest, api.CodeBadVersion},
	{errNotCaughtUp, http.StatusServiceUnavailable, api.CodeNotCaughtUp},
	{errBadBody, http.StatusBadRequest, api.CodeBadBody},
	{errRequestTooLarge, http.StatusRequestEntityTooLarge, api.CodeRequestTooLarge},
	{errKeyReused, http.StatusUnprocessableEntity, api.CodeIdempotencyKeyReused},
	{errInProgress, http.StatusConflict, api.CodeRequestInProgress},
	{errShimUnavailable, http.StatusServiceUnavailable, api.CodeShimUnavailable},
	{errTxnNotFound, http.StatusNotFound, api.CodeTxnNotFound},
	{errTxnNotRunning, http.StatusConflict, api.CodeTxnNotRunning},
	{errAttemptTimeout, http.StatusGatewayTimeout, api.CodeAttemptTimeout},
	{errResponseLarge, http.StatusBadGateway, api.CodeResponseTooLarge},
	{errFunctionFailed, http.StatusBadGateway, api.CodeFunctionFailed},
	{errRelayRefused, http.StatusForbidden, api.CodeRelayRefused},
}

// classify returns the status and code that answer err.
func classify(err error) (status int, code string) {
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return c.status, c.code
		}
	}
	return http.StatusInternalServerError, api.CodeInternal
}

// errOutcome names how a request that ended in err went, for the invocations metric.
func errOutcome(err error) string {
	switch status, _ := classify(err); {
	case errors.Is(err, errCallerGone):
		return "gone"
	case status == http.StatusServiceUnavailable:
		return "unavailable"
	case status < 500:
		return "rejected"
	}
	return "failed"
}

// errorAnswer returns the answer to err.
func errorAnswer(err error, attempts int) *answer {
	status, code := classify(err)
	b := api.ErrorBody{Error: err.Error(), Code: code}.JSON()
	h := http.Header{"Content-Type": {"application/json"}}
	if status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "1")
	}
	return &answer{status: status, header: h, body: b, attempts: attempts}
}

// answer is what the caller gets.
type answer struct {
	status   int
	header   http.Header
	body     []byte
	attempts int
	// committed: the result of a committed attempt; replayed: and nothing ran for this
	// request; omitted: the stored body was omitted (too large).
	committed, replayed, omitted bool
	version                      string // of the commit, when known
}

// resultAnswer returns the answer that r, the result of a committed attempt, gives.
func resultAnswer(r Result) *answer {
	return &answer{status: r.Status, header: r.Header, body: r.Body, attempts: r.Attempts, committed: true, omitted: r.BodyOmitted}
}

// write sends a to w.
func (a *answer) write(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	for k, vs := range a.header {
		h[k] = vs
	}
	h.Set(api.HeaderAttempts, strconv.Itoa(a.attempts))
	if a.replayed {
		h.Set(api.HeaderReplayed, "true")
	}
	if a.omitted {
		h.Set(api.HeaderBodyOmitted, "true")
	}
	if a.version != "" {
		h.Set(api.HeaderCommitVersion, a.version)
	}
	noBody := a.status == http.StatusNoContent || a.status == http.StatusNotModified || a.status < 200
	if !noBody {
		h.Set("Content-Length", strconv.Itoa(len(a.body)))
	}
	w.WriteHeader(a.status)
	if !noBody && r.Method != http.MethodHead {
		w.Write(a.body)
	}
}
