package s3

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// ParseURL returns the options of a store URL (spec/cli.md),
//
//	s3://BUCKET/PREFIX?region=R&endpoint=URL&path-style=true
//
// validated as by Options.Validate. PREFIX is a folder: "/" is added when it does not end in
// one, so s3://b/shim stores key K as object shim/K. Every query parameter is optional;
// unknown ones are an error.
func ParseURL(u *url.URL) (Options, error) {
	if u.Scheme != "s3" {
		return Options{}, fmt.Errorf("%w: scheme %q, want s3", ErrBadOptions, u.Scheme)
	}
	if u.Opaque != "" || u.User != nil || u.Port() != "" || u.Fragment != "" {
		return Options{}, fmt.Errorf("%w: want s3://BUCKET/PREFIX?region=R&endpoint=URL&path-style=true", ErrBadOptions)
	}
	o := Options{Bucket: u.Hostname(), Prefix: strings.TrimPrefix(u.Path, "/")}
	if o.Prefix != "" && !strings.HasSuffix(o.Prefix, "/") {
		o.Prefix += "/"
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Options{}, fmt.Errorf("%w: query: %v", ErrBadOptions, err)
	}
	for name, vals := range q {
		if len(vals) != 1 {
			return Options{}, fmt.Errorf("%w: parameter %s given %d times", ErrBadOptions, name, len(vals))
		}
		v := vals[0]
		switch name {
		case "region":
			o.Region = v
		case "endpoint":
			o.Endpoint = v
		case "path-style":
			if o.PathStyle, err = strconv.ParseBool(v); err != nil {
				return Options{}, fmt.Errorf("%w: path-style=%q: want true or false", ErrBadOptions, v)
			}
		default:
			return Options{}, fmt.Errorf("%w: unknown parameter %q; want region, endpoint or path-style", ErrBadOptions, name)
		}
	}
	if err := o.Validate(); err != nil {
		return Options{}, err
	}
	return o, nil
}

// String describes the store of the options in a few words, for logs and the ready line:
// "s3 bucket B prefix P at ENDPOINT".
func (o Options) String() string {
	var b strings.Builder
	b.WriteString("s3 bucket ")
	b.WriteString(o.Bucket)
	if o.Prefix != "" {
		b.WriteString(" prefix ")
		b.WriteString(o.Prefix)
	}
	b.WriteString(" at ")
	switch {
	case o.Endpoint != "":
		b.WriteString(o.Endpoint)
	case o.Region != "":
		b.WriteString("AWS region ")
		b.WriteString(o.Region)
	default:
		b.WriteString("AWS")
	}
	return b.String()
}
