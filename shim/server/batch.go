package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aft-shim/aft/api"
	"github.com/aft-shim/aft/shim/txn"
)

// batchOp is one op of a batch, checked and decoded.
type batchOp struct {
	op, key string
	value   []byte
}

// batchBodyLimit is the largest body of a batch: every value of one transaction's write
// buffer in base64, and MaxBatchOps ops of the longest keys, JSON-escaped.
func (s *Server) batchBodyLimit() int64 {
	return s.m.Config().MaxTxnBytes/3*4 + 4 + int64(api.MaxBatchOps)*(6*txn.MaxKeySize+64)
}

// readBatch reads and checks the batch body of r. On error it has answered; on success the
// caller holds reserved bytes of the manager's budget, to Release when the ops have run.
// With optional, an empty body is no batch: ops is nil.
func (s *Server) readBatch(w http.ResponseWriter, r *http.Request, tenant string, optional bool) (ops []batchOp, reserved int64, ok bool) {
	body, reserved, err := s.readBody(w, r, tenant, "batch", s.batchBodyLimit())
	if err != nil {
		s.fail(w, err)
		return nil, 0, false
	}
	if optional && len(bytes.TrimSpace(body)) == 0 {
		s.m.Release(tenant, reserved)
		return nil, 0, true
	}
	ops, err = parseBatch(body)
	if err != nil {
		s.m.Release(tenant, reserved)
		var tooMany *tooManyOps
		if errors.As(err, &tooMany) {
			api.WriteError(w, http.StatusRequestEntityTooLarge, api.CodeBatchTooLarge, err.Error())
		} else {
			api.WriteError(w, http.StatusBadRequest, api.CodeBadBatch, err.Error())
		}
		return nil, 0, false
	}
	return ops, reserved, true
}

// tooManyOps is a batch of more than api.MaxBatchOps ops.
type tooManyOps struct{ n int }

func (e *tooManyOps) Error() string {
	return fmt.Sprintf("%d ops in one batch, limit %d: split it into several batches", e.n, api.MaxBatchOps)
}

// parseBatch decodes a batch body: {"ops": [...]}, each op read, write (with a base64
// value) or delete, nothing else.
func parseBatch(body []byte) ([]batchOp, error) {
	req, err := api.DecodeBatchRequest(body)
	switch {
	case errors.Is(err, api.ErrMoreJSON):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf(`a batch is {"ops": [{"op": "read"|"write"|"delete", "key": K, "value": BASE64}, ...]}: %v`, err)
	}
	if len(req.Ops) > api.MaxBatchOps {
		return nil, &tooManyOps{len(req.Ops)}
	}
	ops := make([]batchOp, len(req.Ops))
	for i, o := range req.Ops {
		switch {
		case o.Op != api.OpRead && o.Op != api.OpWrite && o.Op != api.OpDelete:
			return nil, fmt.Errorf("op %d: %q is no op: want read, write or delete", i, o.Op)
		case (o.Op == api.OpWrite) != (o.Value != nil):
			return nil, fmt.Errorf("op %d: a write has a value, a %s none", i, o.Op)
		}
		ops[i] = batchOp{op: o.Op, key: o.Key}
		if o.Value != nil {
			ops[i].value = *o.Value
		}
	}
	return ops, nil
}

// batch is POST /v1/txns/{id}/batch.
func (s *Server) batch(w http.ResponseWriter, r *http.Request, id string) {
	tenant := tenantOf(id)
	ops, reserved, ok := s.readBatch(w, r, tenant, false)
	if !ok {
		return
	}
	defer s.m.Release(tenant, reserved)
	results, err := s.runOps(r.Context(), id, ops)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeBody(w, http.StatusOK, api.BatchAnswer{Results: results}.AppendJSON(make([]byte, 0, api.ResultsSize(results))))
}

// runBegun runs the ops of a begin in the transaction it began, and answers. A transaction
// whose batch ended in an error of the transaction itself is aborted (its id was never
// answered, so nobody else can end it).
func (s *Server) runBegun(w http.ResponseWriter, r *http.Request, info txn.Info, ops []batchOp) {
	results, err := s.runOps(r.Context(), info.ID, ops)
	if err != nil {
		s.m.Abort(context.WithoutCancel(r.Context()), info.ID)
		s.fail(w, err)
		return
	}
	a := api.BeginBatchAnswer{TxnAnswer: infoJSON(info), Results: results}
	writeBody(w, http.StatusCreated, a.AppendJSON(make([]byte, 0, api.ResultsSize(results))))
}

// runOps runs ops in order in transaction id, each answered as its single call would be. An
// error of the transaction itself (see txnError) ends the batch: it is returned, and no
// later op runs.
func (s *Server) runOps(ctx context.Context, id string, ops []batchOp) ([]api.BatchResult, error) {
	results := make([]api.BatchResult, 0, len(ops))
	for _, o := range ops {
		res, err := s.runOp(ctx, id, o)
		if err != nil && txnError(err) {
			return nil, err
		}
		if err != nil {
			var status int
			status, res.Code = s.classify(err)
			res.Status, res.Error = status, err.Error()
		}
		results = append(results, res)
	}
	return results, nil
}

// runOp runs one op: its answer, or the error its single call would answer.
func (s *Server) runOp(ctx context.Context, id string, o batchOp) (api.BatchResult, error) {
	if err := txn.ValidKey(o.key); err != nil {
		return api.BatchResult{}, err
	}
	switch o.op {
	case api.OpWrite:
		return api.BatchResult{Status: http.StatusNoContent}, s.m.Write(id, o.key, o.value)
	case api.OpDelete:
		return api.BatchResult{Status: http.StatusNoContent}, s.m.Delete(id, o.key)
	}
	rd, err := s.m.Read(ctx, id, o.key)
	if err != nil {
		return api.BatchResult{}, err
	}
	res := api.BatchResult{Status: http.StatusOK}
	if !rd.Version.IsZero() {
		res.Version = rd.Version.String()
	}
	if !rd.Found {
		res.Status, res.Code, res.Error = http.StatusNotFound, api.CodeKeyNotFound, "no visible version of the key"
		return res, nil
	}
	res.OwnWrite = rd.Version.IsZero()
	v := rd.Value // shared with the cache: encoded, never changed
	if v == nil {
		v = []byte{} // an empty value is "", not null
	}
	res.Value = &v
	return res, nil
}

// txnError reports whether err is an error of the transaction itself (unknown, not
// running, fenced, frozen by a commit try, or the node stopping), which ends a batch,
// rather than of one op.
func txnError(err error) bool {
	for _, e := range []error{txn.ErrTxnNotFound, txn.ErrCommitted, txn.ErrAborted, txn.ErrFenced, txn.ErrCommitTried, txn.ErrClosed} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
