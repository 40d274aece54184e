package launch

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
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

// StablePort returns a free loopback port below the system's range of ephemeral ports, for
// a server that is restarted on the same port: a port in that range may be taken, while the
// server is down, as the local port of some outgoing connection, and then the restart fails
// with "address already in use".
func StablePort() (int, error) {
	low := 32768 // Linux's default start of the ephemeral range
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		var lo, hi int
		if _, err := fmt.Sscan(string(b), &lo, &hi); err == nil && lo > 2048 {
			low = lo
		}
	}
	for range 100 {
		port := 1024 + rand.IntN(low-1024)
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			ln.Close()
			return port, nil
		}
	}
	return 0, fmt.Errorf("find a free loopback port below %d: none of 100 tried was free", low)
}
