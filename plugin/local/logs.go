package local

import (
	"io"
	"sync"
	"time"

	"github.com/aft-shim/aft/internal/launch"
)

// ring keeps the last lines a process wrote; its writer is a launch.LineWriter.
type ring struct {
	mu    sync.Mutex
	lines []logLine
	max   int
}

type logLine struct {
	at   time.Time
	text string
}

// newRing returns a ring of max lines and the writer that fills it.
func newRing(max int) (*ring, io.Writer) {
	r := &ring{max: max}
	return r, launch.NewLineWriter(r.add)
}

func (r *ring) add(line string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, logLine{at: time.Now(), text: line})
	if len(r.lines) > r.max {
		r.lines = r.lines[len(r.lines)-r.max:]
	}
}

func (r *ring) snapshot() []logLine {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]logLine(nil), r.lines...)
}
