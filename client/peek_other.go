//go:build !unix

package client

import "net"

// canPeek: without MSG_PEEK, Transport could not tell an idle connection the server closed,
// and would write requests to dead ones; it sends everything through its Fallback instead.
const canPeek = false

func open(net.Conn) bool { return false }
