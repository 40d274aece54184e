package client

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/aft-shim/aft/api"
)

// Error is an error answer of the shim: {"error", "code"} and the HTTP status.
type Error struct {
	StatusCode int
	Code       string // stable code, such as "fenced" or "key_not_found"
	Message    string
	Winner     string // on a fenced commit: the id of the attempt that committed
	Result     []byte // on a fenced commit: the winner's stored result, when the shim sent it
	Version    string // on key_not_found: the version of the delete read, if any; on fenced: the winner's commit version
}

func (e *Error) Error() string {
	return fmt.Sprintf("shim answered %d %s: %s", e.StatusCode, e.Code, e.Message)
}

// Is makes errors.Is(err, ErrFenced) and the like hold for an *Error with that code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.StatusCode == 0 && t.Code == e.Code
}

// Sentinels to match with errors.Is.
var (
	ErrTxnNotFound = &Error{Code: api.CodeTxnNotFound}
	ErrKeyNotFound = &Error{Code: api.CodeKeyNotFound}
	ErrFenced      = &Error{Code: api.CodeFenced}
	ErrAborted     = &Error{Code: api.CodeAborted}
	ErrCommitted   = &Error{Code: api.CodeCommitted}
	ErrBadKey      = &Error{Code: api.CodeBadKey}
	ErrNotCaughtUp = &Error{Code: api.CodeNotCaughtUp}
	// ErrUnauthorized: a shim run with --auth-file got no token, or one it does not know
	// (Credentials).
	ErrUnauthorized = &Error{Code: api.CodeUnauthorized}
)

func decodeError(resp *http.Response) *Error {
	e := &Error{StatusCode: resp.StatusCode}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var j api.ErrorBody
	if json.Unmarshal(b, &j) == nil && j.Code != "" {
		e.Code, e.Message, e.Winner = j.Code, j.Error, j.Winner
		if j.Version != "" {
			e.Version = j.Version // a fenced commit's winner's
		}
		if j.Result != nil {
			e.Result, _ = base64.StdEncoding.DecodeString(*j.Result)
		}
	} else {
		e.Code, e.Message = "http_"+fmt.Sprint(resp.StatusCode), string(b)
	}
	return e
}
