package server

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/aft-shim/aft/api"
	"github.com/aft-shim/aft/shim/ra"
	"github.com/aft-shim/aft/shim/txn"
)

// infoJSON is the body of begin, status, commit and abort answers.
func infoJSON(info txn.Info) api.TxnAnswer {
	j := api.TxnAnswer{ID: info.ID, Status: string(info.Status), Attempt: info.Attempt}
	if !info.Version.IsZero() {
		j.Version = info.Version.String()
	}
	if info.Result != nil {
		r := base64.StdEncoding.EncodeToString(info.Result)
		j.Result = &r
	}
	return j
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, _ := json.Marshal(v)
	writeBody(w, code, b)
}

// writeBody answers code with the JSON body b.
func writeBody(w http.ResponseWriter, code int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(code)
	w.Write(b)
}

func (s *Server) begin(w http.ResponseWriter, r *http.Request, tenant string) {
	opts := txn.BeginOptions{Tenant: tenant, FenceOlder: r.Header.Get(api.HeaderFenceOlder) == "true"}
	if vs, ok := r.Header[api.HeaderIdempotencyKey]; ok {
		if len(vs) != 1 {
			api.WriteError(w, http.StatusBadRequest, api.CodeBadIdempotencyKey, "give one "+api.HeaderIdempotencyKey+" header, not "+strconv.Itoa(len(vs)))
			return
		}
		if err := txn.ValidIdemKey(vs[0]); err != nil {
			s.fail(w, err)
			return
		}
		opts.IdemKey = vs[0]
	}
	if v := r.Header.Get(api.HeaderAfter); v != "" {
		after, err := ra.ParseVersion(v)
		if err != nil {
			api.WriteError(w, http.StatusBadRequest, api.CodeBadVersion, api.HeaderAfter+": "+err.Error()+"; give the version a commit answered")
			return
		}
		opts.After = after
	}
	// A body is a batch to run in the new transaction (http-api.md, "Batches"); it is read
	// and checked before anything begins.
	ops, reserved, ok := s.readBatch(w, r, tenant, true)
	if !ok {
		return
	}
	defer s.m.Release(tenant, reserved)
	info, err := s.m.Begin(r.Context(), opts)
	if err != nil {
		s.fail(w, err)
		return
	}
	if node := s.m.Config().NodeAddr; s.m.Shared() && node != "" {
		w.Header().Set(api.HeaderNode, node)
	}
	if ops != nil && info.Status == txn.Running {
		s.runBegun(w, r, info, ops)
		return
	}
	code := http.StatusCreated
	if info.Status == txn.Committed {
		code = http.StatusOK
	}
	writeBody(w, code, infoJSON(info).AppendJSON(nil))
}

func (s *Server) status(w http.ResponseWriter, r *http.Request, id string) {
	info, err := s.m.Status(r.Context(), id)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeBody(w, http.StatusOK, infoJSON(info).AppendJSON(nil))
}

// key decodes the percent-encoded key of a path.
func key(w http.ResponseWriter, escaped string) (string, bool) {
	k, err := url.PathUnescape(escaped)
	if err != nil {
		api.WriteError(w, http.StatusBadRequest, api.CodeBadKey, "key is not valid percent-encoding: "+err.Error())
		return "", false
	}
	if err := txn.ValidKey(k); err != nil {
		api.WriteError(w, http.StatusBadRequest, api.CodeBadKey, err.Error())
		return "", false
	}
	return k, true
}

func (s *Server) write(w http.ResponseWriter, r *http.Request, id, escaped string) {
	k, ok := key(w, escaped)
	if !ok {
		return
	}
	tenant := tenantOf(id)
	body, reserved, err := s.readBody(w, r, tenant, "value", s.m.Config().MaxValueSize)
	if err != nil {
		s.fail(w, err)
		return
	}
	// Hand the bytes over: Write charges what it keeps to the write buffer itself. Between
	// the two nothing blocks, so the bytes uncounted meanwhile are bounded by the handlers
	// running on a CPU at that instant, not by what clients send.
	s.m.Release(tenant, reserved)
	if err := s.m.Write(id, k, body); err != nil {
		s.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) delete(w http.ResponseWriter, id, escaped string) {
	k, ok := key(w, escaped)
	if !ok {
		return
	}
	if err := s.m.Delete(id, k); err != nil {
		s.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) read(w http.ResponseWriter, r *http.Request, id, escaped string) {
	k, ok := key(w, escaped)
	if !ok {
		return
	}
	res, err := s.m.Read(r.Context(), id, k)
	if err != nil {
		s.fail(w, err)
		return
	}
	h := w.Header()
	if !res.Version.IsZero() {
		h.Set(api.HeaderVersion, res.Version.String())
	} else if res.Found {
		h.Set(api.HeaderOwnWrite, "true")
	}
	if !res.Found {
		api.WriteError(w, http.StatusNotFound, api.CodeKeyNotFound, "no visible version of the key")
		return
	}
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.Itoa(len(res.Value)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(res.Value)
	}
}

func (s *Server) commit(w http.ResponseWriter, r *http.Request, id string) {
	tenant := tenantOf(id)
	body, reserved, err := s.readBody(w, r, tenant, "result", txn.MaxResultSize)
	if err != nil {
		s.fail(w, err)
		return
	}
	// Commit does not charge the result, which stays alive until the commit ends: keep the
	// body's charge until then.
	defer s.m.Release(tenant, reserved)
	var result []byte
	if len(body) > 0 {
		result = body
	}
	info, err := s.m.Commit(r.Context(), id, result)
	if errors.Is(err, txn.ErrFenced) && info.ID != "" {
		e := api.ErrorBody{Error: err.Error(), Code: api.CodeFenced, Winner: info.ID, Version: infoJSON(info).Version}
		if info.Result != nil {
			r := base64.StdEncoding.EncodeToString(info.Result)
			e.Result = &r
		}
		e.Write(w, http.StatusConflict)
		return
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	writeBody(w, http.StatusOK, api.TxnAnswer{ID: info.ID, Status: string(txn.Committed), Version: infoJSON(info).Version}.AppendJSON(nil))
}

func (s *Server) abort(w http.ResponseWriter, r *http.Request, id string) {
	info, err := s.m.Abort(r.Context(), id)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeBody(w, http.StatusOK, api.TxnAnswer{ID: info.ID, Status: string(txn.Aborted)}.AppendJSON(nil))
}

// keysJSON is the answer of GET /v1/keys: keys in base64 (they may hold any byte), and the
// after parameter that continues the listing, when there may be more, in the same base64.
type keysJSON struct {
	Keys []string `json:"keys"`
	Next *string  `json:"next,omitempty"`
}

// keys lists committed keys: GET /v1/keys?prefix=P&after=A&limit=N (an addition to the
// spec, for operators: the present state, outside any transaction). P is the raw prefix;
// A is a key in base64, as keys and next are answered, so that next is passed on as it is.
func (s *Server) keys(w http.ResponseWriter, r *http.Request, tenant string) {
	q := r.URL.Query()
	after, err := base64.StdEncoding.DecodeString(q.Get("after"))
	if err != nil {
		api.WriteError(w, http.StatusBadRequest, api.CodeBadAfter, "after must be a key in standard base64, such as the next of the "+
			"previous page, query-escaped (a '+' travels as %2B): "+err.Error())
		return
	}
	limit := 1000
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > txn.MaxKeysListed {
			api.WriteError(w, http.StatusBadRequest, api.CodeBadLimit, "limit must be 1.."+strconv.Itoa(txn.MaxKeysListed))
			return
		}
		limit = n
	}
	keys := s.m.Keys(tenant, q.Get("prefix"), string(after), limit+1)
	out := keysJSON{Keys: make([]string, 0, min(len(keys), limit))}
	for i, k := range keys {
		if i == limit {
			next := base64.StdEncoding.EncodeToString([]byte(keys[i-1]))
			out.Next = &next
			break
		}
		out.Keys = append(out.Keys, base64.StdEncoding.EncodeToString([]byte(k)))
	}
	writeJSON(w, http.StatusOK, out)
}
