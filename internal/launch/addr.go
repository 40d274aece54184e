package launch

import (
	"fmt"
	"net"
)

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
