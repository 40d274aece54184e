package server

import (
	"errors"
	"net/http"
	"time"

	"github.com/aft-shim/aft/api"
	"github.com/aft-shim/aft/shim/txn"
)

// codes maps the manager's errors to statuses and stable codes, first match wins.
var codes = []struct {
	err    error
	status int
	code   string
}{
	{txn.ErrTxnNotFound, http.StatusNotFound, api.CodeTxnNotFound},
	{txn.ErrKeyNotFound, http.StatusNotFound, api.CodeKeyNotFound},
	{txn.ErrFenced, http.StatusConflict, api.CodeFenced},
	{txn.ErrCommitted, http.StatusConflict, api.CodeCommitted},
	{txn.ErrAborted, http.StatusConflict, api.CodeAborted},
	{txn.ErrCommitTried, http.StatusConflict, api.CodeCommitTried},
	{txn.ErrBadKey, http.StatusBadRequest, api.CodeBadKey},
	{txn.ErrBadIdemKey, http.StatusBadRequest, api.CodeBadIdempotencyKey},
	{txn.ErrReadSetTooLarge, http.StatusRequestEntityTooLarge, api.CodeReadSetTooLarge},
	{txn.ErrTenantBusy, http.StatusTooManyRequests, api.CodeTenantBusy},
	{txn.ErrBusy, http.StatusServiceUnavailable, api.CodeBusy},
	{txn.ErrNotCaughtUp, http.StatusServiceUnavailable, api.CodeNotCaughtUp},
	{txn.ErrClosed, http.StatusServiceUnavailable, api.CodeShuttingDown},
	{txn.ErrStore, http.StatusServiceUnavailable, api.CodeStoreUnavailable},
	{errBodyTimeout, http.StatusRequestTimeout, api.CodeBodyTimeout},
	{errBadBody, http.StatusBadRequest, api.CodeBadBody},
}

// DefaultBusyDelay is Server.BusyDelay's default.
const DefaultBusyDelay = 100 * time.Millisecond

// fail answers err. A tenant at its own limit (429) gets its answer after BusyDelay: a
// tenant that ignores Retry-After and asks again at once would otherwise spend the node's
// CPU on refusals, which the other tenants need.
func (s *Server) fail(w http.ResponseWriter, err error) {
	status, code := s.classify(err)
	if status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	if status == http.StatusTooManyRequests && s.BusyDelay > 0 {
		time.Sleep(s.BusyDelay)
	}
	api.WriteError(w, status, code, err.Error())
}

// classify returns the status and code that answer err, logging what needs an operator's
// eye: a 503 as a warning, an error with no code of its own as an internal error.
func (s *Server) classify(err error) (status int, code string) {
	var le *txn.LimitError
	if errors.As(err, &le) {
		return http.StatusRequestEntityTooLarge, le.What + "_too_large"
	}
	for _, c := range codes {
		if errors.Is(err, c.err) {
			if c.status == http.StatusServiceUnavailable {
				s.log.Warn("request failed", "err", err)
			}
			return c.status, c.code
		}
	}
	s.log.Error("internal error", "err", err)
	return http.StatusInternalServerError, api.CodeInternal
}
