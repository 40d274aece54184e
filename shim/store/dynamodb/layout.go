package dynamodb

import (
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aft-shim/aft/shim/store"
)

// Attribute names of the layout (see the package documentation).
const (
	attrPK    = "pk"
	attrSK    = "sk"
	attrValue = "v"
)

// shards is the number of partition key values of each group; part of the layout.
const shards = 32

// maxKeyLen is the longest storage key (package store).
const maxKeyLen = 512

// maxItemSize is DynamoDB's item size limit: the lengths of all attribute names and values.
const maxItemSize = 400 << 10

// MaxValueSize is the largest value Put, Create and PutCreate accept: the item limit less
// 2 KiB for the key attributes and the attribute names, which take at most
// len("pk")+515 + len("sk")+512 + len("v") = 1,032 bytes (a pk is GROUP#SS, at most
// 512+3 bytes, or the directory of a key under store.OrderedPrefix, at most 512).
const MaxValueSize = maxItemSize - 2<<10

// maxTransactBytes bounds the items of one TransactWriteItems (DynamoDB allows 4 MB).
const maxTransactBytes = 4_000_000

// maxTransactItems is the most actions one TransactWriteItems may hold.
const maxTransactItems = 100

// maxBatch is the most requests one BatchWriteItem may hold.
const maxBatch = 25

// group returns the group of key: up to and including its first "/", or "" without one.
func group(key string) string {
	if i := strings.IndexByte(key, '/'); i >= 0 {
		return key[:i+1]
	}
	return ""
}

// shardOf returns the shard of key.
func shardOf(key string) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % shards)
}

// partition returns the partition key value of shard of group g.
func partition(g string, shard int) string {
	return fmt.Sprintf("%s#%02x", g, shard)
}

// directory returns key up to and including its last "/", or "" without one.
func directory(key string) string {
	return key[:strings.LastIndexByte(key, '/')+1]
}

// pkOf returns the partition key value of key: its directory, unsharded, for a key under
// store.OrderedPrefix (one partition per directory of the commit log, which ListAfter
// queries); GROUP#SS for any other key. Every item's pk comes from here.
func pkOf(key string) string {
	if strings.HasPrefix(key, store.OrderedPrefix) {
		return directory(key)
	}
	return partition(group(key), shardOf(key))
}

// keyAttrs returns the primary key attributes of key.
func keyAttrs(key string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		attrPK: &types.AttributeValueMemberS{Value: pkOf(key)},
		attrSK: &types.AttributeValueMemberS{Value: key},
	}
}

// itemAttrs returns the whole item of key holding value. The SDK serializes value during
// the call, and the store does not keep it afterwards.
func itemAttrs(key string, value []byte) map[string]types.AttributeValue {
	if value == nil {
		value = []byte{} // a nil B is not sent at all; an empty value is still a value
	}
	m := keyAttrs(key)
	m[attrValue] = &types.AttributeValueMemberB{Value: value}
	return m
}

// itemSize is the size DynamoDB counts for the item of key holding a value of n bytes.
func itemSize(key string, n int) int {
	return len(attrPK) + len(pkOf(key)) + len(attrSK) + len(key) + len(attrValue) + n
}

// checkKey rejects keys DynamoDB cannot hold as a sort key. The shim never makes them.
func checkKey(key string) error {
	if key == "" {
		return fmt.Errorf("empty key")
	}
	if len(key) > maxKeyLen {
		return fmt.Errorf("key of %d bytes, limit %d", len(key), maxKeyLen)
	}
	return nil
}

// keyOf returns the storage key of an item read back, or "" when it has none.
func keyOf(item map[string]types.AttributeValue) string {
	if s, ok := item[attrSK].(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

// valueOf returns the value of an item read back, never nil, and whether it had one.
func valueOf(item map[string]types.AttributeValue) ([]byte, bool) {
	b, ok := item[attrValue].(*types.AttributeValueMemberB)
	if !ok {
		return nil, false
	}
	if b.Value == nil {
		return []byte{}, true
	}
	return b.Value, true
}
