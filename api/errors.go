package api

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// ErrorBody is the body of every error answer of the shim and the middleware
// (http-api.md: {"error": "<human readable>", "code": "<stable_snake_case>"}; middleware.md,
// "Outcomes": errors of the middleware itself use that shape). Winner and Result are the
// additions of a fenced commit (README, "Additions to the API").
type ErrorBody struct {
	Error  string  `json:"error"`
	Code   string  `json:"code"`
	Winner string  `json:"winner,omitempty"` // on a fenced commit: the attempt that committed
	Result *string `json:"result,omitempty"` // and, when known, its stored result in base64
	// Version, on a fenced commit, is the winner's commit version, when known: a caller's
	// session order goes on from it (Aft-After).
	Version string `json:"version,omitempty"`
}

// JSON returns the body as JSON. Any text makes valid JSON: quotes and control bytes are
// escaped, bytes that are not UTF-8 become U+FFFD.
func (e ErrorBody) JSON() []byte {
	b, err := json.Marshal(e)
	if err != nil { // strings only: cannot happen
		panic("api: encode error body: " + err.Error())
	}
	return b
}

// WriteError answers status with the error body {"error": msg, "code": code}.
func WriteError(w http.ResponseWriter, status int, code, msg string) {
	ErrorBody{Error: msg, Code: code}.Write(w, status)
}

// Write answers status with e as a JSON body, with its Content-Type and Content-Length.
// Headers set on w before, such as Retry-After, are kept.
func (e ErrorBody) Write(w http.ResponseWriter, status int) {
	b := e.JSON()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}
