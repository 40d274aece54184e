package launch

import (
	"bytes"
	"io"
	"strings"
	"sync"
)

// Bounds of the tail of a process's output.
const (
	tailBytes = 4000 // the lines kept, together
	lineBytes = 1000 // one line; the rest of a longer one is cut
)

// output is the combined output of a process: the tail of its lines and the watchers of
// WaitLine.
type output struct {
	mu       sync.Mutex
	lines    []string // the tail, oldest first
	size     int      // bytes in lines
	watchers map[chan string]func(string) (string, bool)
	streams  []*LineWriter
}

func newOutput() *output { return &output{watchers: map[chan string]func(string) (string, bool){}} }

// writer returns the writer of one stream (stdout or stderr), which also writes to next
// when it is not nil.
func (o *output) writer(next io.Writer) io.Writer {
	w := NewLineWriter(o.add)
	o.mu.Lock()
	o.streams = append(o.streams, w)
	o.mu.Unlock()
	if next == nil {
		return w
	}
	return tee{next, w}
}

// tee writes to both writers; an error of the first does not stop the second.
type tee struct{ first, second io.Writer }

func (t tee) Write(b []byte) (int, error) {
	t.first.Write(b)
	return t.second.Write(b)
}

// add keeps a complete line in the tail and hands it to the watchers it matches.
func (o *output) add(line string) {
	if len(line) > lineBytes {
		line = line[:lineBytes] + "..."
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.lines = append(o.lines, line)
	o.size += len(line) + 1
	for o.size > tailBytes && len(o.lines) > 1 {
		o.size -= len(o.lines[0]) + 1
		o.lines = o.lines[1:]
	}
	for ch, match := range o.watchers {
		if v, ok := match(line); ok {
			ch <- v // buffered, and removed at once: never blocks
			delete(o.watchers, ch)
		}
	}
}

// watch returns a channel that receives what match returns for the first line of the
// tail, or the first line to come, that it accepts.
func (o *output) watch(match func(string) (string, bool)) chan string {
	ch := make(chan string, 1)
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, l := range o.lines {
		if v, ok := match(l); ok {
			ch <- v
			return ch
		}
	}
	o.watchers[ch] = match
	return ch
}

func (o *output) unwatch(ch chan string) {
	o.mu.Lock()
	delete(o.watchers, ch)
	o.mu.Unlock()
}

// flush hands on the last line of each stream, once the process exited.
func (o *output) flush() {
	o.mu.Lock()
	streams := o.streams
	o.mu.Unlock()
	for _, w := range streams {
		w.Flush()
	}
}

func (o *output) tail() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return strings.Join(o.lines, "\n")
}

// maxPartial bounds a line that has no newline yet: beyond it, what came is a line.
const maxPartial = 64 << 10

// LineWriter is an io.Writer that splits what is written to it into lines (without "\n"
// or "\r\n") and hands each complete line on; a line longer than 64 KiB is handed on in
// pieces. It is safe for concurrent use; Write never fails.
type LineWriter struct {
	add     func(line string)
	mu      sync.Mutex
	partial []byte
}

// NewLineWriter returns a LineWriter that hands each line to add.
func NewLineWriter(add func(line string)) *LineWriter { return &LineWriter{add: add} }

// Write hands the lines that b completes to the LineWriter's function.
func (w *LineWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, b...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.add(strings.TrimSuffix(string(w.partial[:i]), "\r"))
		w.partial = w.partial[i+1:]
	}
	if len(w.partial) > maxPartial {
		w.add(string(w.partial))
		w.partial = nil
	}
	return len(b), nil
}

// Flush hands on the last line, if it has no newline, once no more is written.
func (w *LineWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.partial) > 0 {
		w.add(string(w.partial))
		w.partial = nil
	}
}
