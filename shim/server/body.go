package server

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/aft-shim/aft/shim/txn"
)

// Defaults of the body read bound (Server.BodyTimeout, Server.BodyMinRate).
const (
	DefaultBodyTimeout = 10 * time.Second
	DefaultBodyMinRate = 64 << 10 // bytes a second
)

// firstChunk is the buffer a body starts in. It doubles as bytes arrive, up to the declared
// length, so that memory follows what arrived, not what a client declared.
const firstChunk = 16 << 10

// Errors of reading a request body, answered through the codes table.
var (
	errBodyTimeout = errors.New("request body arrived too slowly")
	errBadBody     = errors.New("reading the request body failed")
)

// readBody reads the whole body of r, a request of tenant, at most limit bytes; a larger one is a LimitError
// naming what ("value", "result"). Memory is charged to the manager's --max-buffered budget
// (txn.Manager.Reserve) chunk by chunk before it is allocated, so a full budget answers
// ErrBusy. On success the caller holds reserved bytes of that charge and must Release them
// once data is freed or handed to Write; on error nothing stays charged.
//
// The body must keep pace (see setBodyDeadline), else errBodyTimeout. The deadline is set
// before anything else, kept after an error so that it also bounds the HTTP server's reading of an
// unread rest (under 256 KiB) before the answer (whose own pace starts after it: see
// answerAfter), and lifted once the body is read (as the server does too when a body ends),
// so that it never applies to the work that follows.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request, tenant, what string, limit int64) (data []byte, reserved int64, err error) {
	if r.ContentLength == 0 {
		return []byte{}, 0, nil
	}
	rc := http.NewResponseController(w)
	start := time.Now()
	var buf []byte
	defer func() {
		var unread time.Time // a body read whole leaves the server nothing to read before the answer
		if err != nil {
			s.m.Release(tenant, reserved)
			data, reserved = nil, 0
			if p := s.pace(); p.on() {
				unread = p.due(start, int64(len(buf)))
			}
		}
		answerAfter(w, unread)
	}()
	s.setBodyDeadline(rc, start, 0)
	if r.ContentLength > limit {
		return nil, 0, &txn.LimitError{What: what, Size: r.ContentLength, Limit: limit}
	}
	size := r.ContentLength // the server ends the body there
	if size < 0 {
		size = limit // unknown length: up to the limit, then one byte more proves it too large
	}
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) == size {
				if r.ContentLength >= 0 {
					break
				}
				if err := s.probeEnd(rc, r.Body, start, len(buf)); err != nil {
					if errors.Is(err, txn.ErrTooLarge) {
						err = &txn.LimitError{What: what, Size: limit + 1, Limit: limit}
					}
					return nil, reserved, err
				}
				break
			}
			// Grow, charging the growth before allocating it. The charge is the live buffer:
			// the old one is garbage once copied, bounded by the collector (GOGC) like all
			// garbage, not charged with the new one, so a value of --max-buffered bytes fits.
			n := min(size, max(2*int64(cap(buf)), firstChunk))
			if err := s.m.Reserve(tenant, n-reserved); err != nil {
				return nil, reserved, err
			}
			reserved = n
			nb := make([]byte, len(buf), n)
			copy(nb, buf)
			buf = nb
		}
		s.setBodyDeadline(rc, start, len(buf))
		n, err := r.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, reserved, bodyErr(err)
		}
	}
	if s.pace().on() {
		_ = rc.SetReadDeadline(time.Time{})
	}
	if buf == nil {
		buf = []byte{}
	}
	if int64(cap(buf)-len(buf)) > int64(len(buf))/4 {
		// A body of unknown length that ended well short of its buffer: keep only its bytes,
		// since Write charges only len(data).
		exact := make([]byte, len(buf))
		copy(exact, buf)
		s.m.Release(tenant, reserved-int64(len(buf)))
		buf, reserved = exact, int64(len(buf))
	}
	return buf, reserved, nil
}

// maxUnread is the most of a request body that the HTTP server (internal/h1, as net/http's
// maxPostHandlerReadBytes) reads after its handler, so that the connection may serve
// another request; a larger rest closes the connection instead.
const maxUnread = 256 << 10

// boundBody bounds the reading of r's body, if any, from start, before a handler runs. A
// handler that takes no body (status, abort, the probes, an unknown path) leaves it to
// the server, which reads an unread rest under maxUnread before it writes the answer, and
// with no deadline of its own (aft serve sets no ReadTimeout): a client trickling a body
// to such a route would hold its connection and goroutine forever. It gets the pace of a
// body of maxUnread bytes, and its answer's pace starts after that. Handlers that read
// bodies set their own bounds (readBody).
func (s *Server) boundBody(w http.ResponseWriter, r *http.Request, start time.Time) {
	p := s.pace()
	if r.ContentLength == 0 || !p.on() {
		return
	}
	due := p.due(start, maxUnread)
	_ = http.NewResponseController(w).SetReadDeadline(due)
	answerAfter(w, due)
}

// probeEnd reads one byte past a body of unknown length that filled its limit: nil at the
// end, an error matching txn.ErrTooLarge when there is more.
func (s *Server) probeEnd(rc *http.ResponseController, body io.Reader, start time.Time, got int) error {
	var one [1]byte
	for {
		s.setBodyDeadline(rc, start, got)
		n, err := body.Read(one[:])
		switch {
		case n > 0:
			return txn.ErrTooLarge
		case err == io.EOF:
			return nil
		case err != nil:
			return bodyErr(err)
		}
	}
}

// bodyErr names a failed body read: a deadline passed (408), else a broken body (400).
func bodyErr(err error) error {
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return fmt.Errorf("%w: %w (it must start within --body-timeout and then keep up --body-min-rate)", errBodyTimeout, err)
	}
	return fmt.Errorf("%w: %w", errBadBody, err)
}

// setBodyDeadline bounds the next read of a body that started at start and brought got
// bytes by the server's pace. A body that keeps up the minimum rate is never cut, however
// large; one that trickles slower (a client holding memory and a connection open) is cut
// within BodyTimeout + limit/BodyMinRate. Writers without deadlines (in-process tests) are
// read without a bound.
func (s *Server) setBodyDeadline(rc *http.ResponseController, start time.Time, got int) {
	if p := s.pace(); p.on() {
		_ = rc.SetReadDeadline(p.due(start, int64(got)))
	}
}

// pace bounds a body moving either way, a request's as it arrives or an answer's as the
// client reads it: it must start within timeout, then move minRate bytes a second on
// average.
type pace struct {
	timeout time.Duration // 0: no bound
	minRate int64         // 0: timeout bounds the whole body
}

// pace returns the pace of the server's bodies, BodyTimeout and BodyMinRate.
func (s *Server) pace() pace { return pace{s.BodyTimeout, s.BodyMinRate} }

// on reports whether p bounds bodies at all.
func (p pace) on() bool { return p.timeout > 0 }

// due returns when a body that started at start must have moved n bytes: timeout, plus
// one second for every minRate bytes.
func (p pace) due(start time.Time, n int64) time.Time {
	d := p.timeout
	if p.minRate > 0 {
		d += time.Duration(float64(n) / float64(p.minRate) * float64(time.Second))
	}
	return start.Add(d)
}
