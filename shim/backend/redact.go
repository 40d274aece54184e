package backend

import (
	"net/url"
	"strings"
)

// hidden stands for a secret that Redact removed.
const hidden = "xxxxx"

// Redact returns s with the secrets of any URL in it hidden, for reports, logs and error
// messages: the password of a URL's user information (redis://user:PASSWORD@host), the
// same inside a query parameter that is itself a URL (s3://b/p?endpoint=http://KEY:SECRET@host),
// and the value of a query parameter whose name says it is a secret (password, secret,
// token, key, signature, credential). A string with no "://" is returned as it is; one
// that does not parse as a URL loses everything between "://" and its last "@".
//
// It is the one place that decides what a secret in a store URL is: `aft workloads`,
// `aft bench` and the error messages of this package all show store URLs through it.
func Redact(s string) string {
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
			r := Redact(v)
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
