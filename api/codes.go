package api

// Codes of the shim's error answers (http-api.md, "Transactions" and "Several nodes", and
// the README's "Limits" and "Additions to the API"). A limit that a request goes over is
// answered 413 with the code of the limit followed by "_too_large": value_too_large,
// transaction_too_large, result_too_large, commit_record_too_large, read_set_too_large.
const (
	CodeTxnNotFound       = "txn_not_found"       // 404: unknown transaction id (also a nested call's, in the middleware)
	CodeKeyNotFound       = "key_not_found"       // 404: no visible version of the key
	CodeFenced            = "fenced"              // 409: another attempt of the idempotency key committed
	CodeCommitted         = "committed"           // 409: the transaction is committed
	CodeAborted           = "aborted"             // 409: the transaction is aborted
	CodeCommitTried       = "commit_tried"        // 409: a write after a commit was tried
	CodeBadKey            = "bad_key"             // 400: a key that is empty, too long, holds NUL or is badly escaped
	CodeBadIdempotencyKey = "bad_idempotency_key" // 400: an idempotency key that is empty, too long or given twice
	CodeBadBody           = "bad_body"            // 400: the request body could not be read
	CodeBodyTimeout       = "body_timeout"        // 408: the request body came too slowly
	CodeReadSetTooLarge   = "read_set_too_large"  // 413: a read of a new key past --max-read-set
	CodeBusy              = "busy"                // 503: too many transactions or bytes buffered; Retry-After
	CodeShuttingDown      = "shutting_down"       // 503: the node is stopping
	CodeStoreUnavailable  = "store_unavailable"   // 503: a storage call failed; the transaction stays running
	CodeBadAfter          = "bad_after"           // 400: listing keys: after is not standard base64
	CodeBadLimit          = "bad_limit"           // 400: listing keys: limit out of range
	CodeBadBatch          = "bad_batch"           // 400: a batch body that is not {"ops": [...]} (batch.go); no op runs
	CodeBatchTooLarge     = "batch_too_large"     // 413: more than MaxBatchOps ops, or a body over the batch's limit; no op runs
	CodeNotFound          = "not_found"           // 404: no such endpoint
	CodeMethodNotAllowed  = "method_not_allowed"  // 405
	CodeInternal          = "internal"            // 500: an error with no code of its own
	CodeNotCaughtUp       = "not_caught_up"       // 503: a begin with Aft-After: this node did not learn of that commit in time
	CodeBadVersion        = "bad_version"         // 400: an Aft-After header that is not a version a commit answered
	CodeUnauthorized      = "unauthorized"        // 401: no token, or one the shim does not know (--auth-file); WWW-Authenticate: Bearer
	CodeTenantBusy        = "tenant_busy"         // 429: the tenant is at its own limit of running transactions or buffered bytes; Retry-After
	CodeBadRequest        = "bad_request"         // 400 (505, 501, 417): a request the HTTP server cannot take (malformed, another HTTP version or transfer coding); the connection closes
	CodeHeadersTooLarge   = "headers_too_large"   // 431: a request's line and headers over serve.MaxHeaderBytes; the connection closes
)

// Codes of the middleware's own error answers (middleware.md, "Outcomes", and the
// middleware package's documentation), besides CodeTxnNotFound, CodeBadIdempotencyKey and
// CodeBadBody, which mean there what they mean at the shim.
const (
	CodeRequestTooLarge      = "request_too_large"      // 413: the body is over the function's MaxRequestBytes
	CodeIdempotencyKeyReused = "idempotency_key_reused" // 422: the key belongs to another request
	CodeRequestInProgress    = "request_in_progress"    // 409: policy refuse (or wait ran out of time)
	CodeShimUnavailable      = "shim_unavailable"       // 503: the shim did not answer, or answered 5xx
	CodeTxnNotRunning        = "txn_not_running"        // 409: a nested call names a finished transaction
	CodeAttemptTimeout       = "attempt_timeout"        // 504: the last attempt timed out
	CodeFunctionFailed       = "function_failed"        // 502: the last attempt broke (connection, panic) or could not commit
	CodeResponseTooLarge     = "response_too_large"     // 502: the response is over the function's MaxResponseBytes
	CodeUpstreamUnreachable  = "upstream_unreachable"   // 502: the hop to the function (or its provider) found no answer; retried
	CodeBadFunctionOptions   = "bad_function_options"   // 500: the OpenFaaS plugin: a function's annotations make invalid options
	CodeProviderUnavailable  = "provider_unavailable"   // 502: the OpenFaaS plugin: the provider cannot tell a function's settings, so it does not run
	CodeRelayRefused         = "relay_refused"          // 403: the middleware's relay: a call that is not a function's (begin, commit, abort, listings), which it does not pass on
)
