package h1

import (
	"errors"
	"io"
	"net/http"
)

// body is a request's body: Content-Length bytes (remain) or chunked, read from the
// connection's buffer. A request with Expect: 100-continue is told to go on at the first
// read.
type body struct {
	c         *conn
	remain    int64     // of a Content-Length body
	chunked   io.Reader // or the chunked body's reader
	expect    bool      // a 100 Continue is owed before the first read
	continued bool      // and was sent
	eof       bool
	closed    bool
	err       error // a framing error: the connection cannot be kept
}

// maxDiscard is the most of a body its handler left unread that is read to its end so
// that the connection is kept (net/http's maxPostHandlerReadBytes).
const maxDiscard = 256 << 10

func (b *body) Read(p []byte) (int, error) {
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	return b.read(p)
}

func (b *body) read(p []byte) (int, error) {
	if b.eof {
		return 0, io.EOF
	}
	if b.err != nil {
		return 0, b.err
	}
	if b.expect && !b.continued {
		b.continued = true
		if _, err := b.c.rw.Write([]byte("HTTP/1.1 100 Continue\r\n\r\n")); err != nil {
			b.err = err
			return 0, err
		}
	}
	if len(p) == 0 {
		return 0, nil
	}
	if b.chunked != nil {
		n, err := b.chunked.Read(p)
		if err == io.EOF {
			if terr := readTrailer(b.c); terr != nil {
				b.err = terr
				return n, terr
			}
			b.eof = true
		} else if err != nil {
			b.err = unexpected(err)
			return n, b.err
		}
		return n, err
	}
	if int64(len(p)) > b.remain {
		p = p[:b.remain]
	}
	n, err := b.c.br.Read(p)
	b.remain -= int64(n)
	if b.remain == 0 {
		b.eof = true
		return n, io.EOF
	}
	if err != nil {
		b.err = unexpected(err)
		return n, b.err
	}
	return n, nil
}

// unexpected turns an end of the connection within a body into io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Close marks the body closed; what is left of it is dealt with after the handler.
func (b *body) Close() error {
	b.closed = true
	return nil
}

// drain reads what the handler left of the body, up to maxDiscard, and reports whether
// the connection can be kept: the body ended cleanly, and a client told to wait for a 100
// Continue was never told (it sends no body then, and the connection closes).
func (b *body) drain() bool {
	if b.eof {
		return true
	}
	if b.err != nil || b.expect && !b.continued {
		return false
	}
	n, err := io.CopyN(io.Discard, readerFunc(b.read), maxDiscard+1)
	return err == io.EOF && n <= maxDiscard
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// maxTrailer bounds a chunked body's trailer section, which is read and dropped.
const maxTrailer = 8 << 10

var errTrailer = errors.New("h1: chunked body's trailer too large")

// readTrailer reads the trailer section after a chunked body's last chunk, to its empty
// line.
func readTrailer(c *conn) error {
	total := 0
	for {
		line, err := c.tp.ReadLineBytes()
		if err != nil {
			return unexpected(err)
		}
		if len(line) == 0 {
			return nil
		}
		if total += len(line) + 2; total > maxTrailer {
			return errTrailer
		}
	}
}
