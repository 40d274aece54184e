// Package redact hides secrets (passwords, keys, tokens) in store URLs and in texts that
// hold them: the one place that decides what a secret is. Every report, log line, ready
// line and error message that shows a store URL or a command line shows it through here.
package redact

import (
	"net/url"
	"strings"
	"unicode"
)

// hidden stands for a secret that was removed.
const hidden = "xxxxx"

// URL returns the URL s with its secrets hidden, for reports, logs and error messages:
// the password of a URL's user information (redis://user:PASSWORD@host), the same inside
// a query parameter that is itself a URL (s3://b/p?endpoint=http://KEY:SECRET@host), and
// the value of a query parameter whose name says it is a secret (password, secret,
// token, key, signature, credential). A string with no "://" is returned as it is; one
// that does not parse as a URL loses everything between "://" and its last "@".
//
// A text that may hold URLs among other words, such as an error message, goes through Text.
func URL(s string) string {
	i := strings.Index(s, "://")
	if i < 0 {
		return s
	}
	u, err := url.Parse(s)
	if err != nil {
		if at := strings.LastIndexByte(s, '@'); at > i {
			return s[:i+3] + hidden + s[at:]
		}
		return s
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), hidden)
		}
	}
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			u.RawQuery = hidden // an unparsable query may hold anything
		} else if redactQuery(q) {
			u.RawQuery = q.Encode()
		}
	}
	return u.String()
}

// redactQuery hides the secrets among the values of q and says whether it changed any.
func redactQuery(q url.Values) bool {
	changed := false
	for name, vals := range q {
		for i, v := range vals {
			r := URL(v)
			if secretName(name) && v != "" {
				r = hidden
			}
			if r != v {
				vals[i], changed = r, true
			}
		}
	}
	return changed
}

// secretName says whether a query parameter's name marks its value as a secret.
func secretName(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"password", "passwd", "secret", "token", "key", "signature", "credential"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// Text returns text with the secrets of every URL in it hidden: each word (a run of
// characters between spaces) that holds "://" goes through URL. A whole error text, such
// as "redis: dial redis://:PASSWORD@host:6379/0: refused", is safe to pass: URL given the
// whole of it would take it for one opaque URL and hide nothing.
func Text(text string) string {
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
			word = URL(word)
		}
		b.WriteString(word)
		text = text[j:]
	}
	return b.String()
}
