package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/shim/auth"
)

// flood is a noisy tenant: floods of begins that are never ended and of large writes into
// them, at full speed, ignoring Retry-After. It counts what it was refused (429).
func flood(ctx context.Context, c *client.Client, workers int, value []byte) (stop func() (calls, busy int64)) {
	ctx, cancel := context.WithCancel(ctx)
	var calls, busy atomic.Int64
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ctx.Err() == nil; n++ {
				tx, err := c.Begin(ctx, "")
				calls.Add(1)
				if err == nil {
					err = c.Put(ctx, tx.ID, fmt.Sprintf("big/%d/%d", i, n), value)
					calls.Add(1)
				}
				if err != nil && strings.Contains(err.Error(), "tenant_busy") {
					busy.Add(1)
				}
			}
		}()
	}
	return func() (int64, int64) { cancel(); wg.Wait(); return calls.Load(), busy.Load() }
}

// TestNoisyTenant: tenant a floods begins it never ends and 1 MiB writes into them; tenant
// b's steady transactions keep within 2x of their throughput and median latency alone, and
// none fails, because a meets its own limits (429 tenant_busy) long before the node's. Run
// again without the per-tenant limits, the same flood takes the node's limits whole, and b
// is refused (which shows that the flood matters): the figures of both are logged.
func TestNoisyTenant(t *testing.T) {
	bin := aftBinary(t)
	tokens := map[string]string{"a": auth.NewToken(), "b": auth.NewToken()}
	value := make([]byte, 1<<20)
	run := func(tenantLimits bool) (alone, noisy steadyStats, calls, busy int64) {
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
		alone = steadyFor(ctx, t, b, 4, 2*time.Second)
		stop := flood(ctx, a, 32, value)
		time.Sleep(500 * time.Millisecond) // a reaches its limits
		noisy = steadyFor(ctx, t, b, 4, 2*time.Second)
		calls, busy = stop()
		return alone, noisy, calls, busy
	}
	alone, noisy, calls, busy := run(true)
	t.Logf("per-tenant limits: b alone: %v; b beside a's flood: %v (throughput %.2fx, p50 %.2fx); a: %d calls, %d refused 429",
		alone, noisy, noisy.rate()/alone.rate(), float64(noisy.p50)/float64(alone.p50), calls, busy)
	if noisy.errs != 0 || noisy.rate() < alone.rate()/2 || noisy.p50 > 2*alone.p50 || busy == 0 {
		t.Errorf("beside the flood, b ran %v against %v alone: want no error, and within 2x of its throughput and median latency; a refused %d times, want some", noisy, alone, busy)
	}
	alone, noisy, calls, busy = run(false)
	t.Logf("no per-tenant limits: b alone: %v; b beside a's flood: %v; a: %d calls, %d refused 429", alone, noisy, calls, busy)
	if noisy.errs == 0 {
		t.Errorf("without per-tenant limits b ran %v beside the flood: the flood does not reach the node's limits, so the test above shows nothing", noisy)
	}
}
