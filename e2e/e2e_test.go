// Package e2e runs the history driver against whole shims and checks the histories: the
// real shim in process, deliberately broken shims (to show the checker is not blind), and
// the real `aft serve` binary killed with SIGKILL mid-load and restarted.
//
// The package holds tests only.
package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aft-shim/aft/shim/shimtest"

	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/history"
	"github.com/aft-shim/aft/history/driver"
	"github.com/aft-shim/aft/shim/store"
	"github.com/aft-shim/aft/shim/store/mem"
	"github.com/aft-shim/aft/shim/txn"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv("AFT_E2E_FUNCTION"); mode != "" {
		serveFunction(mode) // started by a provider as a function process
		return
	}
	code := m.Run()
	cleanupBinary()
	os.Exit(code)
}

// strict are the checker options for the shim, which gives Aft-Version on a 404 that read
// a tombstone.
var strict = history.Options{StrictTombstones: true}

// newShim returns the real shim over st, served by an httptest server closed at cleanup.
// The stores here are in process: a write that reports failure has landed, if at all,
// before the call returned, so the settle time of an abort after a failed commit is short.
func newShim(t *testing.T, st store.Store) (*httptest.Server, *txn.Manager) {
	return shimtest.StartStore(t, st, txn.Config{SettleTime: 10 * time.Millisecond})
}

// metric reads one unlabelled counter or gauge from the shim's /metrics.
func metric(ctx context.Context, baseURL, name string) (float64, error) {
	return metricLabel(ctx, baseURL, name, "")
}

// metricLabel reads the series of a counter or gauge whose labels are exactly labels
// (`from="peer"`), or the unlabelled series for "".
func metricLabel(ctx context.Context, baseURL, name, labels string) (float64, error) {
	if labels != "" {
		name += "{" + labels + "}"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("metrics: %w", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("metrics: %w", err)
	}
	return 0, fmt.Errorf("metrics: no %s", name)
}

// summary counts what makes a history meaningful.
type summary struct {
	txns             int
	committedWriters int // Committed transactions that wrote or deleted
	multiKeyReaders  int // transactions that read two or more keys written by others
	tombstoneReads   int // external not-found reads that carried a version
	ownReads         int // reads of the transaction's own write
	repeatedReads    int // external reads of a key read before in the same transaction
	keyed            int // transactions with an idempotency key
}

func (s summary) String() string {
	return fmt.Sprintf("txns=%d committed-writers=%d multi-key-readers=%d tombstone-reads=%d own-reads=%d repeated-reads=%d keyed=%d",
		s.txns, s.committedWriters, s.multiKeyReaders, s.tombstoneReads, s.ownReads, s.repeatedReads, s.keyed)
}

func summarize(h []history.Txn) summary {
	s := summary{txns: len(h)}
	for _, t := range h {
		written := map[string]bool{}
		read := map[string]bool{}
		wrote := false
		for _, op := range t.Ops {
			switch {
			case op.Kind != history.Read:
				written[op.Key], wrote = true, true
			case written[op.Key]:
				s.ownReads++
			default:
				if read[op.Key] {
					s.repeatedReads++
				}
				if op.Found {
					read[op.Key] = true
				} else if op.Version != "" {
					s.tombstoneReads++
				}
			}
		}
		if wrote && t.Outcome == history.Committed {
			s.committedWriters++
		}
		if len(read) >= 2 {
			s.multiKeyReaders++
		}
		if t.IdemKey != "" {
			s.keyed++
		}
	}
	return s
}

// atLeast fails t for every figure below its floor.
func atLeast(t *testing.T, figures map[string][2]int64) {
	t.Helper()
	for name, f := range figures {
		if f[0] < f[1] {
			t.Errorf("%s = %d, want at least %d: the workload did not exercise it", name, f[0], f[1])
		}
	}
}

// TestShimInProcess runs the driver against the real shim over the in-memory store and
// requires a meaningful history without anomalies.
func TestShimInProcess(t *testing.T) {
	ts, _ := newShim(t, mem.New())
	c := client.New(ts.URL)
	var rec history.Recorder
	st, err := driver.Run(t.Context(), c, &rec, driver.Options{
		Clients: 16, Duration: 60 * time.Second, Txns: 4000, // bounded by count: a loaded machine is slower, not shorter
		Groups: 4, GroupSize: 4, Seed: 7,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := driver.Final(t.Context(), c, &rec); err != nil {
		t.Fatal(err)
	}
	h := rec.History()
	rep := history.CheckWith(h, strict)
	sum := summarize(h)
	skipped, err := metric(t.Context(), ts.URL, "aft_versions_skipped_total")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("driver: %v", st)
	t.Logf("history: %v; versions skipped: %v; check: %v", sum, skipped, rep)
	if !rep.OK() {
		t.Errorf("anomalies: %v", rep)
	}
	if st.BadWinners != 0 || st.Errors != 0 {
		t.Errorf("bad winners %d (%s), errors %d (%s); want none", st.BadWinners, st.LastBadWinner, st.Errors, st.LastError)
	}
	if n, err := driver.VerifyIdemKeys(t.Context(), c, h); err != nil {
		t.Errorf("verify %d idempotency keys: %v", n, err)
	}
	atLeast(t, map[string][2]int64{
		"committed writers":  {int64(sum.committedWriters), 300},
		"multi-key readers":  {int64(sum.multiKeyReaders), 300},
		"tombstone reads":    {int64(sum.tombstoneReads), 10},
		"own-write reads":    {int64(sum.ownReads), 50},
		"repeated reads":     {int64(sum.repeatedReads), 50},
		"fenced attempts":    {st.Fenced, 10},
		"deduplicated begin": {st.Dedup, 5},
		"aborted on purpose": {st.Aborted, 20},
		"batches":            {st.Batches, 300},
		"versions skipped":   {int64(skipped), 1},
	})
}
