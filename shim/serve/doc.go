// Package serve runs the shim: it opens the store (retrying what start-up may wait out),
// takes the node's identity and lease on a shared store, recovers the transaction manager
// over it, and serves the HTTP API of spec/http-api.md until told to stop. It is `aft serve`
// (spec/cli.md) without its flags, and the one way every shim in a process is built: tests,
// benchmarks and workloads run Open or OpenStore and serve Handler.
//
// Start-up, in order: Config.Validate; Open (or OpenStore over a store already open); then
// Serve on a listener (or Handler behind any server); Shutdown or Close releases the HTTP
// server, the manager (and with it the lease), the store and the node id file, in that
// order. Run does all of it the way `aft serve` does, printing the ready line.
package serve
