package local

import (
	"bytes"
	"sync"
	"time"
)

// ring keeps the last lines a process wrote.
type ring struct {
	mu      sync.Mutex
	lines   []logLine
	max     int
	partial []byte
}

type logLine struct {
	at   time.Time
	text string
}

func newRing(max int) *ring { return &ring{max: max} }

// Write splits p into lines; it never fails.
func (r *ring) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.partial = append(r.partial, p...)
	for {
		i := bytes.IndexByte(r.partial, '\n')
		if i < 0 {
			break
		}
		r.lines = append(r.lines, logLine{at: time.Now(), text: string(r.partial[:i])})
		r.partial = r.partial[i+1:]
		if len(r.lines) > r.max {
			r.lines = r.lines[len(r.lines)-r.max:]
		}
	}
	return len(p), nil
}

func (r *ring) snapshot() []logLine {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]logLine(nil), r.lines...)
}
