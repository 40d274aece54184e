//go:build unix

package client

import (
	"net"
	"syscall"
)

// canPeek: Transport can tell an idle connection the server closed (open), so it serves
// plain-HTTP requests itself.
const canPeek = true

// open reports whether c, an idle connection, is still open: nothing to read and no end of
// stream, without blocking. A connection it cannot look into counts as closed.
func open(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := false
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// Nothing to read (EAGAIN) is an open, idle connection; an end of stream (0) or data
		// the server sent unasked both end it.
		alive = n < 0 && (err == syscall.EAGAIN || err == syscall.EWOULDBLOCK)
		return true // done: do not wait for readiness
	})
	return err == nil && alive
}
