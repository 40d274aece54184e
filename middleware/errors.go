package middleware

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/aft-shim/aft/api"
)

// Stable codes of the middleware's own error answers, which use the JSON shape of
// http-api.md: {"error": "<human readable>", "code": "<code>"}.
const (
	CodeBadIdempotencyKey    = "bad_idempotency_key"    // 400: empty, longer than 256 bytes, control bytes, or several
	CodeBadBody              = "bad_body"               // 400: the request body could not be read
	CodeRequestTooLarge      = "request_too_large"      // 413: the body is over MaxRequestBytes
	CodeIdempotencyKeyReused = "idempotency_key_reused" // 422: the key belongs to another request
	CodeRequestInProgress    = "request_in_progress"    // 409: policy refuse (or wait ran out of time)
	CodeShimUnavailable      = "shim_unavailable"       // 503: the shim did not answer, or answered 5xx
	CodeTxnNotFound          = "txn_not_found"          // 404: a nested call names an unknown transaction
	CodeTxnNotRunning        = "txn_not_running"        // 409: a nested call names a finished transaction
	CodeAttemptTimeout       = "attempt_timeout"        // 504: the last attempt timed out
	CodeFunctionFailed       = "function_failed"        // 502: the last attempt broke (connection, panic) or could not commit
	CodeResponseTooLarge     = "response_too_large"     // 502: the response is over MaxResponseBytes
	CodeBadFunctionOptions   = "bad_function_options"   // 500: the function's Options are invalid (Group.Handler refused them)
	CodeUpstreamUnreachable  = "upstream_unreachable"   // 502: a Hop found no answer behind it (a failed attempt, retried)
)

// Errors of the middleware, mapped to answers only by fail.
var (
	errBadIdemKey      = errors.New("bad idempotency key")
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
)

var codes = []struct {
	err    error
	status int
	code   string
}{
	{errBadIdemKey, http.StatusBadRequest, CodeBadIdempotencyKey},
	{errBadBody, http.StatusBadRequest, CodeBadBody},
	{errRequestTooLarge, http.StatusRequestEntityTooLarge, CodeRequestTooLarge},
	{errKeyReused, http.StatusUnprocessableEntity, CodeIdempotencyKeyReused},
	{errInProgress, http.StatusConflict, CodeRequestInProgress},
	{errShimUnavailable, http.StatusServiceUnavailable, CodeShimUnavailable},
	{errTxnNotFound, http.StatusNotFound, CodeTxnNotFound},
	{errTxnNotRunning, http.StatusConflict, CodeTxnNotRunning},
	{errAttemptTimeout, http.StatusGatewayTimeout, CodeAttemptTimeout},
	{errResponseLarge, http.StatusBadGateway, CodeResponseTooLarge},
	{errFunctionFailed, http.StatusBadGateway, CodeFunctionFailed},
}

// classify returns the status and code that answer err.
func classify(err error) (status int, code string) {
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return c.status, c.code
		}
	}
	return http.StatusInternalServerError, "internal"
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
	noBody := a.status == http.StatusNoContent || a.status == http.StatusNotModified || a.status < 200
	if !noBody {
		h.Set("Content-Length", strconv.Itoa(len(a.body)))
	}
	w.WriteHeader(a.status)
	if !noBody && r.Method != http.MethodHead {
		w.Write(a.body)
	}
}
