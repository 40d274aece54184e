package h1

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxBuffered is the most of an answer's body held back, so that head and body go out in
// one write; past it the answer streams.
const maxBuffered = 64 << 10

// response is the http.ResponseWriter of one request. The head is made when the handler
// writes it, from the headers as they are then, and sent with the body at the end, or
// when the buffered body passes maxBuffered or the handler flushes.
type response struct {
	c      *conn
	req    *http.Request
	header http.Header

	code        int
	wroteHeader bool
	sent        bool  // the head is on the wire
	cl          int64 // the handler's Content-Length, or -1
	written     int64 // body bytes the handler wrote
	chunked     bool
	noBody      bool // HEAD, 204, 304
	sniff       bool // the handler set no Content-Type: it is guessed from the body
	close       bool // close the connection after this answer
	body        []byte
}

func (w *response) Header() http.Header { return w.header }

func (w *response) WriteHeader(code int) {
	if w.wroteHeader {
		w.c.s.log().Warn("superfluous WriteHeader", "code", code, "path", w.req.URL.Path)
		return
	}
	if code < 100 || code > 999 {
		panic("h1: invalid WriteHeader code " + strconv.Itoa(code))
	}
	if code < 200 {
		return // informational answers are not sent
	}
	w.wroteHeader, w.code = true, code
	w.noBody = w.req.Method == http.MethodHead || code == http.StatusNoContent || code == http.StatusNotModified
	if v := w.header.Get("Content-Length"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
			w.cl = n
		} else {
			w.header.Del("Content-Length")
		}
	}
	if hasToken(w.header["Connection"], "close") || w.req.Close {
		w.close = true
	}
	_, typed := w.header["Content-Type"]
	w.sniff = !typed && !w.noBody
	w.c.head = w.appendHead(w.c.head[:0])
}

// appendHead appends the status line and the handler's headers, without the framing
// headers and the final empty line.
func (w *response) appendHead(b []byte) []byte {
	b = appendStatus(b, w.code)
	for k, vs := range w.header {
		switch k {
		case "Content-Length", "Transfer-Encoding", "Connection", "Date":
			continue
		}
		if !validFieldName(k) {
			continue
		}
		for _, v := range vs {
			b = append(b, k...)
			b = append(b, ": "...)
			b = appendFieldValue(b, v)
			b = append(b, "\r\n"...)
		}
	}
	b = append(b, "Date: "...)
	return time.Now().UTC().AppendFormat(b, http.TimeFormat)
}

func (w *response) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.noBody {
		if w.req.Method == http.MethodHead {
			w.written += int64(len(p))
			return len(p), nil
		}
		return 0, http.ErrBodyNotAllowed
	}
	if w.cl >= 0 && w.written+int64(len(p)) > w.cl {
		return 0, http.ErrContentLength
	}
	w.written += int64(len(p))
	if w.sent {
		return w.writeOut(p)
	}
	if w.cl >= 0 && w.written == w.cl && len(w.body) == 0 && w.bodyDone() {
		// The whole body in one write, and nothing of the request left to read first:
		// head and p go out now, without a copy.
		return len(p), w.send(p)
	}
	if len(w.body)+len(p) <= maxBuffered {
		w.body = append(w.body, p...)
		return len(p), nil
	}
	if err := w.send(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// bodyDone reports whether the request's body was read to its end (or had none).
func (w *response) bodyDone() bool {
	b, ok := w.req.Body.(*body)
	return !ok || b.eof
}

// send writes the head, the buffered body and then p, framed: by the handler's
// Content-Length, by the whole body's length when the handler is done, else chunked
// (HTTP/1.1) or by the connection's close (HTTP/1.0).
func (w *response) send(p []byte) error {
	h := w.c.head
	if w.sniff && len(w.body)+len(p) > 0 {
		first := w.body
		if len(first) == 0 {
			first = p
		}
		h = append(h, "\r\nContent-Type: "...)
		h = append(h, http.DetectContentType(first)...)
	}
	switch {
	case w.code == http.StatusNoContent || w.code == http.StatusNotModified:
	case w.cl >= 0:
		h = append(h, "\r\nContent-Length: "...)
		h = strconv.AppendInt(h, w.cl, 10)
	case w.noBody:
	case w.req.ProtoMinor >= 1:
		w.chunked = true
		h = append(h, "\r\nTransfer-Encoding: chunked"...)
	default:
		w.close = true
	}
	if w.close || w.c.s.shuttingDown() {
		w.close = true
		if w.req.ProtoMinor >= 1 {
			h = append(h, "\r\nConnection: close"...)
		}
	} else if w.req.ProtoMinor == 0 {
		h = append(h, "\r\nConnection: keep-alive"...)
	}
	h = append(h, "\r\n\r\n"...)
	w.c.head, w.sent = h, true
	body := w.body
	w.body = w.body[:0]
	n := len(body) + len(p)
	if w.chunked && n > 0 { // an empty chunk would end the body
		h = appendChunkHead(h, n)
		w.c.head = h
	}
	bufs := net.Buffers{h}
	if len(body) > 0 {
		bufs = append(bufs, body)
	}
	if len(p) > 0 {
		bufs = append(bufs, p)
	}
	if w.chunked && n > 0 {
		bufs = append(bufs, crlf)
	}
	_, err := bufs.WriteTo(w.c.rw)
	if err != nil {
		w.close = true
	}
	return err
}

var crlf = []byte("\r\n")

// appendChunkHead appends the size line of a chunk of n bytes.
func appendChunkHead(b []byte, n int) []byte {
	b = strconv.AppendInt(b, int64(n), 16)
	return append(b, "\r\n"...)
}

// writeOut writes p after the head went out: as a chunk when chunked.
func (w *response) writeOut(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var err error
	if w.chunked {
		bufs := net.Buffers{appendChunkHead(nil, len(p)), p, crlf}
		_, err = bufs.WriteTo(w.c.rw)
	} else {
		_, err = w.c.rw.Write(p)
	}
	if err != nil {
		w.close = true
		return 0, err
	}
	return len(p), nil
}

// finish ends the answer after the handler returned: what is left of the request's body
// is read (up to maxDiscard), the answer goes out, and it reports whether the connection
// is kept.
func (w *response) finish() bool {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if b, ok := w.req.Body.(*body); ok && !b.drain() {
		w.close = true
	}
	if !w.sent {
		if w.cl < 0 && !w.noBody {
			w.cl = int64(len(w.body))
		}
		if w.cl >= 0 && w.written < w.cl {
			w.close = true // short of its Content-Length: the client sees the connection end
		}
		if err := w.send(nil); err != nil {
			return false
		}
	} else if w.chunked {
		if _, err := w.c.rw.Write([]byte("0\r\n\r\n")); err != nil {
			return false
		}
	} else if w.cl >= 0 && w.written < w.cl {
		w.close = true
	}
	if w.close && w.req.Body != http.NoBody {
		if b, ok := w.req.Body.(*body); ok && !b.eof {
			w.c.closeWriteAndWait()
		}
	}
	return !w.close
}

// Flush sends the head and what is buffered now (http.Flusher).
func (w *response) Flush() { w.FlushError() }

// FlushError is Flush, with the write's error (http.ResponseController).
func (w *response) FlushError() error {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.sent {
		return nil
	}
	return w.send(nil)
}

// SetReadDeadline sets the connection's read deadline (http.ResponseController).
func (w *response) SetReadDeadline(t time.Time) error { return w.c.rw.SetReadDeadline(t) }

// SetWriteDeadline sets the connection's write deadline (http.ResponseController).
func (w *response) SetWriteDeadline(t time.Time) error { return w.c.rw.SetWriteDeadline(t) }

// appendStatus appends an answer's status line.
func appendStatus(b []byte, code int) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	if t := http.StatusText(code); t != "" {
		b = append(b, t...)
	} else {
		b = append(b, "status code "...)
		b = strconv.AppendInt(b, int64(code), 10)
	}
	return append(b, "\r\n"...)
}

// validFieldName reports whether k can be sent as a header name.
func validFieldName(k string) bool {
	return validMethod(k) // the same token rule
}

// appendFieldValue appends v with line breaks and other control bytes made spaces, so no
// value can end the header or start another (net/http does the same to CR and LF).
func appendFieldValue(b []byte, v string) []byte {
	if !strings.ContainsFunc(v, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) {
		return append(b, v...)
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < ' ' && c != '\t' || c == 0x7f {
			c = ' '
		}
		b = append(b, c)
	}
	return b
}
