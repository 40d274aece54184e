package workloads

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aft-shim/aft/workloads/anomaly"
)

// Step names a point of a function execution where a fault may strike.
type Step string

// The steps of an execution, in order.
const (
	StepStart   Step = "start"   // before anything
	StepRead    Step = "read"    // after the reads, before any write
	StepWrite   Step = "write"   // after the first write, before the others: half way
	StepWritten Step = "written" // after all writes
	StepEnd     Step = "end"     // after the read-back and the call of the next function, before the answer
)

// Point is where an execution is, as a fault plan sees it.
type Point struct {
	Function string
	Stream   int  // the stream of the request
	Index    int  // the request's number in its stream, from 0
	Exec     int  // which execution of this function for this request: 1 for the first
	Nested   bool // called by another function, in the same request
	Mode     Mode // the mode of the run
	Step     Step
}

// Action is what a fault plan makes happen at a Point. The zero Action does nothing.
type Action struct {
	Crash    bool          // the function's process dies here: its connection breaks
	Sleep    time.Duration // the execution stalls this long here, then goes on
	Status   int           // the function answers this status here and stops (429, 503)
	KillPod  bool          // the pod running the execution is killed here, the execution with it
	Restart  time.Duration // with KillPod: a new pod starts this long after (0: none, scale-down)
	KillShim bool          // the shim process is killed just after this point (then restarted)
}

// invocation is the body of a request to a function.
type invocation struct {
	Request string   `json:"request"` // request id: the trail tags name it
	Stream  int      `json:"stream"`
	Index   int      `json:"index"`
	Keys    []string `json:"keys"`  // the keys this function updates
	Delta   []int64  `json:"delta"` // what it adds to each key's number
	Extra   string   `json:"extra"` // a key it reads without writing it
	// NextFn and Next are the function to call with the rest of the request.
	NextFn string      `json:"next_fn,omitempty"`
	Next   *invocation `json:"next,omitempty"`
	// Attempt and Check are set by a calling function: its attempt, and the key it wrote
	// that the callee reads back.
	Attempt string `json:"attempt,omitempty"`
	Check   string `json:"check,omitempty"`
}

// fnRuntime runs the functions of one run: the same logic in every mode, over the kv of
// the mode.
type fnRuntime struct {
	mode  Mode
	rec   *recorder
	fault func(Point) Action
	// kv returns the storage access of an execution serving r in pod p.
	kv func(r *http.Request, p *pod) (kv, error)
	// route returns the URL of a running pod of a function, "" if none.
	route   func(fn string) string
	killPod func(p *pod, restart time.Duration) bool
	// killShim kills the shim process a moment later, and starts it again.
	killShim func()
	attempts atomic.Int64

	mu       sync.Mutex
	injected map[string]int // faults that struck, by kind
}

// count counts a fault of kind that struck.
func (rt *fnRuntime) count(kind string) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.injected == nil {
		rt.injected = map[string]int{}
	}
	rt.injected[kind]++
}

// errAnswered stops an execution that answered already.
var errAnswered = errors.New("answered")

// handler returns the function fn as it runs in pod p.
func (rt *fnRuntime) handler(fn string, p *pod) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in invocation
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, "bad invocation: "+err.Error(), http.StatusBadRequest)
			return
		}
		rt.rec.started(in.Request)
		defer rt.rec.stopped(in.Request)
		x := &execution{rt: rt, fn: fn, pod: p, w: w, in: in}
		x.pt = Point{Function: fn, Stream: in.Stream, Index: in.Index, Exec: rt.rec.execution(fn, in.Request),
			Nested: in.Attempt != "", Mode: rt.mode}
		x.tag = anomaly.Tag{Request: in.Request, Attempt: in.Attempt}
		if !x.pt.Nested {
			x.tag.Attempt = "a" + strconv.FormatInt(rt.attempts.Add(1), 10)
		}
		switch err := x.run(r); err {
		case nil:
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"request":%q,"attempt":%q}`+"\n", in.Request, x.tag.Attempt)
		case errAnswered:
		default:
			http.Error(w, fn+": "+err.Error(), http.StatusInternalServerError)
		}
	})
}

// execution is one run of one function.
type execution struct {
	rt  *fnRuntime
	fn  string
	pod *pod
	w   http.ResponseWriter
	in  invocation
	pt  Point
	tag anomaly.Tag
}

// at applies the fault plan at step s. It panics with http.ErrAbortHandler when the
// process dies, and returns errAnswered when the function answered a status.
func (x *execution) at(s Step) error {
	x.pod.alive()
	pt := x.pt
	pt.Step = s
	a := x.rt.fault(pt)
	if a.KillShim && x.rt.killShim != nil {
		x.rt.killShim()
	}
	if a.KillPod {
		if x.rt.killPod(x.pod, a.Restart) {
			x.rt.count("pod_kill")
		} else {
			x.rt.count("crash")
		}
		panic(http.ErrAbortHandler)
	}
	if a.Crash {
		x.rt.count("crash")
		panic(http.ErrAbortHandler)
	}
	if a.Sleep > 0 {
		x.rt.count("stall")
		time.Sleep(a.Sleep)
		x.pod.alive()
	}
	if a.Status != 0 {
		x.rt.count("status_" + strconv.Itoa(a.Status))
		http.Error(x.w, fmt.Sprintf("%s: injected %d at %s", x.fn, a.Status, s), a.Status)
		return errAnswered
	}
	return nil
}

// run is the function: read its keys and one more, update its keys, read the first
// back, call the next function, answer.
func (x *execution) run(r *http.Request) error {
	ctx := r.Context()
	if err := x.at(StepStart); err != nil {
		return err
	}
	store, err := x.rt.kv(r, x.pod)
	if err != nil {
		return err
	}
	store = podKV{store, x.pod}
	docs, err := store.read(ctx, append(x.in.Keys[:len(x.in.Keys):len(x.in.Keys)], x.in.Extra))
	if err != nil {
		return err
	}
	if err := x.at(StepRead); err != nil {
		return err
	}
	for i, k := range x.in.Keys {
		if err := store.put(ctx, k, docs[i].Apply(x.tag, x.in.Delta[i])); err != nil {
			return err
		}
		if i == 0 {
			if err := x.at(StepWrite); err != nil {
				return err
			}
		}
	}
	if err := store.flush(ctx); err != nil {
		return err
	}
	if err := x.at(StepWritten); err != nil {
		return err
	}
	check := x.in.Check
	if check == "" {
		check = x.in.Keys[0]
	}
	back, err := store.read(ctx, []string{check})
	if err != nil {
		return err
	}
	x.rt.rec.ownRead(anomaly.OwnRead{Key: check, Want: x.tag.String(), Got: back[0].By})
	if x.in.Next != nil {
		if err := x.callNext(ctx, store); err != nil {
			return err
		}
	}
	if !x.pt.Nested {
		x.rt.rec.complete(x.tag.Attempt)
	}
	return x.at(StepEnd)
}

// callNext calls the next function in the same request and attempt.
func (x *execution) callNext(ctx context.Context, store kv) error {
	next := *x.in.Next
	next.Attempt, next.Check = x.tag.Attempt, x.in.Keys[0]
	body, _ := json.Marshal(next)
	url := x.rt.route(x.in.NextFn)
	if url == "" {
		return fmt.Errorf("call %s: no pod runs it", x.in.NextFn)
	}
	status, err := store.call(ctx, url, body)
	if err != nil {
		return fmt.Errorf("call %s: %w", x.in.NextFn, err)
	}
	if status < 200 || status > 299 {
		http.Error(x.w, fmt.Sprintf("%s: %s answered %d", x.fn, x.in.NextFn, status), http.StatusBadGateway)
		return errAnswered
	}
	return nil
}

// podKV stops an execution whose pod was killed at its next storage access, as the
// death of its process would.
type podKV struct {
	kv
	p *pod
}

func (k podKV) read(ctx context.Context, keys []string) ([]anomaly.Doc, error) {
	k.p.alive()
	return k.kv.read(ctx, keys)
}

func (k podKV) put(ctx context.Context, key string, d anomaly.Doc) error {
	k.p.alive()
	return k.kv.put(ctx, key, d)
}

func (k podKV) flush(ctx context.Context) error {
	k.p.alive()
	return k.kv.flush(ctx)
}
