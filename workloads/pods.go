package workloads

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aft-shim/aft/internal/loopback"
)

// pod is one running instance of a function: an HTTP server on a loopback port, with the
// middleware in front of the function in aft mode.
type pod struct {
	dep  *deployment
	url  string
	srv  *loopback.Server
	dead atomic.Bool
}

// alive stops the calling execution, as the death of its process would, once the pod was
// killed.
func (p *pod) alive() {
	if p.dead.Load() {
		panic(http.ErrAbortHandler)
	}
}

// deployment is the pods of one function, picked in turn.
type deployment struct {
	fn     string
	mu     sync.Mutex
	pods   []*pod
	next   int
	newPod func() (*pod, error)
	wg     sync.WaitGroup // restarts pending
	closed bool
}

// startPod starts a pod of d whose handler handler(p) returns.
func (d *deployment) startPod(handler func(p *pod) (http.Handler, error)) (*pod, error) {
	p := &pod{dep: d}
	h, err := handler(p)
	if err != nil {
		return nil, fmt.Errorf("pod of %s: %w", d.fn, err)
	}
	if p.srv, err = loopback.Serve(h); err != nil {
		return nil, fmt.Errorf("pod of %s: %w", d.fn, err)
	}
	p.url = p.srv.URL + "/" + d.fn
	return p, nil
}

// route returns the URL of the next running pod, "" if none runs.
func (d *deployment) route() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	for range d.pods {
		p := d.pods[d.next%len(d.pods)]
		d.next++
		if !p.dead.Load() {
			return p.url
		}
	}
	return ""
}

// live returns the number of running pods.
func (d *deployment) live() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, p := range d.pods {
		if !p.dead.Load() {
			n++
		}
	}
	return n
}

// kill kills p: its server closes every connection at once and its executions die at
// their next step. A new pod starts after restart; with restart 0 (scale-down) none
// does, and the last running pod is not removed.
// It reports whether it killed p.
func (d *deployment) kill(p *pod, restart time.Duration) bool {
	if restart <= 0 && d.live() <= 1 {
		return false
	}
	if p.dead.Swap(true) {
		return false
	}
	p.srv.Close()
	if restart <= 0 {
		return true
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		time.Sleep(restart)
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.closed {
			return
		}
		if np, err := d.newPod(); err == nil {
			d.pods = append(d.pods, np)
		}
	}()
	return true
}

// close stops every pod.
func (d *deployment) close() {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	d.wg.Wait()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range d.pods {
		p.dead.Store(true)
		p.srv.Close()
	}
}
