package launch

import (
	"fmt"
	"net"
	"regexp"
)

// ServeReady matches the line `aft serve` prints once it serves (spec/cli.md), such as
// "aft serve: listening on 127.0.0.1:7654 (store: bolt ./aft-data)"; its submatch 1 is the
// address. Only that line counts: other lines may name other addresses. The printing side
// is cmd/aft/serve.go (moving to package shim/serve); keep the two together.
var ServeReady = regexp.MustCompile(`^aft serve: listening on (\S+)`)

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
