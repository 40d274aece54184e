// Package lease keeps a lease record of a shim node in its store: one record per node on a
// store several nodes share (Options.Key = record.NodeKey: it says the node is live, and
// carries how far it has read the commit log, Settled and Horizon, which the other nodes'
// garbage collection waits for), or one record per store (record.LeaseKey) on a store only
// one node may use, where a node that finds another live node's lease refuses to start,
// naming it.
//
// The protocol uses only the store's Create, Get, Put and Delete:
//
//   - Acquire creates the record. When it exists, it reads it: held by the same node
//     identity (this node, restarted after a crash) and not expired, it takes it over with
//     a Put at once; expired (whoever held it), it takes it over with a Put, waits Settle,
//     and reads it again, so that of two nodes taking over one expired lease at once the one
//     whose Put landed last wins and the other refuses. Any other holder: ErrHeld.
//   - Renew, every Time/3, reads the record and, while it still names this instance, puts
//     it back with a later expiry; a record that names another instance means the lease was
//     lost (this node was cut off from the store for longer than Time and another node took
//     over): ErrLost, and the node must stop.
//   - Release deletes the record if it still names this instance.
//
// Expiry is judged by the reader's clock against the expiry the holder wrote, so the
// nodes' clocks must agree to well within Time. The lease keeps an operator from starting
// a second node by mistake; it is not a fencing token (a node paused for longer than Time
// and then resumed learns that it lost the lease only at its next renewal).
package lease

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/aft-shim/aft/shim/record"
	"github.com/aft-shim/aft/shim/retry"
	"github.com/aft-shim/aft/shim/store"
)

// DefaultTime is the default lifetime of a lease without renewal.
const DefaultTime = 15 * time.Second

// ErrHeld is returned (in a *HeldError) when another live node holds the lease.
var ErrHeld = errors.New("store in use by another node")

// ErrLost is returned (in a *HeldError) by Renew when another node took the lease over.
var ErrLost = errors.New("lease lost to another node")

// Holder is the content of the lease record.
type Holder struct {
	Node     string `json:"node"`           // identity that survives a restart
	Instance string `json:"instance"`       // random per Acquire: one process of Node
	Addr     string `json:"addr,omitempty"` // where it serves: for the operator, and other nodes' base URL of it
	// On a store several nodes share (package txn): how far this node has read the commit
	// log, and the oldest point in it that one of its transactions may still read at. Stamps
	// of the commit log (package record); 0 for none.
	Settled uint64    `json:"settled,omitempty"`
	Horizon uint64    `json:"horizon,omitempty"`
	Host    string    `json:"host,omitempty"`
	PID     int       `json:"pid,omitempty"`
	Expires time.Time `json:"expires"`
	Written time.Time `json:"written,omitzero"` // when it was written, by the writer's clock
}

func (h Holder) String() string {
	s := fmt.Sprintf("node %q", h.Node)
	if h.Addr != "" {
		s += " at " + h.Addr
	}
	if h.Host != "" {
		s += fmt.Sprintf(" (host %s, pid %d)", h.Host, h.PID)
	}
	return s
}

// HeldError names the node that holds the lease. errors.Is(err, ErrHeld) holds, or
// errors.Is(err, ErrLost) when Renew found the lease taken over.
type HeldError struct {
	Holder Holder
	Now    time.Time // when it was read, by the reader's clock
	lost   bool
}

func (e *HeldError) Error() string {
	if e.lost {
		return fmt.Sprintf("%v: %v holds it now, until %s", ErrLost, e.Holder, e.Holder.Expires.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("%v: %v holds its lease until %s (in %v); two nodes on one store lose each other's commits, "+
		"so stop that node first, or, if it is gone, wait for its lease to expire",
		ErrHeld, e.Holder, e.Holder.Expires.UTC().Format(time.RFC3339), e.Holder.Expires.Sub(e.Now).Round(time.Second))
}

// Unwrap makes errors.Is(err, ErrHeld) or errors.Is(err, ErrLost) hold.
func (e *HeldError) Unwrap() error {
	if e.lost {
		return ErrLost
	}
	return ErrHeld
}

// Options configure a lease.
type Options struct {
	Node string // identity of this node, stable across restarts (required)
	Key  string // storage key of the record (default record.LeaseKey: one node per store)
	Addr string // where it serves, shown to a node that is refused

	Time   time.Duration    // lifetime without renewal (default DefaultTime)
	Settle time.Duration    // wait after taking over an expired lease (default min(Time/10, 500ms))
	Now    func() time.Time // default time.Now
	Retry  retry.Policy     // for the store calls of Acquire and Release

	Progress [2]uint64 // the Settled and Horizon of the first record (see SetProgress)
}

// Lease is a lease held by this node.
type Lease struct {
	st       store.Store
	o        Options
	holder   Holder
	expires  atomic.Int64 // unix nanoseconds: expiry of the last record written, by this node's clock
	progress atomic.Pointer[[2]uint64]
}

// SetProgress sets the Settled and Horizon the next renewal writes. It is safe for
// concurrent use.
func (l *Lease) SetProgress(settled, horizon uint64) { l.progress.Store(&[2]uint64{settled, horizon}) }

// Acquire takes the lease on st, or returns a *HeldError naming the live node that holds
// it. Transient store errors are retried with o.Retry until ctx ends.
func Acquire(ctx context.Context, st store.Store, o Options) (*Lease, error) {
	if o.Node == "" {
		return nil, errors.New("lease: empty node identity")
	}
	if o.Key == "" {
		o.Key = record.LeaseKey
	}
	if o.Time <= 0 {
		o.Time = DefaultTime
	}
	if o.Settle <= 0 {
		o.Settle = min(o.Time/10, 500*time.Millisecond)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	host, _ := os.Hostname()
	l := &Lease{st: st, o: o, holder: Holder{Node: o.Node, Instance: instanceID(), Addr: o.Addr, Host: host, PID: os.Getpid()}}
	l.SetProgress(o.Progress[0], o.Progress[1])
	for range 3 { // a record deleted between Create and Get: create it again
		err := o.Retry.Do(ctx, "create lease "+o.Key, func(ctx context.Context) error {
			return st.Create(ctx, o.Key, l.next())
		})
		if err == nil {
			l.written()
			return l, nil
		}
		if !errors.Is(err, store.ErrExists) {
			return nil, fmt.Errorf("lease: %w", err)
		}
		old, err := l.read(ctx)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		now := o.Now()
		expired := !now.Before(old.Expires)
		if old.Node != o.Node && !expired {
			return nil, &HeldError{Holder: old, Now: now}
		}
		if err := l.put(ctx); err != nil {
			return nil, err
		}
		if !expired {
			return l, nil // our own lease, from before a restart: nobody else may take it
		}
		select {
		case <-time.After(o.Settle):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		now2, err := l.read(ctx)
		if err != nil {
			return nil, err
		}
		if now2.Instance != l.holder.Instance {
			return nil, &HeldError{Holder: now2, Now: o.Now()} // another node took it over at the same time
		}
		return l, nil
	}
	return nil, fmt.Errorf("lease: %s keeps vanishing between create and read", o.Key)
}

// next returns the record to write, expiring Time from now. Once it is written, l.written
// notes its expiry.
func (l *Lease) next() []byte {
	l.holder.Written = l.o.Now()
	l.holder.Expires = l.holder.Written.Add(l.o.Time)
	if p := l.progress.Load(); p != nil {
		l.holder.Settled, l.holder.Horizon = p[0], p[1]
	}
	b, _ := json.Marshal(l.holder)
	return b
}

func (l *Lease) written() { l.expires.Store(l.holder.Expires.UnixNano()) }

func (l *Lease) put(ctx context.Context) error {
	err := l.o.Retry.Do(ctx, "put lease "+l.o.Key, func(ctx context.Context) error {
		return l.st.Put(ctx, []store.Item{{Key: l.o.Key, Value: l.next()}})
	})
	if err != nil {
		return fmt.Errorf("lease: %w", err)
	}
	l.written()
	return nil
}

// read returns the holder the record names.
func (l *Lease) read(ctx context.Context) (Holder, error) {
	var b []byte
	err := l.o.Retry.Do(ctx, "read lease "+l.o.Key, func(ctx context.Context) error {
		var err error
		b, err = l.st.Get(ctx, l.o.Key)
		if errors.Is(err, store.ErrNotFound) {
			return retry.Permanent(err)
		}
		return err
	})
	if err != nil {
		return Holder{}, fmt.Errorf("lease: %w", err)
	}
	var h Holder
	if err := json.Unmarshal(b, &h); err != nil || h.Node == "" {
		return Holder{}, fmt.Errorf("lease: record %s is damaged (%q); if no other node runs on this store, delete it", l.o.Key, b)
	}
	return h, nil
}

// Expires returns when the lease, as last renewed, expires, by this node's clock. It is
// safe to call during Renew.
func (l *Lease) Expires() time.Time { return time.Unix(0, l.expires.Load()) }

// Holder returns this node's lease record as last written.
func (l *Lease) Holder() Holder { return l.holder }

// Valid reports whether the lease, as last renewed, has not expired at now.
// It is safe to call during Renew.
func (l *Lease) Valid(now time.Time) bool { return now.UnixNano() < l.expires.Load() }

// Renew extends the lease by Time, once; a caller renews every Time/3. It returns a
// *HeldError wrapping ErrLost when another node holds the lease now, and a store error
// (to retry at the next renewal) when the store fails. It is not safe for concurrent use.
func (l *Lease) Renew(ctx context.Context) error {
	b, err := l.st.Get(ctx, l.o.Key)
	if errors.Is(err, store.ErrNotFound) {
		// Deleted by hand: create it again. Should another node have created it first, the
		// next renewal finds its record.
		if err := l.st.Create(ctx, l.o.Key, l.next()); err != nil {
			return fmt.Errorf("renew lease: %w", err)
		}
		l.written()
		return nil
	}
	if err != nil {
		return fmt.Errorf("renew lease: %w", err)
	}
	var h Holder
	if err := json.Unmarshal(b, &h); err == nil && h.Instance != l.holder.Instance {
		return &HeldError{Holder: h, Now: l.o.Now(), lost: true}
	}
	if err := l.st.Put(ctx, []store.Item{{Key: l.o.Key, Value: l.next()}}); err != nil {
		return fmt.Errorf("renew lease: %w", err)
	}
	l.written()
	return nil
}

// Release deletes the lease record if it still names this node's instance.
func (l *Lease) Release(ctx context.Context) error {
	b, err := l.st.Get(ctx, l.o.Key)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("release lease: %w", err)
	}
	var h Holder
	if json.Unmarshal(b, &h) != nil || h.Instance != l.holder.Instance {
		return nil // another node's now
	}
	if err := l.st.Delete(ctx, []string{l.o.Key}); err != nil {
		return fmt.Errorf("release lease: %w", err)
	}
	return nil
}
