package launch

import (
	"fmt"
	"net"
	"strings"
	"unicode"
)

// servePrefix begins the line `aft serve` prints once it serves (spec/cli.md).
const servePrefix = "aft serve: listening on "

// ServeAddr is the match of WaitLine for `aft serve`: it accepts the line aft serve prints
// once it serves, such as "aft serve: listening on 127.0.0.1:7654 (store: mem://)", and
// returns the address it names. Only that line counts: other lines may name other
// addresses. The printing side, shim/serve, has the same parser (serve.ReadyAddr): once
// both are on one branch, callers should use that one and this copy go.
func ServeAddr(line string) (string, bool) {
	rest, ok := strings.CutPrefix(line, servePrefix)
	if !ok {
		return "", false
	}
	if i := strings.IndexFunc(rest, unicode.IsSpace); i >= 0 {
		rest = rest[:i]
	}
	return rest, rest != ""
}

// FreeAddr returns a loopback address, 127.0.0.1:PORT, with a port nobody listened on a
// moment ago. Another process may take it before the caller's child binds it; callers
// that can should let the child pick its port (--listen 127.0.0.1:0) and read it back.
func FreeAddr() (string, error) {
	a, err := free()
	if err != nil {
		return "", err
	}
	return a.String(), nil
}

// FreePort returns the port of a FreeAddr.
func FreePort() (int, error) {
	a, err := free()
	if err != nil {
		return 0, err
	}
	return a.Port, nil
}

func free() (*net.TCPAddr, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("find a free loopback port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr), nil
}
