package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aft-shim/aft/api"
	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/history"
	"github.com/aft-shim/aft/history/driver"
	"github.com/aft-shim/aft/shim/store"
	"github.com/aft-shim/aft/shim/store/mem"
)

// naiveShim is a deliberately broken implementation of the API subset the driver uses:
// writes go to one shared map at once instead of at commit, reads return whatever the map
// holds (no read atomic rule, no repeatable reads), abort undoes nothing, and idempotency
// keys are ignored, so every attempt commits.
type naiveShim struct {
	mu   sync.Mutex
	seq  uint64
	data map[string]naiveValue
}

type naiveValue struct {
	value   []byte
	version string
}

func newNaiveShim() *naiveShim { return &naiveShim{data: map[string]naiveValue{}} }

// version returns a new version, in the shim's sortable form.
func (s *naiveShim) version(id string) string {
	s.seq++
	return fmt.Sprintf("%016x.%s", s.seq, id)
}

func (s *naiveShim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	if path == "/v1/txns" && r.Method == http.MethodPost {
		b := make([]byte, 16)
		rand.Read(b)
		id := hex.EncodeToString(b)
		answer := map[string]any{"id": id, "status": "running", "attempt": 1}
		if body, _ := io.ReadAll(r.Body); len(body) > 0 {
			answer["results"] = s.batch(id, body)
		}
		naiveJSON(w, http.StatusCreated, answer)
		return
	}
	rest, ok := strings.CutPrefix(path, "/v1/txns/")
	if !ok {
		naiveJSON(w, http.StatusNotFound, map[string]string{"error": "no such endpoint", "code": "not_found"})
		return
	}
	id, tail, _ := strings.Cut(rest, "/")
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case tail == "batch":
		body, _ := io.ReadAll(r.Body)
		s.mu.Unlock()
		results := s.batch(id, body)
		s.mu.Lock()
		naiveJSON(w, http.StatusOK, api.BatchAnswer{Results: results})
	case tail == "commit":
		naiveJSON(w, http.StatusOK, map[string]string{"id": id, "status": "committed", "version": s.version(id)})
	case tail == "abort":
		naiveJSON(w, http.StatusOK, map[string]string{"id": id, "status": "aborted"})
	case strings.HasPrefix(tail, "keys/"):
		key, err := url.PathUnescape(strings.TrimPrefix(tail, "keys/"))
		if err != nil {
			naiveJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error(), "code": "bad_key"})
			return
		}
		switch r.Method {
		case http.MethodGet:
			v, ok := s.data[key]
			if !ok {
				naiveJSON(w, http.StatusNotFound, map[string]string{"error": "no value", "code": "key_not_found"})
				return
			}
			w.Header().Set(api.HeaderVersion, v.version)
			w.Write(v.value)
		case http.MethodPut:
			b, _ := io.ReadAll(r.Body)
			s.data[key] = naiveValue{b, s.version(id)}
			w.WriteHeader(http.StatusNoContent)
		case http.MethodDelete:
			delete(s.data, key)
			w.WriteHeader(http.StatusNoContent)
		}
	default:
		naiveJSON(w, http.StatusNotFound, map[string]string{"error": "no such endpoint", "code": "not_found"})
	}
}

// batch runs the ops of a batch body as naively as the single calls, one at a time.
func (s *naiveShim) batch(id string, body []byte) []api.BatchResult {
	var req api.BatchRequest
	json.Unmarshal(body, &req)
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []api.BatchResult
	for _, o := range req.Ops {
		switch o.Op {
		case api.OpRead:
			v, ok := s.data[o.Key]
			if !ok {
				out = append(out, api.BatchResult{Status: 404, Code: "key_not_found"})
				continue
			}
			b := v.value
			out = append(out, api.BatchResult{Status: 200, Value: &b, Version: v.version})
		case api.OpWrite:
			b := *o.Value
			s.data[o.Key] = naiveValue{b, s.version(id)}
			out = append(out, api.BatchResult{Status: 204})
		case api.OpDelete:
			delete(s.data, o.Key)
			out = append(out, api.BatchResult{Status: 204})
		}
	}
	return out
}

func naiveJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// brokenOptions is the driver workload run against the broken shims: short, and with few
// groups so that transactions collide. It is bounded by a count, so that a slow machine
// runs as much load, and as many chances for every anomaly, as a fast one (1000 take about
// a second here, and show a hundred or more of each kind the tests want); the time bound
// only guards against a hang.
var brokenOptions = driver.Options{
	Clients: 16, Duration: time.Minute, Txns: 1000, Groups: 4, GroupSize: 4,
	ThinkTime: 200 * time.Microsecond, Seed: 11,
}

// runAgainst runs the driver (with o) and Final against the shim at url and checks the
// history.
func runAgainst(t *testing.T, url string, o driver.Options) (driver.Stats, history.Report) {
	t.Helper()
	c := client.New(url)
	var rec history.Recorder
	st, err := driver.Run(t.Context(), c, &rec, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := driver.Final(t.Context(), c, &rec); err != nil {
		t.Fatal(err)
	}
	rep := history.CheckWith(rec.History(), strict)
	t.Logf("driver: %v", st)
	t.Logf("check: %v", rep)
	return st, rep
}

// wantAnomalies fails t unless rep counts some anomalies of every kind in kinds.
func wantAnomalies(t *testing.T, rep history.Report, kinds ...history.Kind) {
	t.Helper()
	for _, k := range kinds {
		if rep.Counts[k] == 0 {
			t.Errorf("the checker found no %s anomaly in a history of a shim that has them", k)
		}
	}
}

// TestCheckerCatchesNaiveShim shows the checker is not blind: the naive shim's histories
// have fractured, dirty and aborted reads and duplicate commits, and the checker says so.
func TestCheckerCatchesNaiveShim(t *testing.T) {
	ts := httptest.NewServer(newNaiveShim())
	defer ts.Close()
	for name, batches := range map[string]float64{"single calls": -1, "batches": 1} {
		t.Run(name, func(t *testing.T) {
			o := brokenOptions
			o.BatchFraction = batches
			st, rep := runAgainst(t, ts.URL, o)
			wantAnomalies(t, rep, history.KindFractured, history.KindDirty, history.KindAborted, history.KindDuplicate)
			if st.BadWinners == 0 {
				t.Errorf("the driver saw no bad idempotency answer from a shim that ignores the keys")
			}
			if st.Errors != 0 {
				t.Errorf("errors %d (%s): the naive shim answers every call", st.Errors, st.LastError)
			}
		})
	}
}

// createIsPut breaks the one conditional write of the commit protocol: Create overwrites.
type createIsPut struct{ store.Store }

func (s createIsPut) Create(ctx context.Context, key string, value []byte) error {
	return s.Store.Put(ctx, []store.Item{{Key: key, Value: value}})
}

// TestCheckerCatchesUnconditionalCreate runs the real shim over a store whose Create is not
// conditional, so that two attempts of one idempotency key may both commit: the checker
// finds the duplicates.
func TestCheckerCatchesUnconditionalCreate(t *testing.T) {
	ts, _ := newShim(t, createIsPut{mem.New()})
	o := brokenOptions
	o.IdemFraction, o.MultiFraction = 1, 1
	_, rep := runAgainst(t, ts.URL, o)
	wantAnomalies(t, rep, history.KindDuplicate)
}

// swapHandler serves with the handler stored last.
type swapHandler struct{ h atomic.Pointer[http.Handler] }

func (s *swapHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*s.h.Load()).ServeHTTP(w, r)
}

func (s *swapHandler) set(h http.Handler) { s.h.Store(&h) }

// TestCheckerCatchesAmnesia replaces the shim mid-run by a fresh one over an empty store, as
// if it restarted without its data: Final finds the lost commits.
func TestCheckerCatchesAmnesia(t *testing.T) {
	var sh swapHandler
	first, _ := newShim(t, mem.New())
	second, _ := newShim(t, mem.New())
	sh.set(first.Config.Handler)
	ts := httptest.NewServer(&sh)
	defer ts.Close()
	// The swap comes once the first shim has committed 200 transactions (fewer than it
	// does in 500 ms here), counted rather than timed so that a slow machine has commits
	// to lose too; the load stops with it.
	stop := make(chan struct{})
	var swap sync.Once
	o := brokenOptions
	o.Groups, o.Txns, o.Stop, o.ProgressEvery = 20, 0, stop, 10*time.Millisecond
	o.OnProgress = func(st driver.Stats) {
		if st.Committed >= 200 {
			swap.Do(func() {
				sh.set(second.Config.Handler)
				close(stop)
			})
		}
	}
	_, rep := runAgainst(t, ts.URL, o)
	wantAnomalies(t, rep, history.KindLost)
}
