// Package h1 is a lean HTTP/1.1 server for the shim's API: it serves an http.Handler as
// net/http's Server does, at a third less CPU per call.
//
// net/http's Server, for every request, starts a background read on the connection (to
// learn of a client gone while the handler runs) and stops it after the handler: a
// goroutine, an extra read and a wake-up; it answers a body over 4 KiB in two writes. On
// the shim's call path those cost about as much as the call's own work (issue 14: go test
// -bench . ./internal/h1 compares the two). This server reads a request, runs the handler
// on the connection's goroutine and writes the answer in one write, header and body
// together, for answers up to 64 KiB; longer ones stream, with a Content-Length when the
// handler set one, else chunked.
//
// What it keeps of net/http's behaviour, because the shim's bounds rely on it:
//   - HeaderTimeout bounds the arrival of a request's line and headers, counted from its
//     first byte; IdleTimeout the wait for that byte between requests.
//   - MaxHeaderBytes bounds the line and headers together: more is answered 431.
//   - WriteTimeout is every answer's write deadline unless the handler sets its own through
//     http.ResponseController (SetReadDeadline and SetWriteDeadline work on its writer).
//   - A body the handler left unread is read to its end, up to 256 KiB, before the answer
//     (under the read deadline the handler left), so the connection can be kept; a longer
//     rest closes the connection after the answer.
//   - Expect: 100-continue is answered when the handler first reads the body.
//   - Request bodies with Content-Length or chunked; a request with both, or any other
//     transfer coding, is refused (400, 501), as a smuggling guard.
//   - Shutdown stops listening, closes idle connections and waits for the others.
//
// What it leaves out: HTTP/2 (the shim never enabled it), trailers, Hijack, and the
// cancelling of a request's context when its client goes away before the answer (a
// handler runs to its end; the shim's calls are short and bounded by their own timeouts).
// Errors before a handler runs (a malformed request, headers too large) are answered with
// ErrorBody's body.
package h1

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Server serves Handler on the listeners given to Serve.
type Server struct {
	Handler        http.Handler
	HeaderTimeout  time.Duration // a request's line and headers arrive within this of their first byte (0: no bound)
	MaxHeaderBytes int           // the most bytes of a request's line and headers (0: 1 MiB)
	WriteTimeout   time.Duration // an answer's write deadline unless its handler sets one (0: none)
	IdleTimeout    time.Duration // a kept-alive connection waits this long for a request (0: no bound)
	// ErrorBody makes the body of an error answered before a handler runs (nil: plain text).
	ErrorBody func(status int, msg string) (contentType string, body []byte)
	Log       *slog.Logger // accept errors and handler panics (nil: discarded)

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	closing   bool
}

// defaultMaxHeaderBytes is MaxHeaderBytes's default, net/http's.
const defaultMaxHeaderBytes = 1 << 20

// Serve accepts connections on ln and serves each on its own goroutine until Shutdown or
// Close, and then returns http.ErrServerClosed; any other error is ln's. ln is closed when
// Serve returns.
func (s *Server) Serve(ln net.Listener) error {
	if !s.track(ln, true) {
		ln.Close()
		return http.ErrServerClosed
	}
	defer s.track(ln, false)
	var backoff time.Duration
	for {
		rw, err := ln.Accept()
		if err != nil {
			if s.shuttingDown() {
				return http.ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log().Warn("accept failed; retrying", "err", err, "in", backoff)
				time.Sleep(backoff)
				continue
			}
			ln.Close()
			return err
		}
		backoff = 0
		c := newConn(s, rw)
		if !s.trackConn(c, true) {
			rw.Close()
			return http.ErrServerClosed
		}
		go c.serve()
	}
}

// isTemporary reports whether an accept error is worth a retry (too many open files).
func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// Shutdown stops listening, closes idle connections, and waits until every connection has
// answered its request and closed, or ctx ends (then its error).
func (s *Server) Shutdown(ctx context.Context) error {
	s.stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if s.closeIdle() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Close stops listening and closes every connection at once.
func (s *Server) Close() error {
	s.stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.rw.Close()
	}
	return nil
}

// stop marks the server closing and closes its listeners.
func (s *Server) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closing = true
	for ln := range s.listeners {
		ln.Close()
	}
	s.listeners = nil
}

// closeIdle closes the connections waiting for a request and reports whether none is left.
func (s *Server) closeIdle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.state.CompareAndSwap(stateIdle, stateClosed) {
			c.rw.Close()
		}
	}
	return len(s.conns) == 0
}

func (s *Server) shuttingDown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// track adds or removes ln; adding fails once the server is closing.
func (s *Server) track(ln net.Listener, add bool) bool { return track(s, &s.listeners, ln, add) }

// trackConn adds or removes c; adding fails once the server is closing.
func (s *Server) trackConn(c *conn, add bool) bool { return track(s, &s.conns, c, add) }

// track adds k to the set m of s, or removes it; adding fails once s is closing.
func track[K comparable](s *Server, m *map[K]struct{}, k K, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(*m, k)
		return true
	}
	if s.closing {
		return false
	}
	if *m == nil {
		*m = map[K]struct{}{}
	}
	(*m)[k] = struct{}{}
	return true
}

func (s *Server) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

func (s *Server) maxHeaderBytes() int64 {
	if s.MaxHeaderBytes > 0 {
		return int64(s.MaxHeaderBytes)
	}
	return defaultMaxHeaderBytes
}
