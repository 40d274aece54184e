// Package middleware is the invocation-path middleware of aft (spec/middleware.md): an
// http.Handler in front of one function that runs every request as transactional attempts
// at the shim, so that a request's writes happen exactly once however often it is
// delivered, retried or crashed.
//
//	hop := middleware.NewHop(fn, middleware.HopOptions{}) // an attempt is never sent twice
//	mw, err := middleware.New(middleware.Config{
//		Options: middleware.Options{Function: "orders"},
//		ShimURL: "http://127.0.0.1:7654",
//	}, registry, hop)
//	http.ListenAndServe(addr, mw)
//
// NewProxy puts the two together with metrics and health (`aft proxy`); a Group holds
// the Middlewares of several functions that share metrics and a shim client (the
// OpenFaaS plugin makes one per transactional function).
//
// # One request
//
// A health probe of the platform (User-Agent kube-probe/..., K-Kubelet-Probe or
// K-Network-Probe) goes to the function as it is, in no transaction. Every other request:
// The idempotency key of a request is its Idempotency-Key header, else X-Call-Id, else
// Ce-Source and Ce-Id, else a fresh random key (see IdempotencyKey); a bad one is answered
// 400. The body is buffered (up to Options.MaxRequestBytes, else 413) so that it can be
// sent again. Each attempt begins a shim transaction with the key and calls the function
// with X-Aft-Txn-Id, X-Aft-Shim and X-Aft-Attempt; the function reads and writes through
// the shim in that transaction. The request to the function must reach it at most once:
// the Hop in next sends it through client.NoResend, as http.Transport alone resends a
// GET, or a request with an Idempotency-Key header, whose kept-alive connection broke
// after the function read it, and the function would run twice in one transaction; a
// function it cannot reach is answered 502 upstream_unreachable. The function's response
// is buffered, then:
//
//   - 2xx (and 3xx, a definite answer too): the attempt commits with the response as its
//     stored Result, and the caller gets the response;
//   - 408, 429, 5xx, a broken connection (a panic of the handler, which is how
//     httputil.ReverseProxy reports one), or no answer within Options.AttemptTimeout: the
//     attempt aborts, and after a backoff with full jitter (at least Retry-After) a new
//     attempt of the same key runs, up to Options.Attempts within Options.Deadline. After
//     the last one the caller gets the last failure (the function's answer; or 504
//     attempt_timeout; or 502 function_failed) and the request is recorded as dead in the
//     shim (package dlq);
//   - another 4xx: the attempt aborts and the caller gets the answer, no retry.
//
// Every answer carries X-Aft-Attempts. A begin that finds the key committed answers the
// stored result with X-Aft-Replayed: true and runs nothing, or 422 idempotency_key_reused
// when the stored request Fingerprint differs (it is inside the stored result, so this
// holds across restarts and middleware instances). A commit fenced by another attempt of
// the key answers the winner's stored result. When the shim does not answer, or answers
// 5xx or 401 (it does not know the middleware's token), to begin, the caller gets 503
// shim_unavailable: the function never runs without a transaction. A commit without
// answer is tried again (commit is idempotent); when it still has none the caller gets
// 503 shim_unavailable, and a retry with the same key finds out what happened.
//
// # The stored result
//
// The result stored with a commit is a Result: status, the function's headers (less
// hop-by-hop ones, Date, Content-Length and X-Aft-*), body, the number of the attempt,
// and the request's Fingerprint (function, method, path, raw query, SHA-256 of the body;
// a result stored before the query was in it matches any query), encoded as
// the line "AFT-RESULT 1", a line of JSON and the raw body. The shim keeps at most
// MaxResultBytes (1 MiB) per result. A larger response still commits and its caller gets
// it whole, but the body is not stored: a duplicate gets the status and headers with an
// empty body and X-Aft-Body-Omitted: true (the Result keeps the body's length and
// SHA-256). A response over Options.MaxResponseBytes is not committed: 502
// response_too_large. Results live as long as the shim keeps results of idempotency
// keys (aft serve --result-retention, 24h by default); after that a key runs again.
//
// # Zombies
//
// An attempt that gave no answer within AttemptTimeout is not cancelled: it runs on, until
// the request's Deadline, as a zombie, while the retry starts. When the zombie later
// answers 2xx it is committed anyway; the shim lets the first commit of the key win and
// fences the other, so the request still commits once. When the zombie wins while the
// caller still waits, the caller gets its answer at once (the running retry is cancelled);
// when the retry wins, the caller gets the retry's answer. Either way the caller gets the
// answer of the attempt that committed. The goroutines of zombies are bounded by
// Config.MaxZombies: past it a timed-out attempt is cancelled (for a reverse proxy, its
// request to the function is cancelled) and aborted. When the last attempt fails while
// zombies of the request still run, the middleware waits for them, within the Deadline,
// before it answers the failure and records the request as dead. A zombie that still
// commits after that (one finishing just at the deadline, or a handler that ignores its
// context) leaves a dead-letter entry whose replay is answered from the stored result.
//
// # Duplicates running here
//
// A request whose key has an attempt running in this Middleware follows
// Options.OnRunning: run (run it too, first commit wins: the default), wait (wait for the
// running request and answer its outcome, with X-Aft-Replayed: true when it committed) or
// refuse (409 request_in_progress). A different request under a running key gets 422 at
// once. Across several middleware instances only run semantics hold.
//
// # Nested calls
//
// A request that carries X-Aft-Txn-Id is a function calling another function inside its
// own transaction: the callee's middleware checks that the transaction runs (else 404
// txn_not_found or 409 txn_not_running) and passes the request through as it is: no
// begin, no commit, no retry, no buffering. Transaction ids are 128-bit random: knowing one
// is what joins it.
//
// # The relay
//
// A shim run with --auth-file wants a token on every call. The function must not hold
// it: it would show in its logs, in the headers it sends on, and in what it answers (a
// result stored with a commit is replayed to every duplicate). With Config.RelayURL, the
// middleware runs a relay (Group.Relay) and X-Aft-Shim names it: the relay passes the
// function's calls on to the node holding the transaction with the middleware's token and
// TLS. It passes on only calls of transactions whose attempts run in this Group right now
// (and of those that nested calls joined, while they run: a running attempt's id is the
// capability; another id is answered 404 txn_not_found), and of those only the
// function's operations: status, read, write, delete, batch. Begin, commit and abort are
// the middleware's (403 relay_refused). Like every hop that carries a transaction it
// sends each call once. Without RelayURL, X-Aft-Shim names the shim's node, as it always
// did.
//
// # Metrics
//
// In the registry given to New, labelled by function: aft_middleware_invocations_total
// {outcome}, attempts_total, retries_total{reason}, replayed_total (duplicates answered
// from a stored result), running_duplicates_total{policy}, commits_total{outcome:
// committed, fenced}, aborts_total{reason}, zombie_commits_total{outcome: committed,
// fenced, aborted, failed}, dead_requests_total, dead_letter_failures_total, and the
// histogram overhead_seconds: the time the middleware adds to a request, that is its
// whole time less the function's and the backoff waits. The gauge aft_middleware_zombies
// counts the zombies running.
//
// # Limits
//
// Responses are buffered whole, so streaming responses and protocol upgrades do not work
// through the middleware. A handler that ignores its request's context cannot be stopped:
// a cancelled attempt of such a handler runs until it returns (a reverse proxy honours the
// context).
package middleware
