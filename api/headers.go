package api

// Headers of the shim's API (spec/http-api.md).
const (
	// HeaderIdempotencyKey carries the idempotency key of a logical request: on begin
	// (http-api.md, "Transactions": 1..256 bytes), and first in the middleware's identity
	// order (middleware.md, "Identity of a logical request").
	HeaderIdempotencyKey = "Idempotency-Key"
	// HeaderVersion carries the version a read returned (http-api.md, "Transactions":
	// read), and on a 404 key_not_found the version of the delete read (README,
	// "Additions to the API").
	HeaderVersion = "Aft-Version"
	// HeaderAfter on begin asks for a transaction that sees the commit of that version
	// (http-api.md, "Several nodes (version 1.1)": session order).
	HeaderAfter = "Aft-After"
	// HeaderNode, on the answer of a begin of a node on a shared store, is that node's base
	// URL (its --advertise): every later call of the transaction goes there, which matters
	// when the begin went through a load balancer (a Kubernetes Service) to any node (an
	// addition).
	HeaderNode = "Aft-Node"
	// HeaderOwnWrite is "true" on a read answered from the transaction's own write
	// buffer (README, "Additions to the API").
	HeaderOwnWrite = "Aft-Own-Write"
	// HeaderFenceOlder is "true" on a begin that fences the running attempts of its
	// idempotency key at once (README, "Additions to the API").
	HeaderFenceOlder = "Aft-Fence-Older"
)

// Headers of the function contract (spec/middleware.md, "Headers"), and of the identity
// of a request (middleware.md, "Identity of a logical request").
const (
	// HeaderTxnID carries the attempt's transaction id to the function; on an inbound
	// request, it makes the call join that transaction (a nested call).
	HeaderTxnID = "X-Aft-Txn-Id"
	// HeaderShim carries the base URL of the shim that holds the transaction to the
	// function (also http-api.md, "Several nodes").
	HeaderShim = "X-Aft-Shim"
	// HeaderReplayed is "true" on an answer that is the stored result of an earlier
	// committed attempt: nothing ran for this request.
	HeaderReplayed = "X-Aft-Replayed"
	// HeaderAttempts is the number of attempts the answer took (for a stored result, the
	// number of the attempt that committed; 0 when no attempt ran).
	HeaderAttempts = "X-Aft-Attempts"
	// HeaderAttempt carries the attempt's number (1, 2, ...) to the function (an addition
	// to the contract: README, "In front of one function").
	HeaderAttempt = "X-Aft-Attempt"
	// HeaderBodyOmitted is "true" on a stored answer whose body was too large to store
	// (an addition to the contract: README, "In front of one function").
	HeaderBodyOmitted = "X-Aft-Body-Omitted"
	// HeaderCommitVersion carries, to the caller, the version of the commit whose result the
	// answer is (an addition): a follow-up request that sends it back in Aft-After begins,
	// on whichever shim node, a transaction that sees that commit.
	HeaderCommitVersion = "X-Aft-Version"
	// HeaderPrefix starts the name of every header of the function contract: the
	// middleware neither stores nor replays such headers of a response or a request.
	HeaderPrefix = "X-Aft-"

	// HeaderCallID is OpenFaaS's call id, kept across queue-worker retries: second in the
	// identity order.
	HeaderCallID = "X-Call-Id"
	// HeaderCESource and HeaderCEID identify a CloudEvent in binary mode (ce-source and
	// ce-id): together, third in the identity order.
	HeaderCESource = "Ce-Source"
	HeaderCEID     = "Ce-Id"
)

// NodesAnswer is the body of GET /v1/nodes (an addition): the base URLs of the live shim
// nodes on the store.
type NodesAnswer struct {
	Nodes []string `json:"nodes"`
}
