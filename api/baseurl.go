package api

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// BaseURL checks raw as the base URL of a node or a relay (http(s)://host:port, a path
// allowed), and returns it with an IPv6 host in brackets. Kubernetes makes such URLs as
// http://$(POD_IP):PORT, which on an IPv6 cluster leaves the address bare: Go's url
// package reads host and port at the last colon, as this does, but no dialer takes the
// bare form, nor any other language's client, so a URL handed to peers and functions
// (Aft-Node, X-Aft-Shim) must have the brackets. (Go's url package refuses the bare form,
// or reads it at the last colon, by GODEBUG.)
func BaseURL(raw string) (string, error) {
	if scheme, rest, ok := strings.Cut(raw, "://"); ok {
		hostport, path := rest, ""
		if i := strings.IndexAny(rest, "/?#"); i >= 0 {
			hostport, path = rest[:i], rest[i:]
		}
		if !strings.ContainsAny(hostport, "[@") && strings.Count(hostport, ":") > 1 {
			i := strings.LastIndex(hostport, ":")
			host, port := hostport[:i], hostport[i+1:]
			if net.ParseIP(host) == nil || port == "" {
				return "", fmt.Errorf("%q: an IPv6 address goes in brackets, with the port after them: http://[fd00::1]:7654", raw)
			}
			raw = scheme + "://" + net.JoinHostPort(host, port) + path
		}
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Port() == "" && strings.Count(u.Host, ":") > 0 {
		return "", fmt.Errorf("%q: want a base URL such as http://10.0.0.2:7654", raw)
	}
	return raw, nil
}
