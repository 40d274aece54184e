package folder

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode"

	"github.com/aft-shim/aft/shim/backend"
)

// Redact returns text with the secrets of every URL in it hidden: each word (a run of
// characters between spaces) that holds "://" goes through backend.Redact, which alone
// decides what a secret is. A whole error text, such as
// "redis: dial redis://:PASSWORD@host:6379/0: refused", is safe to pass: backend.Redact
// given the whole of it would take it for one opaque URL and hide nothing.
func Redact(text string) string {
	if !strings.Contains(text, "://") {
		return text
	}
	var b strings.Builder
	for len(text) > 0 {
		i := strings.IndexFunc(text, func(r rune) bool { return !unicode.IsSpace(r) })
		if i < 0 {
			b.WriteString(text)
			break
		}
		b.WriteString(text[:i])
		text = text[i:]
		j := strings.IndexFunc(text, unicode.IsSpace)
		if j < 0 {
			j = len(text)
		}
		word := text[:j]
		if strings.Contains(word, "://") {
			word = backend.Redact(word)
		}
		b.WriteString(word)
		text = text[j:]
	}
	return b.String()
}

// redactJSON returns the JSON document doc with Redact applied to every string in it,
// keys included. The rest of doc, its layout too, is kept byte for byte.
func redactJSON(doc []byte) []byte {
	if !bytes.Contains(doc, []byte("://")) {
		return doc
	}
	var out []byte
	for {
		i := bytes.IndexByte(doc, '"')
		if i < 0 {
			return append(out, doc...)
		}
		out = append(out, doc[:i]...)
		doc = doc[i:]
		end := 1 // the closing quote: the first one that no backslash escapes
		for end < len(doc) && doc[end] != '"' {
			if doc[end] == '\\' {
				end++
			}
			end++
		}
		end = min(end+1, len(doc))
		lit := doc[:end]
		var s string
		if bytes.Contains(lit, []byte("://")) && json.Unmarshal(lit, &s) == nil {
			if r := Redact(s); r != s {
				lit, _ = json.Marshal(r) // a string always encodes
			}
		}
		out = append(out, lit...)
		doc = doc[end:]
	}
}
