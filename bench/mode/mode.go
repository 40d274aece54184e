// Package mode names the ways a load reaches its data, which aft bench and aft workloads
// both compare: one definition of the names, which are also the "mode" strings of their
// results.json.
package mode

// Name is a mode.
type Name string

// The modes.
const (
	// Plain: the same reads and writes straight on the store, one at a time, without
	// transactions.
	Plain Name = "plain"
	// Aft: through aft: the shim's API, or a function behind the middleware using the shim.
	Aft Name = "aft"
	// AftBatch: through the shim's API in batches: a begin carrying the writes and the
	// reads, then the commit (http-api.md, "Batches").
	AftBatch Name = "aft-batch"
	// DynamoDBTxn: DynamoDB's own transactions (TransactWriteItems and TransactGetItems),
	// without idempotency. Only with a dynamodb:// store.
	DynamoDBTxn Name = "dynamodb-txn"
)
