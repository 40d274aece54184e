package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/aft-shim/aft/shim/store/redis/redistest"
)

// TestNodesGCBoundedRedis overwrites a few keys from three nodes on one Redis for 60
// seconds, killing one node (for good) half way, and samples the number of keys in Redis:
// data versions, records and the commit log. Garbage collection across nodes must keep it
// bounded: the killed node's lease runs out and collection goes on without it. What it
// holds is garbage not yet collected, which grows with the commit rate (collection waits a
// fixed time: the settle time of the log, the nodes' renewals), so the bound is on keys per
// commit a second: the seconds' worth of commits the store holds, flat over the run, where
// a leak grows it with every second.
func TestNodesGCBoundedRedis(t *testing.T) {
	const (
		run      = 60 * time.Second
		sampling = 5 * time.Second
		// window is the number of sampling periods the commit rate is taken over: about
		// the seconds of commits the store holds (18-20 s here). The keys in Redis are the
		// garbage of that time, and a machine whose speed swings within it (CI's does, 2-3x
		// within minutes) would divide them by a rate of the last 5 s that they do not hold.
		window = 4
	)
	srv := redistest.Start(t)
	cl := startCluster(t, 3, "--store", srv.URL(0, ""), "--sync-interval", "100ms", "--commit-timeout", "2s",
		"--settle-time", "500ms", "--orphan-grace", "10s", "--sweep-interval", "5s", "--lease-time", "3s", "--log-level", "warn")
	c := cl.client()
	rdb := goredis.NewClient(&goredis.Options{Addr: strings.TrimPrefix(strings.TrimSuffix(srv.URL(0, ""), "/0"), "redis://")})
	defer rdb.Close()

	ctx, cancel := context.WithTimeout(t.Context(), run+time.Minute)
	defer cancel()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	commits := 0
	value := []byte(strings.Repeat("v", 1024))
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				w, err := c.Begin(ctx, "")
				if err != nil {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				for range 2 {
					c.Put(ctx, w.ID, fmt.Sprintf("o%d", rand.IntN(20)), value)
				}
				if _, err := c.Commit(ctx, w.ID, nil); err == nil {
					mu.Lock()
					commits++
					mu.Unlock()
				}
			}
		}()
	}
	var samples []float64 // keys per (commits a second) over the window before
	var lines []string
	type point struct {
		at      time.Time
		commits int
	}
	start := time.Now()
	points := []point{{start, 0}}
	killed := false
	for time.Since(start) < run {
		time.Sleep(sampling)
		if !killed && time.Since(start) >= run/2 {
			cl.procs[2].Kill()
			killed = true
			lines = append(lines, "node 2 killed")
		}
		n, err := rdb.DBSize(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		done := commits
		mu.Unlock()
		// Over the time that really passed: a slow machine oversleeps the sampling period,
		// and the nominal one would count more commits a second than ran.
		at := time.Now()
		from := points[max(0, len(points)-window)]
		rate := float64(done-from.commits) / at.Sub(from.at).Seconds()
		points = append(points, point{at, done})
		held := float64(n) / max(rate, 1)
		samples = append(samples, held)
		lines = append(lines, fmt.Sprintf("%3.0fs: %6d keys in Redis, %6d commits so far (%5.0f/s): %4.1f s of commits held",
			time.Since(start).Seconds(), n, done, rate, held))
	}
	close(stop)
	wg.Wait()
	t.Logf("store size over time:\n%s", strings.Join(lines, "\n"))
	// Bounded: the second half holds no more seconds of commits than 1.5 times the first
	// half's most, where a leak would hold twice as many by the end.
	var first, second float64
	for i, h := range samples {
		if i < len(samples)/2 {
			first = max(first, h)
		} else {
			second = max(second, h)
		}
	}
	if second > first*1.5 {
		t.Errorf("the store held at most %.1f s of commits in the first half and %.1f s in the second: garbage is not collected across nodes", first, second)
	}
	if commits < 1000 {
		t.Errorf("only %d commits in %v: the load did not run", commits, run)
	}
}
