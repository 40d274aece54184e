// Package loopback serves an http.Handler on a free loopback port of this process: the
// functions, gateways and shims that aft bench and aft workloads run in process.
package loopback

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"time"
)

// Server is an HTTP server on a loopback port.
type Server struct {
	URL string // http://127.0.0.1:PORT
	srv *http.Server
}

// Serve serves h on a free loopback port until Close. The server bounds how long a
// request's headers may take to arrive, and keeps its own errors (a client that went away)
// to itself.
func Serve(h http.Handler) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("serve on loopback: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(ln)
	return &Server{URL: "http://" + ln.Addr().String(), srv: srv}, nil
}

// Close stops the server at once, closing its connections.
func (s *Server) Close() error { return s.srv.Close() }
