package workloads

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aft-shim/aft/api"
)

// Identity is how a platform names a request, so that every delivery of it carries the
// same name.
type Identity int

// The identities of the platforms modelled.
const (
	// IdempotencyKey is the Idempotency-Key header of a client that retries.
	IdempotencyKey Identity = iota
	// CallID is OpenFaaS's X-Call-Id, kept across the queue-worker's retries.
	CallID
	// CloudEvent is a CloudEvent in binary mode: Ce-Id and Ce-Source (Knative eventing).
	CloudEvent
)

// Platform models how a serverless platform delivers requests to a function: retries
// after failures and timeouts, queue redeliveries, duplicate deliveries. A timeout does not
// stop the function: it runs on, as it does on OpenFaaS and Knative.
type Platform struct {
	// Name says which platform behaviour this is, for the report.
	Name string
	// Attempts bounds the deliveries of one request until one answers 2xx (default 3).
	// A broken connection, 408, 429 and 5xx are retried; another answer is final.
	Attempts int
	// Timeout is how long one delivery is waited for (default 5s).
	Timeout time.Duration
	// Backoff is the wait before the first retry; it doubles with each retry, up to 8
	// times, with full jitter (default 10ms).
	Backoff time.Duration
	// AckWait, when set, makes the platform a queue: a delivery without answer after
	// AckWait is delivered again, while the first one runs on, up to Redeliveries times.
	AckWait      time.Duration
	Redeliveries int
	// Identity is how deliveries name the request.
	Identity Identity
	// Duplicate, when not nil, says whether request i of a stream is delivered twice
	// (each delivery with its own retries) and how long after the first the second starts;
	// a negative delay starts it once the first was answered.
	Duplicate func(i int) (bool, time.Duration)
}

func (p Platform) withDefaults() Platform {
	if p.Attempts == 0 {
		p.Attempts = 3
	}
	if p.Timeout == 0 {
		p.Timeout = 5 * time.Second
	}
	if p.Backoff == 0 {
		p.Backoff = 10 * time.Millisecond
	}
	return p
}

// delivery is what the platform sends for one request.
type delivery struct {
	fn      string
	body    []byte
	header  http.Header
	session *session // of the stream; nil for none
}

// invoker delivers requests as a Platform does, to the pods a route names.
type invoker struct {
	p          Platform
	hc         *http.Client
	route      func(fn string) string
	wg         sync.WaitGroup // deliveries still running, answered or not
	deliveries atomic.Int64
}

// header returns the identity headers of request id of stream stream.
func (p Platform) header(id, stream string) http.Header {
	h := http.Header{}
	switch p.Identity {
	case CallID:
		h.Set(api.HeaderCallID, id)
	case CloudEvent:
		h.Set(api.HeaderCEID, id)
		h.Set(api.HeaderCESource, "/workloads/"+stream)
		h.Set("Ce-Specversion", "1.0")
		h.Set("Ce-Type", "dev.aft.workloads.request")
	default:
		h.Set(api.HeaderIdempotencyKey, id)
	}
	return h
}

// invoke delivers request i and reports whether a delivery was answered 2xx.
func (v *invoker) invoke(ctx context.Context, d delivery, i int) bool {
	dup, delay := false, time.Duration(0)
	if v.p.Duplicate != nil {
		dup, delay = v.p.Duplicate(i)
	}
	if !dup {
		return v.retrying(ctx, d)
	}
	if delay < 0 {
		a := v.retrying(ctx, d)
		return v.retrying(ctx, d) || a
	}
	second := make(chan bool, 1)
	go func() {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
		}
		second <- v.retrying(ctx, d)
	}()
	a := v.retrying(ctx, d)
	return <-second || a
}

// retrying delivers d until a delivery is answered 2xx, or a final answer, or no
// attempt is left.
func (v *invoker) retrying(ctx context.Context, d delivery) bool {
	for a := 1; ; a++ {
		status, err := v.deliver(ctx, d)
		switch {
		case err == nil && status >= 200 && status < 300:
			return true
		case err == nil && !retryable(status), a >= v.p.Attempts, ctx.Err() != nil:
			return false
		}
		ceil := v.p.Backoff << min(a-1, 3)
		select {
		case <-time.After(rand.N(ceil) + time.Millisecond):
		case <-ctx.Done():
			return false
		}
	}
}

func retryable(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}

type answer struct {
	status int
	err    error
}

// deliver sends d once, or, for a queue, as often as AckWait passes without answer, and
// returns the first 2xx answer, else the last answer.
func (v *invoker) deliver(ctx context.Context, d delivery) (int, error) {
	answers := make(chan answer, 1+v.p.Redeliveries)
	send := func() {
		v.wg.Add(1)
		go func() {
			defer v.wg.Done()
			s, err := v.send(ctx, d)
			answers <- answer{s, err}
		}()
	}
	send()
	if v.p.AckWait <= 0 {
		a := <-answers
		return a.status, a.err
	}
	pending, left := 1, v.p.Redeliveries
	t := time.NewTimer(v.p.AckWait)
	defer t.Stop()
	var last answer
	for {
		select {
		case a := <-answers:
			pending--
			if a.err == nil && a.status >= 200 && a.status < 300 {
				return a.status, nil // the other deliveries run on
			}
			last = a
			if pending == 0 {
				return last.status, last.err
			}
		case <-t.C:
			if left > 0 {
				left--
				pending++
				send()
				t.Reset(v.p.AckWait)
			}
		}
	}
}

// send makes one delivery to a running pod of the function, waiting at most Timeout.
func (v *invoker) send(ctx context.Context, d delivery) (int, error) {
	v.deliveries.Add(1)
	url := v.route(d.fn)
	if url == "" {
		url = "http://127.0.0.1:1/" // no pod runs: the connection is refused
	}
	ctx, cancel := context.WithTimeout(ctx, v.p.Timeout)
	defer cancel()
	h := d.header
	if after := d.session.get(); after != "" {
		h = h.Clone()
		h.Set(api.HeaderAfter, after)
	}
	status, answer, err := postAnswer(ctx, v.hc, url, d.body, h)
	if err == nil && status >= 200 && status < 300 {
		d.session.set(answer.Get(api.HeaderCommitVersion))
	}
	return status, err
}

// requestID is the idempotency identity of request i of stream s in run run.
func requestID(run string, s, i int) string {
	return run + ":s" + strconv.Itoa(s) + "-r" + strconv.Itoa(i)
}
