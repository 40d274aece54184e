package folder

import (
	"bytes"
	"encoding/json"

	"github.com/aft-shim/aft/internal/redact"
)

// redactJSON returns the JSON document doc with redact.Text applied to every string in it,
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
			if r := redact.Text(s); r != s {
				lit, _ = json.Marshal(r) // a string always encodes
			}
		}
		out = append(out, lit...)
		doc = doc[end:]
	}
}
