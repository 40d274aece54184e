package s3

import (
	"math/rand/v2"
	"strings"
	"testing"
)

func TestEncodeKey(t *testing.T) {
	long := strings.Repeat("a", 450)
	c := strings.Repeat("c", maxChunk)
	tests := []struct {
		key, want string
	}{
		{"v/QUJD/0001", "v/QUJD/0001!"},
		{"r/k/abc", "r/k/abc!"},
		{"v", "v!"},
		{"", "!"},
		{"/", "*/!"},
		{"r/", "r/!"},
		{"/x", "*/x!"},
		{"k///x", "k/*/*/x!"},
		{".", ".!"},
		{"..", "..!"},
		{"./..", "*./..!"},
		{"...", "...!"},
		{"a/./b/../c", "a/*./b/*../c!"},
		{".x/x.", ".x/x.!"},
		{"a/xl.meta", "a/xl.meta!"},
		{"a/xl.meta/b", "a/*xl.meta/b!"},
		{"a/xl.meta.bkp/b", "a/*xl.meta.bkp/b!"},
		{"a/xl.metaX/b", "a/xl.metaX/b!"},
		{"~/-/_", "~/-/_!"},
		{c, c + "!"},
		{c + "d", c + "*/d!"},
		{c + "/d", c + "/d!"},
		{c + "d/e", c + "*/d/e!"},
		{"v/" + long + "/1", "v/" + long[:200] + "*/" + long[200:400] + "*/" + long[400:] + "/1!"},
		{"v/" + long, "v/" + long[:200] + "*/" + long[200:400] + "*/" + long[400:] + "!"},
		{c + "../x", c + "*/*../x!"},
		{c + "..", c + "*/..!"},
	}
	for _, tt := range tests {
		got := encodeKey(tt.key)
		if got != tt.want {
			t.Errorf("encodeKey(%q) = %q, want %q", tt.key, got, tt.want)
		}
		if key, ok := decodeKey(got); !ok || key != tt.key {
			t.Errorf("decodeKey(%q) = %q, %v, want %q", got, key, ok, tt.key)
		}
	}
}

func TestDecodeKeyRejects(t *testing.T) {
	for _, obj := range []string{
		"",            // no last segment
		"a",           // no '!' at the end
		"a/",          // an empty last segment, without '!'
		"a!/b!",       // '!' inside
		"a*",          // a chunk with nothing after it
		"*a/b!",       // an escape on a segment that needs none
		"a/./b!",      // a bare "." segment
		"a//b!",       // an empty segment
		"a*/b!",       // a chunk shorter than maxChunk
		"a*b!",        // '*' inside a segment
		"a b!",        // a character outside the key alphabet
		"xl.meta/a!",  // a reserved segment without its escape
		"**/a!",       // an escape of an escape
		"a/b*/*c/d!",  // a chunk too short, then an escaped plain segment
		"a/!!",        // two markers
		"v/QUJD/0001", // a storage key as it is
	} {
		if key, ok := decodeKey(obj); ok {
			t.Errorf("decodeKey(%q) = %q, true; want false", obj, key)
		}
	}
}

// randomKey returns a key of up to n bytes, biased towards the characters and segments the
// encoding treats specially.
func randomKey(r *rand.Rand, n int) string {
	pieces := []string{"/", "/", ".", "..", "xl.meta", "a", "b", "~", "-", "x", "l", strings.Repeat("z", maxChunk-1)}
	var b strings.Builder
	for b.Len() < n && r.IntN(12) != 0 {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	s := b.String()
	return s[:min(len(s), n)]
}

// TestEncodeKeyProperties checks, on random keys, what the store relies on: decoding inverts
// encoding, no two keys share an object key, object keys are valid on file-system-backed
// servers and none is a directory of another, and listPrefix(p) is a prefix of the object key of every key starting with p.
func TestEncodeKeyProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	seen := make(map[string]string)
	for range 20000 {
		key := randomKey(r, maxKeyLen)
		obj := encodeKey(key)
		if got, ok := decodeKey(obj); !ok || got != key {
			t.Fatalf("decodeKey(encodeKey(%q)) = %q, %v", key, got, ok)
		}
		if other, dup := seen[obj]; dup && other != key {
			t.Fatalf("keys %q and %q share object key %q", key, other, obj)
		}
		seen[obj] = key
		parts := strings.Split(obj, "/")
		for i, seg := range parts {
			if seg == "" || seg == "." || seg == ".." || seg == "xl.meta" || seg == "xl.meta.bkp" || len(seg) > 255 {
				t.Fatalf("object key %q of %q has segment %q", obj, key, seg)
			}
			// No object key may be a directory of another: only the last segment ends in '!'.
			if ends := strings.HasSuffix(seg, "!"); ends != (i == len(parts)-1) {
				t.Fatalf("object key %q of %q: segment %d %q ends in '!': %v", obj, key, i, seg, ends)
			}
		}
		for i := 0; i <= len(key); i++ {
			if lp := listPrefix(key[:i]); !strings.HasPrefix(obj, lp) {
				t.Fatalf("key %q: object key %q does not start with listPrefix(%q) = %q", key, obj, key[:i], lp)
			}
		}
	}
}

func TestListPrefix(t *testing.T) {
	long := strings.Repeat("a", maxChunk)
	tests := []struct {
		prefix, want string
	}{
		{"", ""},
		{"v/", "v/"},
		{"v/a", "v/a"},
		{"v/a/", "v/a/"},
		{"r", "r"},
		{"v/.", "v/"},
		{"v/x", "v/"},
		{"v/xl.met", "v/"},
		{"v/xy", "v/xy"},
		{"/", "*/"},
		{"v//", "v/*/"},
		{"a/./", "a/*./"},
		{"a/xl.meta/", "a/*xl.meta/"},
		{long, long},
		{long + "b", long + "*/b"},
		{long + ".", long + "*/"},
		{long + "/", long + "/"},
		{long + "b/", long + "*/b/"},
	}
	for _, tt := range tests {
		if got := listPrefix(tt.prefix); got != tt.want {
			t.Errorf("listPrefix(%q) = %q, want %q", tt.prefix, got, tt.want)
		}
	}
}

// randomName returns a name of up to n bytes with no "/", biased towards the chunk
// boundary and the characters at the ends of the key alphabet.
func randomName(r *rand.Rand, n int) string {
	pieces := []string{"-", ".", "0", "9", "A", "_", "a", "z", "~", "xl.meta", strings.Repeat("m", maxChunk-1), strings.Repeat("m", maxChunk)}
	var b strings.Builder
	for b.Len() < n && r.IntN(6) != 0 {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	s := b.String()
	return s[:min(len(s), n)]
}

// TestStartAfter checks ListAfter's mapping against the definition on random names and
// bounds: the object of key dir+name sorts after the StartAfter of (dir, after) exactly when
// dir+name sorts after after.
func TestStartAfter(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	s := newStore(&fakeAPI{}, "bkt", "p/", 0)
	dirs := []string{"l/1700000000/", "l/", "l/./", "l/a/xl.meta/", "l/" + strings.Repeat("d", 250) + "/"}
	odd := []string{"!", " ", "\x00", "/", "*", "\xff", "!!", "/x"}
	for range 3000 {
		dir := dirs[r.IntN(len(dirs))]
		var after string
		switch r.IntN(6) {
		case 0:
			after = ""
		case 1:
			after = dir[:r.IntN(len(dir))] // a prefix of dir: below every key of it
		case 2: // a string that differs from dir before its end
			i := r.IntN(len(dir))
			after = dir[:i] + string(dir[i]+byte(r.IntN(3))-1) + randomName(r, 20)
		case 3:
			after = dir + randomName(r, 450) + odd[r.IntN(len(odd))] + randomName(r, 20)
		default:
			after = dir + randomName(r, 450)
		}
		start, done := s.startAfter(dir, after)
		for range 20 {
			name := randomName(r, 450)
			if r.IntN(3) == 0 && strings.HasPrefix(after, dir) { // near after
				rest := after[len(dir):]
				name = rest[:r.IntN(len(rest)+1)] + randomName(r, 3)
				if checkKey(name) != nil || strings.Contains(name, "/") {
					continue
				}
			}
			key := dir + name
			obj := s.prefix + encodeKey(key)
			if want := s.prefix + encodeDir(dir) + encodeName(name); obj != want {
				t.Fatalf("object of %q: encodeKey gives %q, encodeDir+encodeName %q", key, obj, want)
			}
			want := key > after
			got := !done && obj > start
			if got != want {
				t.Fatalf("dir %q, after %q: start %q, done %v: object %q of key %q listed %v, want %v", dir, after, start, done, obj, key, got, want)
			}
		}
	}
}
