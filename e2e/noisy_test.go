package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/shim/auth"
)

// flood is a noisy tenant: floods of begins that are never ended and of large writes into
// them, at full speed, ignoring Retry-After. It counts what it was refused (429). Stopped,
// it lets the calls under way finish and aborts the transactions it began, so that the
// node is as before the flood.
func flood(ctx context.Context, c *client.Client, workers int, value []byte) (stop func() (calls, busy int64)) {
	done := make(chan struct{})
	var calls, busy atomic.Int64
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var began []string
			for n := 0; ; n++ {
				select {
				case <-done:
					for _, id := range began {
						c.Abort(ctx, id)
					}
					return
				default:
				}
				tx, err := c.Begin(ctx, "")
				calls.Add(1)
				if err == nil {
					began = append(began, tx.ID)
					err = c.Put(ctx, tx.ID, fmt.Sprintf("big/%d/%d", i, n), value)
					calls.Add(1)
				}
				if err != nil && strings.Contains(err.Error(), "tenant_busy") {
					busy.Add(1)
				}
			}
		}()
	}
	return func() (int64, int64) { close(done); wg.Wait(); return calls.Load(), busy.Load() }
}

// TestNoisyTenant: tenant a floods begins it never ends and 1 MiB writes into them; tenant
// b's steady transactions keep within 3x of their throughput and median latency alone, and
// none fails, because a meets its own limits (429 tenant_busy) long before the node's. Run
// again without the per-tenant limits, the same flood takes the node's limits whole, and b
// is refused (which shows that the flood matters): the figures of both are logged.
//
// b's figures alone and beside the flood are taken in alternating windows (the flood
// stopped and its transactions aborted between them), and the ratios of each pair are
// compared by their median: a machine whose speed swings (a CI VM with CPU steal) spoils
// a pair, not most. Unhurt, b keeps 0.7x to 1.4x of its throughput alone, by the pair (its
// 4 workers share 2 CPUs with a's 32, and the machine's speed swings); hurt by a flood that
// meets no limit of its own, b fails, at a hundredth of its throughput alone.
func TestNoisyTenant(t *testing.T) {
	bin := aftBinary(t)
	tokens := map[string]string{"a": auth.NewToken(), "b": auth.NewToken()}
	value := make([]byte, 1<<20)
	run := func(tenantLimits bool, pairs int) (alone, noisy []steadyStats, calls, busy int64) {
		dir := t.TempDir()
		authPath := filepath.Join(dir, "auth")
		writeAuth(t, authPath, tokens)
		flags := []string{"--auth-file", authPath, "--no-sync", "--max-running", "400", "--max-buffered", "128MiB",
			"--max-value-size", "2MiB", "--txn-timeout", "30s"}
		if tenantLimits {
			flags = append(flags, "--tenant-max-running", "100", "--tenant-max-buffered", "32MiB")
		}
		p := startAft(t, bin, filepath.Join(dir, "data"), flags...)
		defer p.Kill()
		ctx := t.Context()
		a := client.New("http://"+p.addr, client.WithToken(tokens["a"]))
		b := client.New("http://"+p.addr, client.WithToken(tokens["b"]))
		steadyFor(ctx, t, b, 4, 500*time.Millisecond) // warm up
		for range pairs {
			alone = append(alone, steadyFor(ctx, t, b, 4, 2*time.Second))
			stop := flood(ctx, a, 32, value)
			time.Sleep(500 * time.Millisecond) // a reaches its limits
			noisy = append(noisy, steadyFor(ctx, t, b, 4, 2*time.Second))
			c, n := stop()
			calls, busy = calls+c, busy+n
		}
		return alone, noisy, calls, busy
	}
	median := func(xs []float64) float64 { slices.Sort(xs); return xs[len(xs)/2] } // of an odd count
	alone, noisy, calls, busy := run(true, 3)
	var rates, p50s []float64
	errs := 0
	for i := range alone {
		rate, p50 := noisy[i].rate()/alone[i].rate(), float64(noisy[i].p50)/float64(alone[i].p50)
		t.Logf("per-tenant limits, pair %d: b alone: %v; b beside a's flood: %v (throughput %.2fx, p50 %.2fx)", i+1, alone[i], noisy[i], rate, p50)
		rates, p50s = append(rates, rate), append(p50s, p50)
		errs += alone[i].errs + noisy[i].errs
	}
	rate, p50 := median(rates), median(p50s)
	t.Logf("per-tenant limits: b beside a's flood, median of %d pairs: throughput %.2fx, p50 %.2fx; a: %d calls, %d refused 429", len(rates), rate, p50, calls, busy)
	if errs != 0 || busy == 0 {
		t.Errorf("b had %d errors, alone and beside the flood, want none; a was refused %d times, want some", errs, busy)
	}
	if rate < 1.0/3 || p50 > 3 {
		t.Errorf("beside the flood, b kept a median %.2fx of its throughput and %.2fx of its median latency alone, want within 3x of both", rate, p50)
	}
	alone, noisy, calls, busy = run(false, 1)
	t.Logf("no per-tenant limits: b alone: %v; b beside a's flood: %v; a: %d calls, %d refused 429", alone[0], noisy[0], calls, busy)
	if noisy[0].errs == 0 {
		t.Errorf("without per-tenant limits b ran %v beside the flood: the flood does not reach the node's limits, so the test above shows nothing", noisy[0])
	}
}
