package dynamodb

import (
	"fmt"
	"net/url"
	"strings"
)

// ParseURL returns the options of the store a URL dynamodb://TABLE?region=R&endpoint=URL
// names (the scheme is not checked), or why it names none. Create is left false.
func ParseURL(u *url.URL) (Options, error) {
	var o Options
	if u.Opaque != "" {
		return o, fmt.Errorf("want dynamodb://TABLE?region=R&endpoint=URL")
	}
	if u.Host == "" {
		return o, fmt.Errorf("no table: want dynamodb://TABLE")
	}
	if u.User != nil {
		return o, fmt.Errorf("no user information allowed; credentials come from the AWS SDK's default chain (environment, shared config, instance role)")
	}
	if u.Port() != "" {
		return o, fmt.Errorf("a table name has no port (%q); give the server as ?endpoint=URL", u.Host)
	}
	if u.Path != "" && u.Path != "/" {
		return o, fmt.Errorf("unexpected path %q after the table name", u.Path)
	}
	if u.Fragment != "" {
		return o, fmt.Errorf("unexpected fragment #%s", u.Fragment)
	}
	o.Table = u.Host
	if err := checkTableName(o.Table); err != nil {
		return o, err
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return o, fmt.Errorf("query: %v", err)
	}
	for name, values := range q {
		if len(values) != 1 {
			return o, fmt.Errorf("parameter %s given %d times", name, len(values))
		}
		switch v := values[0]; name {
		case "region":
			if err := checkRegion(v); err != nil {
				return o, err
			}
			o.Region = v
		case "endpoint":
			if err := checkEndpoint(v); err != nil {
				return o, err
			}
			o.Endpoint = strings.TrimSuffix(v, "/")
		default:
			return o, fmt.Errorf("unknown parameter %q; want region and endpoint", name)
		}
	}
	return o, nil
}

// checkRegion accepts region names such as us-east-1 or cn-north-1.
func checkRegion(r string) error {
	if r == "" {
		return fmt.Errorf("empty region")
	}
	for _, c := range r {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("region %q: want a name such as us-east-1", r)
		}
	}
	return nil
}

// checkEndpoint accepts an http or https URL of a server, with no query or fragment.
func checkEndpoint(e string) error {
	u, err := url.Parse(e)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		return fmt.Errorf("endpoint %q: want an http:// or https:// URL such as http://127.0.0.1:8000", e)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("endpoint %q: want only scheme, host, port and path", e)
	}
	return nil
}
