// Package api holds the names of aft's HTTP contracts, in one place: the header names
// and the JSON error body of spec/http-api.md (the shim's API) and spec/middleware.md
// (the function contract of the middleware), and the additions to them that the README
// documents. The shim's server, the Go client, the middleware, the OpenFaaS plugin, the
// Go SDK and the commands all take these names from here, so that a name in the
// contract is spelled once. It also holds the one codec of the JSON bodies that carry
// values (batches and transaction answers): hand-written for speed, differentially fuzzed
// against encoding/json.
//
// The package imports nothing of aft and does no I/O but writing an error body.
package api
