package workloads

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aft-shim/aft/middleware"
	"github.com/aft-shim/aft/shim/store/faults"
	"github.com/aft-shim/aft/workloads/anomaly"
	"github.com/prometheus/client_golang/prometheus"
)

const (
	readerPause = 2 * time.Millisecond   // between the snapshots of one reader
	thinkTime   = 2 * time.Millisecond   // between the requests of one stream
	settleTime  = 20 * time.Second       // bound on waiting for what still runs at the end
	grace       = 100 * time.Millisecond // after a request given up, for its last commit
)

// stream is a sequence of requests of one app, sent one at a time: aft's read atomic
// isolation does not order concurrent writers of one key (spec/http-api.md), so, as an
// application that partitions its data by user would, the workload keeps the writers of
// a key sequential. Only the platform's retries and duplicates overlap.
type stream struct {
	n       int
	app     app
	keys    []string // every key of the stream, for readers
	session *session
}

// session is a stream's session order over several shim nodes: the version of its last
// committed answer (X-Aft-Version) goes with its next request as Aft-After, as a client
// that reads its own commits on any node does. With one node, or none, it changes nothing.
type session struct {
	mu      sync.Mutex
	version string
}

func (s *session) get() string {
	if s == nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.version
}

func (s *session) set(v string) {
	if s == nil || v == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if v > s.version { // versions compare as strings in version order
		s.version = v
	}
}

// run is one scenario in one mode.
type run struct {
	s       *suite
	sc      Scenario
	mode    Mode
	id      string
	rec     *recorder
	rt      *fnRuntime
	inv     *invoker
	hc      *http.Client
	deps    map[string]*deployment
	streams []stream
	// snap reads as the readers do; final reads the final state, without faults.
	snap, final snapshotter
	// wrap puts the middleware in front of a function in aft mode.
	wrap     func(fn string, h http.Handler) (http.Handler, error)
	sfaults  *faults.Store
	reg      *prometheus.Registry
	closers  []func()
	mu       sync.Mutex
	mws      []*middleware.Middleware
	crashes  sync.WaitGroup
	crashErr error
	// dynamoFaults counts the faults injected into DynamoDB transactions.
	dynamoFaults atomic.Int64
}

// run runs scenario sc in mode m and returns its result.
func (s *suite) run(ctx context.Context, sc Scenario, m Mode) Result {
	res := Result{Scenario: sc.Name, Mode: m}
	if m == Aft && sc.ShimProcess && s.o.ServeCommand == nil {
		res.Skipped = "no `aft serve` command to run the shim as a process"
		return res
	}
	if m == Aft && sc.ShimNodes > 1 && !sharedStore(s.o.Store) {
		res.Skipped = fmt.Sprintf("%d shim nodes need a shared store: run with --store redis://, dynamodb:// or s3://", sc.ShimNodes)
		return res
	}
	r := &run{s: s, sc: sc, mode: m, rec: newRecorder(), deps: map[string]*deployment{},
		id: fmt.Sprintf("%s-%s-%06x", sc.Name, m, rand.N(1<<24))}
	defer r.close()
	if err := r.setup(ctx); err != nil {
		res.Error = err.Error()
		return res
	}
	reqs, err := r.execute(ctx)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	final, err := r.finalState(ctx)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	h := r.rec.history(reqs, final)
	if r.s.o.keep != nil {
		r.s.o.keep(sc, m, h)
	}
	rep := anomaly.Check(h)
	res.Requests = len(reqs)
	for _, q := range reqs {
		if q.Acked {
			res.Acked++
		}
	}
	res.Deliveries = int(r.inv.deliveries.Load())
	res.Executions = r.rec.executions
	res.Snapshots = len(r.rec.snapshots)
	res.Anomalies = rep.Counts
	if len(rep.Examples) > 0 {
		res.Examples = r.shorten(rep.Examples)
	}
	res.Metrics = r.metrics()
	res.Injected = r.injected()
	if r.crashErr != nil {
		res.Error = "restart of the shim: " + r.crashErr.Error()
	}
	return res
}

// setup starts the store, the shim, the pods and the platform of the run.
func (r *run) setup(ctx context.Context) error {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	r.hc = &http.Client{Transport: tr}
	r.closers = append(r.closers, tr.CloseIdleConnections)
	r.rt = &fnRuntime{mode: r.mode, rec: r.rec, fault: r.sc.Fault,
		route:   func(fn string) string { return r.deps[fn].route() },
		killPod: func(p *pod, restart time.Duration) bool { return p.dep.kill(p, restart) }}
	if r.rt.fault == nil {
		r.rt.fault = func(Point) Action { return Action{} }
	}
	var err error
	switch r.mode {
	case Plain:
		err = r.setupPlain(ctx)
	case DynamoTxn:
		err = r.setupDynamo(ctx)
	case Aft:
		err = r.setupAft(ctx)
	default:
		err = fmt.Errorf("unknown mode %q", r.mode)
	}
	if err != nil {
		return err
	}
	pods := max(1, r.sc.Pods)
	for _, fn := range functions(r.sc.Compose) {
		d := &deployment{fn: fn}
		d.newPod = func() (*pod, error) {
			return d.startPod(func(p *pod) (http.Handler, error) { return r.wrap(fn, detach(r.rt.handler(fn, p))) })
		}
		r.deps[fn] = d
		for range pods {
			p, err := d.newPod()
			if err != nil {
				return err
			}
			d.pods = append(d.pods, p)
		}
	}
	r.inv = &invoker{p: r.sc.Platform.withDefaults(), hc: r.hc, route: r.rt.route}
	n := 0
	for _, a := range apps {
		for range r.s.sz.streamsPerApp {
			st := stream{n: n, app: a, session: &session{}}
			for _, k := range a.keys {
				st.keys = append(st.keys, r.key(st, k))
			}
			r.streams = append(r.streams, st)
			n++
		}
	}
	return nil
}

// key returns the store key of key k of stream st.
func (r *run) key(st stream, k string) string {
	return "wl/" + r.id + "/" + st.app.name + "/s" + strconv.Itoa(st.n) + "/" + k
}

// execute runs the streams with the readers beside them, waits until everything
// settled, and returns the requests.
func (r *run) execute(ctx context.Context) ([]anomaly.Request, error) {
	rctx, stopReaders := context.WithCancel(ctx)
	defer stopReaders()
	var readers sync.WaitGroup
	for range r.s.sz.readers {
		readers.Add(1)
		go func() {
			defer readers.Done()
			r.read(rctx)
		}()
	}
	reqs := make([][]anomaly.Request, len(r.streams))
	var streams sync.WaitGroup
	for i, st := range r.streams {
		streams.Add(1)
		go func() {
			defer streams.Done()
			reqs[i] = r.send(ctx, st)
		}()
	}
	streams.Wait()
	err := r.settle(ctx)
	stopReaders()
	readers.Wait()
	return slices.Concat(reqs...), err
}

// read takes snapshots of random streams until ctx ends.
func (r *run) read(ctx context.Context) {
	for ctx.Err() == nil {
		st := r.streams[rand.N(len(r.streams))]
		if s, err := r.snap(ctx, st.keys, ""); err == nil && ctx.Err() == nil {
			r.rec.snapshot(s)
		}
		select {
		case <-ctx.Done():
		case <-time.After(readerPause):
		}
	}
}

// send sends the requests of stream st, one at a time, each until acknowledged or out of
// tries.
func (r *run) send(ctx context.Context, st stream) []anomaly.Request {
	tries := r.sc.ClientTries
	if tries == 0 {
		tries = 3
	}
	var reqs []anomaly.Request
	for i := range r.s.sz.requests {
		short := "s" + strconv.Itoa(st.n) + "-r" + strconv.Itoa(i)
		body, keys := r.invocation(st, i, short)
		d := delivery{fn: st.app.fns[0], body: body, header: r.inv.p.header(requestID(r.id, st.n, i), "s"+strconv.Itoa(st.n)), session: st.session}
		acked := false
		for t := 0; t < tries && !acked && ctx.Err() == nil; t++ {
			if acked = r.inv.invoke(ctx, d, i); !acked {
				time.Sleep(20 * time.Millisecond)
			}
		}
		reqs = append(reqs, anomaly.Request{ID: short, Keys: keys, Acked: acked})
		if !acked {
			// Let what still runs of it end before the next request of the stream.
			wctx, cancel := context.WithTimeout(ctx, settleTime)
			r.rec.idle(wctx, short)
			cancel()
			time.Sleep(grace)
		}
		time.Sleep(thinkTime)
	}
	return reqs
}

// invocation returns the body of request i of stream st, and every key it updates.
func (r *run) invocation(st stream, i int, id string) ([]byte, []string) {
	full := func(keys []string) []string {
		out := make([]string, len(keys))
		for j, k := range keys {
			out[j] = r.key(st, k)
		}
		return out
	}
	extra := r.key(st, st.app.extra(i))
	var in invocation
	if r.sc.Compose {
		ps := st.app.parts(i)
		in = invocation{Keys: full(ps[0].keys), Delta: ps[0].delta, Extra: extra, NextFn: st.app.fns[1],
			Next: &invocation{Request: id, Stream: st.n, Index: i, Keys: full(ps[1].keys), Delta: ps[1].delta, Extra: extra}}
	} else {
		w := st.app.whole(i)
		in = invocation{Keys: full(w.keys), Delta: w.delta, Extra: extra}
	}
	in.Request, in.Stream, in.Index = id, st.n, i
	keys := slices.Clone(in.Keys)
	if in.Next != nil {
		keys = append(keys, in.Next.Keys...)
	}
	body, _ := json.Marshal(in)
	return body, keys
}

// settle waits, within settleTime, until no delivery, execution, zombie or restart of
// the shim runs, then turns the store faults off.
func (r *run) settle(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, settleTime)
	defer cancel()
	wait := func(wg *sync.WaitGroup) {
		done := make(chan struct{})
		go func() {
			wg.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-ctx.Done():
		}
	}
	wait(&r.crashes)
	wait(&r.inv.wg)
	r.rec.idle(ctx, "")
	r.mu.Lock()
	mws := slices.Clone(r.mws)
	r.mu.Unlock()
	for _, mw := range mws {
		mw.Wait(ctx)
	}
	if r.sfaults != nil {
		r.sfaults.Set(faults.Options{})
		r.sfaults.SetDown(false)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("work still running after %v: %w", settleTime, err)
	}
	return nil
}

// finalState reads every key of every stream.
func (r *run) finalState(ctx context.Context) (anomaly.Snapshot, error) {
	final := anomaly.Snapshot{Docs: map[string]anomaly.Doc{}}
	for _, st := range r.streams {
		var s anomaly.Snapshot
		var err error
		for try := 0; try < 5; try++ {
			if s, err = r.final(ctx, st.keys, st.session.get()); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			return final, fmt.Errorf("read the final state: %w", err)
		}
		final.Keys = append(final.Keys, s.Keys...)
		maps.Copy(final.Docs, s.Docs)
	}
	return final, nil
}

// close stops the pods, then the shim and the store.
func (r *run) close() {
	for _, d := range r.deps {
		d.close()
	}
	for i := len(r.closers) - 1; i >= 0; i-- {
		r.closers[i]()
	}
}
