package txn

import "fmt"

// Reserve charges n bytes that the caller is about to allocate for a request (a body as it
// arrives) against MaxBufferedBytes, the budget of the write buffers, so that memory held
// for requests in flight is bounded by the same flag as memory held by transactions. It
// charges nothing and returns an error matching ErrBusy when the budget would be exceeded.
// Every Reserve that succeeded must be matched by Release(n) once the bytes are freed or
// handed to Write, which charges what it keeps by itself.
func (m *Manager) Reserve(n int64) error {
	if n <= 0 {
		return nil
	}
	if total := m.buffered.Add(n); total > m.cfg.MaxBufferedBytes {
		m.buffered.Add(-n)
		return fmt.Errorf("%w: %d more bytes for a request body would pass --max-buffered %d", ErrBusy, n, m.cfg.MaxBufferedBytes)
	}
	return nil
}

// Release gives back n bytes charged by Reserve.
func (m *Manager) Release(n int64) {
	if n > 0 {
		m.buffered.Add(-n)
	}
}
