package server

import (
	"errors"
	"net/http"

	"github.com/aft-shim/aft/api"
	"github.com/aft-shim/aft/shim/txn"
)

// writeError answers status with the API's error body (api.ErrorBody).
func writeError(w http.ResponseWriter, status int, code, msg string) {
	api.WriteError(w, status, code, msg)
}

// codes maps the manager's errors to statuses and stable codes, first match wins.
var codes = []struct {
	err    error
	status int
	code   string
}{
	{txn.ErrTxnNotFound, http.StatusNotFound, "txn_not_found"},
	{txn.ErrKeyNotFound, http.StatusNotFound, "key_not_found"},
	{txn.ErrFenced, http.StatusConflict, "fenced"},
	{txn.ErrCommitted, http.StatusConflict, "committed"},
	{txn.ErrAborted, http.StatusConflict, "aborted"},
	{txn.ErrCommitTried, http.StatusConflict, "commit_tried"},
	{txn.ErrBadKey, http.StatusBadRequest, "bad_key"},
	{txn.ErrBadIdemKey, http.StatusBadRequest, "bad_idempotency_key"},
	{txn.ErrReadSetTooLarge, http.StatusRequestEntityTooLarge, "read_set_too_large"},
	{txn.ErrBusy, http.StatusServiceUnavailable, "busy"},
	{txn.ErrClosed, http.StatusServiceUnavailable, "shutting_down"},
	{txn.ErrStore, http.StatusServiceUnavailable, "store_unavailable"},
	{errBodyTimeout, http.StatusRequestTimeout, "body_timeout"},
	{errBadBody, http.StatusBadRequest, "bad_body"},
}

// fail answers err.
func (s *Server) fail(w http.ResponseWriter, err error) {
	var le *txn.LimitError
	if errors.As(err, &le) {
		writeError(w, http.StatusRequestEntityTooLarge, le.What+"_too_large", err.Error())
		return
	}
	for _, c := range codes {
		if errors.Is(err, c.err) {
			if c.status == http.StatusServiceUnavailable {
				w.Header().Set("Retry-After", "1")
				s.log.Warn("request failed", "err", err)
			}
			writeError(w, c.status, c.code, err.Error())
			return
		}
	}
	s.log.Error("internal error", "err", err)
	writeError(w, http.StatusInternalServerError, "internal", err.Error())
}
