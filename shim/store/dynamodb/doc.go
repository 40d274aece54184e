// Package dynamodb is a store.Store on an Amazon DynamoDB table, through
// github.com/aws/aws-sdk-go-v2.
//
// # Table layout
//
// The table has a composite primary key of two strings and one binary attribute:
//
//	pk  (partition key, S)  GROUP#SS: the key's first path segment and a shard;
//	                        for a key under l/, the key's directory
//	sk  (sort key, S)       the storage key itself
//	v   (B)                 the value (possibly empty)
//
// GROUP is the storage key up to and including its first "/" ("v/" for the shim's data
// versions, "r/" for its commit records), or "" for a key without a "/". SS is two hex
// digits, the FNV-1a hash of the whole key modulo 32. So "v/k/123.abc" lives at
// pk "v/#1f", sk "v/k/123.abc". Keys hold only [A-Za-z0-9._~/-], so "#" cannot occur in
// GROUP and the mapping is one to one. The shard count and the hash are part of the
// layout: changing either needs a new table.
//
// Why this layout: the shim lists two prefixes, "v/" (keys only) and "r/" (with values),
// at start-up and in background sweeps. Here listing a prefix that contains a "/" is 32
// strongly consistent Queries on the partitions of its group, with begins_with on the sort
// key, so it reads only the items of that group: listing the commit records does not read
// the data versions, nor the other way round. (A prefix without a "/" falls back to a
// consistent Scan of the table; the shim never lists one. So does a prefix under l/: its
// directories are partitions of their own, which only a Scan finds, so such a List costs a
// read of the whole table; the shim never lists l/ on the request path.) The shards spread
// each group's writes over 32 partition key values, so that neither group is a hot
// partition.
//
// The alternative, partition key = storage key plus a sparse global secondary index on the
// first segment, would make a keys-only listing of "v/" cheaper still (a KEYS_ONLY index
// does not read the values, whereas a Query on the table is charged for whole items even
// with a projection). It is not used because index reads are only eventually consistent:
// a listing could miss a commit record written just before a crash, and recovery at
// start-up must see every one of them. Correctness comes first; the price is that a sweep
// of "v/" reads the data versions' bytes.
//
// # The commit log: one partition per directory
//
// Keys under store.OrderedPrefix, "l/", are the exception to GROUP#SS: their partition
// key is the key's directory (the key up to and including its last "/"), unsharded. So
// "l/1700000000/00ab.x" lives at pk "l/1700000000/", sk "l/1700000000/00ab.x". Such a
// value contains no "#" (keys cannot hold one), whereas every GROUP#SS value does, so the
// two kinds never collide. Every other key keeps its place: tables made before this rule
// stay valid, as the shim wrote no key under l/ before it.
//
// Why: l/ holds the shim's commit log, one key per commit in a directory per second of
// commits, and a node reads from it "what landed since" its last look: the keys of one
// directory in key order after a cursor (store.Ordered). With the directory as partition
// key, that is ListAfter, strongly consistent Queries of one partition in sort key order,
// keys only, reading nothing else. Only the keys directly in the directory are in its
// partition; those of a subdirectory are in the subdirectory's.
//
// The price is a limit on the commit rate: a directory is one partition, and DynamoDB
// takes at most about 1,000 write units a second on one partition. So one second's
// directory takes at most about 1,000 writes a second, from all the nodes sharing the
// table together, and about 500 commits a second when each is one PutCreate transaction
// (a transactional write of an item costs two write units). Past that, writes are
// throttled and retried, and commits slow down; more throughput needs another log
// layout, not more nodes.
//
// # Operations
//
// Get is a consistent GetItem. ListAfter is consistent Queries of the directory's
// partition, a page at a time up to its limit. Put and Delete are BatchWriteItem calls of
// 25 requests, a few in parallel, retrying UnprocessedItems (and throttled calls) with
// backoff. Create is a PutItem with the condition attribute_not_exists(pk). PutCreate is
// one TransactWriteItems (the items and the conditional put of the record) when it fits a
// transaction (100 actions, 4 MB); larger commits fall back to the shim's two-step order,
// see PutCreate. Values are limited to MaxValueSize, DynamoDB's 400 KiB item limit less
// room for the key and attribute names.
//
// # Credentials and retries
//
// Open uses the AWS SDK's default configuration chain (environment, shared config and
// credentials files, SSO, web identity, container and instance roles) for the region and
// credentials. Only for a local endpoint (a loopback host, or plain http to a host outside
// amazonaws.com) does it differ: the chain skips the instance metadata service (an
// instance role is no use to a local server, and looking for one off EC2 can take
// seconds); when the chain yields no credentials at all, requests are signed with static
// dummy ones, which DynamoDB Local accepts; and the CRC32 check of answers is off (DynamoDB
// Local sends no checksum with its errors, which the SDK reports as a mismatch).
//
// The SDK retries throttling (ProvisionedThroughputExceeded, ThrottlingException,
// RequestLimitExceeded), transaction conflicts, 5xx answers, connection errors and
// answers that take over 30 s to start, up to 10 attempts with jittered exponential
// backoff from 50 ms to 2 s, and without the SDK's client-side retry quota, which would
// otherwise turn sustained throttling into immediate failures of every call.
package dynamodb
