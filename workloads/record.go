package workloads

import (
	"context"
	"sync"
	"time"

	"github.com/aft-shim/aft/workloads/anomaly"
)

// recorder collects what a run observed, from many goroutines.
type recorder struct {
	mu         sync.Mutex
	completed  map[string]bool
	ownReads   []anomaly.OwnRead
	snapshots  []anomaly.Snapshot
	execs      map[string]int // function + " " + request: executions started
	running    map[string]int // request -> executions running now
	executions int
}

func newRecorder() *recorder {
	return &recorder{completed: map[string]bool{}, execs: map[string]int{}, running: map[string]int{}}
}

// execution counts an execution of fn for request and returns its number, from 1.
func (r *recorder) execution(fn, request string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.execs[fn+" "+request]++
	r.executions++
	return r.execs[fn+" "+request]
}

func (r *recorder) started(request string) {
	r.mu.Lock()
	r.running[request]++
	r.mu.Unlock()
}

func (r *recorder) stopped(request string) {
	r.mu.Lock()
	if r.running[request]--; r.running[request] == 0 {
		delete(r.running, request)
	}
	r.mu.Unlock()
}

// idle waits until no execution of request runs ("": of any request), or ctx ends.
func (r *recorder) idle(ctx context.Context, request string) bool {
	for {
		r.mu.Lock()
		n := len(r.running)
		if request != "" {
			n = r.running[request]
		}
		r.mu.Unlock()
		if n == 0 {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (r *recorder) complete(attempt string) {
	r.mu.Lock()
	r.completed[attempt] = true
	r.mu.Unlock()
}

func (r *recorder) ownRead(o anomaly.OwnRead) {
	r.mu.Lock()
	r.ownReads = append(r.ownReads, o)
	r.mu.Unlock()
}

func (r *recorder) snapshot(s anomaly.Snapshot) {
	r.mu.Lock()
	r.snapshots = append(r.snapshots, s)
	r.mu.Unlock()
}

// history returns what was recorded, with the requests and the final state.
func (r *recorder) history(reqs []anomaly.Request, final anomaly.Snapshot) anomaly.History {
	r.mu.Lock()
	defer r.mu.Unlock()
	done := make(map[string]bool, len(r.completed))
	for k, v := range r.completed {
		done[k] = v
	}
	return anomaly.History{Requests: reqs, Completed: done, Snapshots: append([]anomaly.Snapshot(nil), r.snapshots...),
		OwnReads: append([]anomaly.OwnRead(nil), r.ownReads...), Final: final}
}
