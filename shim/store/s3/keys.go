package s3

import (
	"errors"
	"strings"
)

// Object keys.
//
// S3 itself takes every storage key as it is, but S3-compatible servers that keep objects
// as files do not. MinIO (checked by TestObjectKeysMinIO) refuses object keys with an empty
// path segment ("a//b"), a "." or ".." segment, or a segment over 255 bytes (a file name);
// it keeps an object "a" as a directory a/ holding a file a/xl.meta, so that "a/xl.meta"
// cannot be an object too; and once "a" is an object, ListObjects no longer shows the
// objects under "a/". Storage keys may have all of these: the suite's, and the shim's own
// when a long user key becomes a base64 segment of up to 400 bytes. So the store maps each
// storage key to an object key, segment by segment, with two characters storage keys never
// hold:
//
//   - the last segment ends with '!', so that no object key is a directory of another
//     ("v/a" and "v/a/1" become "v/a!" and "v/a/1!");
//   - a segment over maxChunk bytes is cut into chunks of maxChunk bytes, each but the last
//     followed by "*/" (the last one takes the '!' of a last segment as any other);
//   - any other segment (or last chunk of one) that is empty, ".", "..", "xl.meta" or
//     "xl.meta.bkp" gets a leading '*': "a/./b" becomes "a/*./b!", "/x" becomes "*/x!";
//   - all else is kept as it is: the shim's "v/QUJD/0001" is the object "v/QUJD/0001!".
//
// The mapping is one-to-one and keeps prefixes segment by segment, which List relies on;
// decodeKey accepts only object keys that encodeKey makes.

const (
	// last ends the last segment of every object key.
	last = '!'
	// escape starts a reserved segment, and ends a chunk that the next segment continues.
	escape = '*'
	// maxChunk is the longest run of a storage key segment kept in one object-key segment;
	// with a marker after it, well under the 255 bytes of a file name.
	maxChunk = 200
	// maxKeyLen is the longest storage key (package store).
	maxKeyLen = 512
	// maxObjectKeyLen is S3's limit on an object key, prefix included.
	maxObjectKeyLen = 1024
)

// reserved are the segments, but for the last, stored with a leading escape.
var reserved = []string{"", ".", "..", "xl.meta", "xl.meta.bkp"}

// errBadKey is returned for a storage key outside the contract of package store.
var errBadKey = errors.New("bad storage key")

// checkKey returns an error unless key is made of [A-Za-z0-9._~/-] and at most 512 bytes.
func checkKey(key string) error {
	if len(key) > maxKeyLen {
		return errBadKey
	}
	for i := 0; i < len(key); i++ {
		if !keyChar(key[i]) {
			return errBadKey
		}
	}
	return nil
}

func keyChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '.' || c == '_' || c == '~' || c == '/' || c == '-'
}

func isReserved(seg string) bool {
	for _, r := range reserved {
		if seg == r {
			return true
		}
	}
	return false
}

// encodeKey returns the object key (without the store's prefix) of a storage key.
func encodeKey(key string) string {
	var b strings.Builder
	b.Grow(len(key) + 8)
	segs := strings.Split(key, "/")
	encodeDirs(&b, segs[:len(segs)-1])
	encodeLast(&b, segs[len(segs)-1])
	return b.String()
}

// encodeLast writes the object-key form of the last segment of a key: its chunks, then '!'.
func encodeLast(b *strings.Builder, seg string) {
	seg = chunks(b, seg)
	b.WriteString(seg)
	b.WriteByte(last)
}

// encodeDirs writes the object-key form of segments that are not the last, each followed
// by a "/".
func encodeDirs(b *strings.Builder, segs []string) {
	for _, seg := range segs {
		seg = chunks(b, seg)
		if isReserved(seg) {
			b.WriteByte(escape)
		}
		b.WriteString(seg)
		b.WriteByte('/')
	}
}

// chunks writes the leading chunks of a segment over maxChunk bytes, and returns the rest.
func chunks(b *strings.Builder, seg string) string {
	for len(seg) > maxChunk {
		b.WriteString(seg[:maxChunk])
		b.WriteByte(escape)
		b.WriteByte('/')
		seg = seg[maxChunk:]
	}
	return seg
}

// decodeKey returns the storage key of an object key made by encodeKey, and false for any
// other object key.
func decodeKey(obj string) (string, bool) {
	i := strings.LastIndexByte(obj, '/')
	end := obj[i+1:]
	if len(end) == 0 || end[len(end)-1] != last {
		return "", false
	}
	var b strings.Builder
	b.Grow(len(obj))
	if i >= 0 {
		for _, p := range strings.Split(obj[:i], "/") {
			switch {
			case len(p) > 0 && p[0] == escape:
				b.WriteString(p[1:])
				b.WriteByte('/')
			case len(p) > 0 && p[len(p)-1] == escape:
				b.WriteString(p[:len(p)-1]) // the segment goes on in the next part
			default:
				b.WriteString(p)
				b.WriteByte('/')
			}
		}
	}
	b.WriteString(end[:len(end)-1])
	key := b.String()
	if checkKey(key) != nil || encodeKey(key) != obj {
		return "", false
	}
	return key, true
}

// listPrefix returns an object-key prefix that every object key of a storage key starting
// with prefix starts with. It may match more keys than that (List filters them out): for
// prefix "v/a" it is "v/a", but for "v/." it is "v/", as "v/." may go on as "v/.x/1" (kept
// as it is) or as "v/./1" (stored as "v/*./1!").
func listPrefix(prefix string) string {
	var b strings.Builder
	segs := strings.Split(prefix, "/")
	encodeDirs(&b, segs[:len(segs)-1])
	b.WriteString(partialSegment(segs[len(segs)-1]))
	return b.String()
}

// partialSegment is the object-key prefix of every segment starting with seg, wherever it
// stands in the key.
func partialSegment(seg string) string {
	if len(seg) > maxChunk {
		return seg[:maxChunk] + string(escape) + "/" + partialSegment(seg[maxChunk:])
	}
	for _, r := range reserved {
		if strings.HasPrefix(r, seg) {
			return "" // seg may go on to a reserved segment, stored escaped
		}
	}
	return seg
}

// Ordered keys (ordered.go).
//
// A key of a directory dir (a prefix ending in "/") with a name, the rest of the key, that
// holds no "/" is the object encodeDir(dir) + encodeName(name), and encodeName keeps byte
// order: for a name a and any string b of bytes '!' or above, a < b exactly when
// encodeName(a) < encodeName(b). Both get a chunk marker "*/" after every maxChunk bytes
// when more follow, so up to the first byte where a and b differ their encodings agree, and
// there they differ by those two bytes. When one is a prefix of the other, the shorter one's
// encoding has its '!' where the longer one's has a byte of it or the '*' of a marker (both
// above '!', as every key character is), or, in b, a '!' with more bytes after it: either way the
// shorter one's encoding is the smaller. Across a "/" the order is not kept: an escaped
// segment, "*." for ".", sorts below "-"; ListAfter lists no such keys.

// encodeDir returns the object-key form of dir, a prefix of storage keys ending in "/":
// the prefix of the object key of every key that starts with dir.
func encodeDir(dir string) string {
	var b strings.Builder
	encodeDirs(&b, strings.Split(strings.TrimSuffix(dir, "/"), "/"))
	return b.String()
}

// encodeName returns the object-key form of the last segment of a key, or of any string
// ListAfter compares such segments with.
func encodeName(name string) string {
	var b strings.Builder
	encodeLast(&b, name)
	return b.String()
}
