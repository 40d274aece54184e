// Package workloads replays the failures that serverless platforms inflict on functions
// (crashes, retries, duplicate deliveries, zombies, killed processes, store faults) and
// counts the anomalies that readers and the final state show, with and without aft.
//
// # Modes
//
// Every Scenario runs once per Mode, with the same requests, the same platform behaviour
// and the same faults:
//
//   - plain: the functions read and write a store.Store opened from the --store URL, one key
//     at a time; a Platform (a small retrying invoker) delivers the requests as OpenFaaS or
//     Knative would;
//   - aft: the same function logic reads and writes through the shim with the SDK, behind
//     the real middleware, in this process (the shim too, but in the shim-kill scenario,
//     where it is an `aft serve` process killed with SIGKILL and started again);
//   - dynamodb-txn (with a dynamodb:// store): each function reads in one TransactGetItems
//     and writes in one TransactWriteItems, DynamoDB's own transactions, without
//     idempotency.
//
// # Applications
//
// Three small applications run side by side in every scenario, each in streams of
// requests sent one at a time: counters (each request counted once in a total and in a
// bucket), a social graph (follow edges symmetric) and orders (record, stock reservation
// and payment together, once, or not at all). Every key holds an anomaly.Doc: a number and
// the trail of the requests applied to it, which the checker (package anomaly) reads to
// count fractured reads, read-your-writes violations, partial writes visible after a
// failure, duplicate effects and lost committed writes. Concurrent readers take snapshots
// throughout.
//
// A stream's requests are sequential because aft's read atomic isolation does not order
// two concurrent writers of one key (spec/http-api.md): like an application that
// partitions its data by user, the workload leaves only the platform's retries and
// duplicates to overlap. A request that a stream gives up on is let finish first.
//
// # Results
//
// Run returns a Result per scenario and mode. WriteAll writes a report folder:
//
//	results.json   a JSON array, one Result per scenario and mode (schema in SchemaDoc)
//	run.json       RunInfo: the command, when, the store, the machine
//	results.csv    the Results flat, one row each
//	report.md      the anomaly table, the charts, notes per scenario, the schema
//	anomalies.png, anomalies.svg           anomalies by scenario and mode
//	anomaly-kinds.png, anomaly-kinds.svg   anomalies by kind and mode
//
// The fields of a record of results.json: scenario, mode ("plain", "aft",
// "dynamodb-txn"), requests, acked, deliveries, executions, snapshots, anomalies (an
// object of counts by kind: fractured, ryw, partial, duplicate, lost), and optionally
// examples, injected (the faults that struck), metrics (aft: counters of the middleware
// and the shim), seconds, skipped and error.
package workloads
