package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aft-shim/aft/api"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// TxnRequest is the body of one hit of an open-loop run and of one invocation of
// ShapeFunction: the keys of one transaction of the shape, drawn by the targeter.
type TxnRequest struct {
	Writes []string `json:"w"`
	Reads  []string `json:"r"`
	Size   int      `json:"size"` // bytes per written value
}

// ShapeTargeter returns a vegeta.Targeter of POST requests to url, each with a TxnRequest
// body of a fresh draw of keys of the shape s. It is safe for concurrent use.
func ShapeTargeter(url string, s Shape, seed int64) vegeta.Targeter {
	var mu sync.Mutex
	pick := keyPicker(rand.New(rand.NewSource(seed)), s)
	hdr := http.Header{"Content-Type": []string{"application/json"}}
	return func(t *vegeta.Target) error {
		if t == nil {
			return vegeta.ErrNilTarget
		}
		req := TxnRequest{Writes: make([]string, s.Writes), Reads: make([]string, s.Reads), Size: s.ValueSize}
		mu.Lock()
		for i := range req.Writes {
			req.Writes[i] = pick()
		}
		for i := range req.Reads {
			req.Reads[i] = pick()
		}
		mu.Unlock()
		body, err := json.Marshal(req)
		if err != nil {
			return fmt.Errorf("targeter: %w", err)
		}
		*t = vegeta.Target{Method: http.MethodPost, URL: url, Body: body, Header: hdr}
		return nil
	}
}

// TxnScheme is the URL scheme of the virtual endpoint that TxnTransport serves: a
// request to aft-txn://shim/ is one whole transaction.
const TxnScheme = "aft-txn"

// TxnTransport is an http.RoundTripper that serves the virtual transaction endpoint: it runs
// each request's TxnRequest as one transaction with Fn (for an aft run, the begin, write,
// read and commit calls to the shim, each a real HTTP request) and answers 200 when it
// committed, 503 with the error otherwise. Vegeta, which paces single HTTP requests, thus
// paces whole transactions and measures their latency from the first call to the last.
type TxnTransport struct {
	Fn TxnFunc

	mu     sync.Mutex
	values map[int][]byte // a random value per size, shared read-only by all transactions
}

// RoundTrip runs one transaction.
func (tt *TxnTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	var req TxnRequest
	if r.Body != nil {
		err := json.NewDecoder(r.Body).Decode(&req)
		r.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("txn transport: %w", err)
		}
	}
	status, msg := http.StatusOK, "committed"
	if err := tt.Fn(r.Context(), req.Writes, req.Reads, tt.value(req.Size)); err != nil {
		status, msg = http.StatusServiceUnavailable, err.Error()
	}
	return &http.Response{
		Status: strconv.Itoa(status) + " " + http.StatusText(status), StatusCode: status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{},
		Body: io.NopCloser(strings.NewReader(msg)), ContentLength: int64(len(msg)), Request: r,
	}, nil
}

func (tt *TxnTransport) value(size int) []byte {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	if tt.values == nil {
		tt.values = map[int][]byte{}
	}
	v, ok := tt.values[size]
	if !ok {
		v = make([]byte, size)
		rand.New(rand.NewSource(int64(size))).Read(v)
		tt.values[size] = v
	}
	return v
}

// OpenOptions bound an open-loop run.
type OpenOptions struct {
	Rate     float64       // requests per second, constant (vegeta.ConstantPacer), rounded to a whole number
	Duration time.Duration // how long requests are sent (answers are then awaited)
	// MaxWorkers bounds the requests in flight (default 512): past it, vegeta cannot keep
	// the rate, and the run's throughput shows it.
	MaxWorkers uint64
	Timeout    time.Duration // per request (default 30s)
	// Progress, when set, is called every ProgressEvery with the requests answered so far.
	Progress      func(done int64, elapsed time.Duration)
	ProgressEvery time.Duration
}

// OpenResult is the outcome of an open-loop run.
type OpenResult struct {
	Requests, Successes, Errors int64
	Retried                     int64 // successes whose X-Aft-Attempts was above 1
	Elapsed                     time.Duration
	Codes                       map[string]int64 // answers by HTTP status, "0" for none
	LastErr                     string
	lat                         *hist // of the successes
}

// Throughput returns the successes per second.
func (r OpenResult) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Successes) / r.Elapsed.Seconds()
}

// Attack sends the targets of tr through hc at a constant rate with vegeta until the
// duration ends or ctx does, and collects the answers. A 2xx answer is a success; its
// latency counts from the moment vegeta sent the request.
func Attack(ctx context.Context, tr vegeta.Targeter, hc *http.Client, o OpenOptions) (OpenResult, error) {
	if o.Rate < 1 || o.Duration <= 0 {
		return OpenResult{}, fmt.Errorf("attack: rate %v/s and duration %v: both must be positive (rate at least 1/s)", o.Rate, o.Duration)
	}
	if o.MaxWorkers == 0 {
		o.MaxWorkers = 512
	}
	c := *hc
	if c.Timeout = o.Timeout; c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	atk := vegeta.NewAttacker(vegeta.Client(&c), vegeta.Workers(min(o.MaxWorkers, 16)), vegeta.MaxWorkers(o.MaxWorkers), vegeta.MaxBody(256))
	pacer := vegeta.ConstantPacer{Freq: int(o.Rate + 0.5), Per: time.Second}
	start := time.Now()
	results := atk.Attack(tr, pacer, o.Duration, "aft-bench")
	stop := context.AfterFunc(ctx, func() { atk.Stop() })
	defer stop()

	res := OpenResult{Codes: map[string]int64{}, lat: new(hist)}
	var tick <-chan time.Time
	if o.Progress != nil && o.ProgressEvery > 0 {
		t := time.NewTicker(o.ProgressEvery)
		defer t.Stop()
		tick = t.C
	}
	for done := false; !done; {
		select {
		case r, ok := <-results:
			if !ok {
				done = true
				break
			}
			res.add(r)
		case <-tick:
			o.Progress(res.Successes, time.Since(start))
		}
	}
	res.Elapsed = time.Since(start)
	if o.Progress != nil {
		o.Progress(res.Successes, res.Elapsed)
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("attack: %w", err)
	}
	return res, nil
}

func (res *OpenResult) add(r *vegeta.Result) {
	res.Requests++
	res.Codes[strconv.Itoa(int(r.Code))]++
	if r.Code >= 200 && r.Code < 300 && r.Error == "" {
		res.Successes++
		res.lat.add(r.Latency)
		if n, _ := strconv.Atoi(r.Headers.Get(api.HeaderAttempts)); n > 1 {
			res.Retried++
		}
		return
	}
	res.Errors++
	res.LastErr = r.Error
	if b := bytes.TrimSpace(r.Body); len(b) > 0 {
		res.LastErr += ": " + string(b)
	}
}

// ErrStatus is the error of an HTTP answer that is not 2xx, in closed-loop runs.
var ErrStatus = errors.New("not a 2xx answer")

// HTTPTxn runs the shape as one POST of a TxnRequest to url (a function, directly or
// through the middleware), for closed-loop runs: an answer other than 2xx is an error.
func HTTPTxn(hc *http.Client, url string) TxnFunc {
	return func(ctx context.Context, writeKeys, readKeys []string, value []byte) error {
		body, err := json.Marshal(TxnRequest{Writes: writeKeys, Reads: readKeys, Size: len(value)})
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("%w: %s: %s", ErrStatus, resp.Status, bytes.TrimSpace(msg))
		}
		return nil
	}
}
