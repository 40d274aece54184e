package api

// Batches (http-api.md, "Batches (version 1.1)"): POST /v1/txns/{id}/batch runs the ops of
// BatchRequest in order in transaction id and answers BatchAnswer, one result per op, each
// what the single call would answer. POST /v1/txns with a BatchRequest body begins and
// runs the ops in one call.

// Op names of a batch.
const (
	OpRead   = "read"
	OpWrite  = "write"
	OpDelete = "delete"
)

// MaxBatchOps is the most ops one batch may hold; more is answered 413 batch_too_large,
// and no op runs. Split a larger batch into several; they run in the same transaction all
// the same.
const MaxBatchOps = 1000

// BatchRequest is the body of a batch.
type BatchRequest struct {
	Ops []BatchOp `json:"ops"`
}

// BatchOp is one op. Key is a JSON string (so a key that is not valid UTF-8 uses the single
// calls); Value is given for a write only. On the wire it is the standard base64 of the
// value, which encoding/json writes and reads for a []byte without a string between.
type BatchOp struct {
	Op    string  `json:"op"`
	Key   string  `json:"key"`
	Value *[]byte `json:"value,omitempty"`
}

// BatchResult is the answer to one op: the status the single call would answer (204 for a
// write or delete, 200 for a read that found a version), and, for an error, its code and
// message. A read that found a value carries it in base64, with the version read, or
// OwnWrite for the transaction's own write (the single read's Aft-Version and Aft-Own-Write
// headers). A read of a delete carries the delete's version, as the single read's 404 does.
type BatchResult struct {
	Status   int     `json:"status"`
	Code     string  `json:"code,omitempty"`
	Error    string  `json:"error,omitempty"`
	Value    *[]byte `json:"value,omitempty"` // base64 on the wire, as BatchOp.Value
	Version  string  `json:"version,omitempty"`
	OwnWrite bool    `json:"own_write,omitempty"`
}

// BatchAnswer is the answer of a batch: one result per op, in order.
type BatchAnswer struct {
	Results []BatchResult `json:"results"`
}
