package server

import (
	"net/http"
	"time"
)

// answerWriter is the writer the handlers answer through. It remembers the status code
// written, for metrics, and paces the answer as request bodies are paced: each write of
// n bytes (and the header) must be taken by the client within the pace's timeout plus one
// second for every min-rate bytes, a write deadline set before it. So a client that asks
// for a large answer (a 64 MiB value, a batch's) and never reads it holds its handler's
// goroutine, and the value the answer pins, for a bounded time, not forever; one that
// reads at the minimum rate is never cut. Each write is bounded from its own start, so
// the time a handler takes to make its answer (a slow store, a metrics scrape) is not
// charged to the client. The server sets its idle deadline after its final write, before the
// connection's next request. Writers without deadlines (in-process tests) answer without
// a bound.
type answerWriter struct {
	http.ResponseWriter
	code  int
	pace  pace
	after time.Time // no write's clock starts earlier (answerAfter)
}

func (w *answerWriter) WriteHeader(code int) {
	w.code = code
	w.bound(0)
	w.ResponseWriter.WriteHeader(code)
}

func (w *answerWriter) Write(p []byte) (int, error) {
	w.bound(len(p))
	return w.ResponseWriter.Write(p)
}

// bound sets the deadline of a write of n bytes about to start. It also replaces a
// server-wide WriteTimeout that a slow handler outlived.
func (w *answerWriter) bound(n int) {
	if !w.pace.on() {
		return
	}
	start := time.Now()
	if start.Before(w.after) {
		start = w.after
	}
	_ = http.NewResponseController(w.ResponseWriter).SetWriteDeadline(w.pace.due(start, int64(n)))
}

// answerAfter starts the clock of w's writes no earlier than t, when w is an answerWriter:
// after a request body that was not read to its end, the server reads an unread rest under
// maxUnread before it writes the answer, for as long as the body's read deadline t lets it.
func answerAfter(w http.ResponseWriter, t time.Time) {
	if aw, ok := w.(*answerWriter); ok {
		aw.after = t
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *answerWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
