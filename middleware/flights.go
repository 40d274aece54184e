package middleware

import "sync"

// flight is one request running attempts in this middleware instance.
type flight struct {
	fp   Fingerprint
	done chan struct{} // closed when ans and err are set
	ans  *answer
	err  error
}

// flights are the requests running attempts, by function and idempotency key, oldest
// first: what the duplicate policies look at.
type flights struct {
	mu sync.Mutex
	m  map[string][]*flight
}

func flightKey(function, key string) string { return function + "\x00" + key }

// start returns the oldest flight running under k (nil if none) and registers a new
// flight of fp under k, returned as f, when there is none or when always is true.
func (fs *flights) start(k string, fp Fingerprint, always bool) (f, running *flight) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.m == nil {
		fs.m = map[string][]*flight{}
	}
	if l := fs.m[k]; len(l) > 0 {
		running = l[0]
	}
	if running == nil || always {
		f = &flight{fp: fp, done: make(chan struct{})}
		fs.m[k] = append(fs.m[k], f)
	}
	return f, running
}

// finish publishes f's outcome to those waiting for it and unregisters it.
func (fs *flights) finish(k string, f *flight, ans *answer, err error) {
	fs.mu.Lock()
	l := fs.m[k]
	for i, g := range l {
		if g == f {
			l = append(l[:i:i], l[i+1:]...)
			break
		}
	}
	if len(l) == 0 {
		delete(fs.m, k)
	} else {
		fs.m[k] = l
	}
	fs.mu.Unlock()
	f.ans, f.err = ans, err
	close(f.done)
}
