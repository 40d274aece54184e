package bench

import (
	"context"
	"fmt"
	"os/exec"
	"sync/atomic"
	"time"

	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/internal/launch"
)

// CrashOptions configure a load on a shim process that is killed with SIGKILL mid-run and
// restarted on the same storage.
type CrashOptions struct {
	// Command returns the (not started) command of a shim serving on addr (host:port) on
	// the same storage every time it is called: aft serve --listen addr --data-dir DIR.
	Command  func(addr string) *exec.Cmd
	Shape    Shape
	Clients  int
	Duration time.Duration // of the whole load
	KillAt   time.Duration // into the load
	Bucket   time.Duration // width of the throughput buckets (default 250ms)
	// ReadyTimeout bounds the wait for each start of the shim (default 30s).
	ReadyTimeout time.Duration
	// Status, when set, receives a line at each event: started, killed, ready, first commit.
	Status func(format string, args ...any)
}

// CrashRestart starts the shim, loads it closed loop with the paper's transactions, kills
// it with SIGKILL at KillAt, restarts it at once on the same address and storage, and keeps
// the load on until Duration. It records the transactions that ended in each Bucket, when
// the restarted shim was ready, and when the first transaction committed after the kill.
func CrashRestart(ctx context.Context, o CrashOptions) (Recovery, error) {
	if o.Command == nil || o.Duration <= 0 || o.KillAt <= 0 || o.KillAt >= o.Duration {
		return Recovery{}, fmt.Errorf("crash: need a command, and 0 < kill at %v < duration %v", o.KillAt, o.Duration)
	}
	if o.Bucket <= 0 {
		o.Bucket = 250 * time.Millisecond
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = 30 * time.Second
	}
	if o.Clients <= 0 {
		o.Clients = 16
	}
	status := o.Status
	if status == nil {
		status = func(string, ...any) {}
	}
	addr, err := launch.FreeAddr()
	if err != nil {
		return Recovery{}, fmt.Errorf("crash: %w", err)
	}
	first, _, err := startShim(ctx, o.Command(addr), addr, o.ReadyTimeout)
	if err != nil {
		return Recovery{}, fmt.Errorf("crash: first start: %w", err)
	}
	defer first.Kill()
	status("shim pid %d ready on %s", first.Pid(), addr)

	tl := newTimeline(o.Bucket, o.Duration)
	var restartedAt atomic.Int64 // unix ns when the second process was launched; 0 before
	var firstOK atomic.Int64     // unix ns when the first transaction begun after it ended well
	runOpts := Options{
		Shape: o.Shape, Clients: o.Clients, Duration: o.Duration, ErrorPause: 5 * time.Millisecond,
		Observe: func(start time.Time, took time.Duration, err error) {
			end := start.Add(took)
			tl.add(end, err == nil)
			// Only a transaction begun after the restart can commit on the new process.
			if r := restartedAt.Load(); err == nil && r != 0 && start.UnixNano() >= r {
				firstOK.CompareAndSwap(0, end.UnixNano())
			}
		},
	}
	type runOut struct {
		res Result
		err error
	}
	done := make(chan runOut, 1)
	tl.start = time.Now()
	go func() {
		res, err := Run(ctx, runOpts, AftTxn(client.New("http://"+addr, client.WithHTTPClient(LoadClient(o.Clients)))))
		done <- runOut{res, err}
	}()

	select {
	case <-time.After(time.Until(tl.start.Add(o.KillAt))):
	case <-ctx.Done():
		<-done
		return Recovery{}, fmt.Errorf("crash: %w", ctx.Err())
	}
	killAt := time.Now()
	first.Kill()
	status("SIGKILL sent to pid %d at %.2fs", first.Pid(), killAt.Sub(tl.start).Seconds())
	restartedAt.Store(time.Now().UnixNano())
	second, readyAt, err := startShim(ctx, o.Command(addr), addr, o.ReadyTimeout)
	if err != nil {
		<-done
		return Recovery{}, fmt.Errorf("crash: restart: %w", err)
	}
	defer second.Stop(5 * time.Second)
	status("restarted as pid %d, ready %.0f ms after the kill", second.Pid(), ms(readyAt.Sub(killAt)))

	out := <-done
	if out.err != nil {
		return Recovery{}, fmt.Errorf("crash: load: %w", out.err)
	}
	rec := Recovery{
		Clients: o.Clients, KillAtS: secs(killAt.Sub(tl.start)), ReadyAtS: secs(readyAt.Sub(tl.start)),
		RestartMS: ms(readyAt.Sub(killAt)), Successes: out.res.Txns, Errors: out.res.Errors,
		BucketS: o.Bucket.Seconds(), Series: tl.buckets(o.Duration),
	}
	if f := firstOK.Load(); f != 0 {
		okAt := time.Unix(0, f)
		rec.FirstOKAtS, rec.RecoveryMS = secs(okAt.Sub(tl.start)), ms(okAt.Sub(killAt))
		status("first commit after the kill %.0f ms after it", rec.RecoveryMS)
		rec.AfterTPS = tl.rate(okAt.Add(time.Second).Sub(tl.start), o.Duration)
	} else {
		status("no commit after the kill")
	}
	rec.BeforeTPS = tl.rate(0, killAt.Sub(tl.start))
	return rec, nil
}

// timeline counts the transactions that ended in each bucket of a load.
type timeline struct {
	start  time.Time
	width  time.Duration
	ok     []atomic.Int64
	failed []atomic.Int64
}

func newTimeline(width, total time.Duration) *timeline {
	n := int(total/width) + 2 // room for stragglers after the end
	return &timeline{width: width, ok: make([]atomic.Int64, n), failed: make([]atomic.Int64, n)}
}

func (t *timeline) add(end time.Time, ok bool) {
	i := min(max(int(end.Sub(t.start)/t.width), 0), len(t.ok)-1)
	if ok {
		t.ok[i].Add(1)
	} else {
		t.failed[i].Add(1)
	}
}

// buckets returns the counts of the buckets that end by the end of the load: the last,
// partial one would read as a drop of throughput.
func (t *timeline) buckets(total time.Duration) []Bucket {
	out := make([]Bucket, min(int(total/t.width), len(t.ok)))
	for i := range out {
		out[i] = Bucket{AtS: secs(time.Duration(i) * t.width), OK: t.ok[i].Load(), Errors: t.failed[i].Load()}
	}
	return out
}

// rate returns the successes per second in the whole buckets between from and to.
func (t *timeline) rate(from, to time.Duration) float64 {
	i, j := int((from+t.width-1)/t.width), min(int(to/t.width), len(t.ok))
	if j <= i {
		return 0
	}
	var n int64
	for k := i; k < j; k++ {
		n += t.ok[k].Load()
	}
	return float64(n) / (time.Duration(j-i) * t.width).Seconds()
}

// startShim starts cmd and waits until http://addr/readyz answers 200; it returns the
// process and when it was ready.
func startShim(ctx context.Context, cmd *exec.Cmd, addr string, timeout time.Duration) (*launch.Proc, time.Time, error) {
	p, err := launch.Start(cmd)
	if err != nil {
		return nil, time.Time{}, err
	}
	if err := p.WaitProbe(ctx, launch.HTTPOK("http://"+addr+"/readyz"), 2*time.Millisecond, timeout); err != nil {
		return nil, time.Time{}, fmt.Errorf("%s on %s: %w", cmd.Path, addr, err)
	}
	return p, time.Now(), nil
}

func secs(d time.Duration) float64 { return float64(d.Round(time.Millisecond)) / float64(time.Second) }
