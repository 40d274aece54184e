package peer

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
)

// ParsePeers checks a --peers list: comma-separated base URLs (http or https) or
// dns+http://NAME:PORT entries. Empty entries are skipped.
func ParsePeers(list string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(list, ",") {
		p = strings.TrimRight(strings.TrimSpace(p), "/")
		if p == "" {
			continue
		}
		u, err := url.Parse(p)
		if err != nil {
			return nil, fmt.Errorf("peer %q: %w", p, err)
		}
		switch {
		case u.Scheme == "dns+http" || u.Scheme == "dns+https":
			if u.Hostname() == "" || u.Port() == "" || u.Path != "" {
				return nil, fmt.Errorf("peer %q: want dns+http://NAME:PORT (a name that resolves to every node, with the port they serve on)", p)
			}
		case u.Scheme == "http" || u.Scheme == "https":
			if u.Host == "" || (u.Path != "" && u.Path != "/") {
				return nil, fmt.Errorf("peer %q: want a base URL such as http://10.0.0.2:7654", p)
			}
		default:
			return nil, fmt.Errorf("peer %q: want a base URL (http:// or https://) or dns+http://NAME:PORT", p)
		}
		out = append(out, p)
	}
	return out, nil
}

// resolve returns the base URLs that peers name now: static ones as they are, a dns+
// entry as one URL per address its name resolves to, sorted, without self. A name that
// does not resolve adds nothing (a headless Service with no ready pod yet).
func resolve(ctx context.Context, r *net.Resolver, peers []string, self string) []string {
	var out []string
	for _, p := range peers {
		scheme, rest, ok := strings.Cut(p, "+")
		if !ok || scheme != "dns" {
			out = append(out, p)
			continue
		}
		u, _ := url.Parse(rest)
		addrs, err := r.LookupHost(ctx, u.Hostname())
		if err != nil {
			continue
		}
		for _, a := range addrs {
			out = append(out, u.Scheme+"://"+net.JoinHostPort(a, u.Port()))
		}
	}
	slices.Sort(out)
	out = slices.Compact(out)
	return slices.DeleteFunc(out, func(p string) bool { return sameNode(p, self) })
}

// sameNode reports whether base URLs a and b name one node.
func sameNode(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	return err1 == nil && err2 == nil && ua.Host == ub.Host && ua.Scheme == ub.Scheme
}
