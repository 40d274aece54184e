package workloads

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/aft-shim/aft/bench/mode"
	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/shim/backend"
	"github.com/aft-shim/aft/shim/store"
	"github.com/aft-shim/aft/workloads/anomaly"
)

// Mode is how the functions of a run reach their data: the names aft bench uses too.
type Mode = mode.Name

// The modes.
const (
	// Plain: functions read and write the store directly, one key at a time; the platform
	// retries as usual.
	Plain = mode.Plain
	// Aft: the same functions read and write through the shim with the SDK, behind the
	// middleware, which runs every request as transactional attempts.
	Aft = mode.Aft
	// DynamoTxn: each function reads in one TransactGetItems and writes in one
	// TransactWriteItems: DynamoDB's own transactions, without idempotency. Only with a
	// dynamodb:// store.
	DynamoTxn = mode.DynamoDBTxn
)

// Options configure a run of the suite.
type Options struct {
	// Store is the --store URL of the data (spec/cli.md): "" is the embedded store in a
	// directory under DataDir, one per scenario and mode; mem:// a fresh memory store each.
	Store string
	// DataDir holds the embedded stores and the shim processes' data; "" is a temporary
	// directory, removed after.
	DataDir string
	// Quick runs fewer, shorter streams: the whole catalogue in about a minute.
	Quick bool
	// Scenarios names the scenarios to run; empty runs all of the catalogue.
	Scenarios []string
	// Modes names the modes to run; empty runs plain and aft, and dynamodb-txn with a
	// dynamodb:// store.
	Modes []Mode
	// ServeCommand returns the command that runs `aft serve` with args, for the scenarios
	// that kill the shim process; nil skips their aft mode.
	ServeCommand func(args ...string) *exec.Cmd
	// ShimOptions configure the client of aft mode's shims and middleware: the
	// credentials it presents (client.Credentials; `aft workloads --shim-token-file`).
	// The suite's own shims run without --auth-file and take calls without them.
	ShimOptions []client.Option
	// Progress, when not nil, is called as each run starts and ends.
	Progress func(Event)

	// size, when not nil, replaces the sizes of a run (tests).
	size *sizes
	// keep, when not nil, gets the history of each run (tests record them).
	keep func(sc Scenario, m Mode, h anomaly.History)
}

// Event reports the progress of the suite.
type Event struct {
	Index, Total int // the run, from 1, of Total
	Scenario     string
	Mode         Mode
	// Result is nil when the run starts, and its result when it ended.
	Result *Result
}

// Result is the outcome of one scenario in one mode: a record of results.json.
type Result struct {
	Scenario string `json:"scenario"`
	Mode     Mode   `json:"mode"`
	// Requests is the number of logical requests sent; Acked of them were answered 2xx.
	Requests int `json:"requests"`
	Acked    int `json:"acked"`
	// Deliveries counts what the platform sent: retries, redeliveries and duplicates too.
	Deliveries int `json:"deliveries"`
	// Executions counts the function executions that started (both functions of a
	// composition).
	Executions int `json:"executions"`
	// Snapshots counts the states the concurrent readers saw.
	Snapshots int `json:"snapshots"`
	// Anomalies are the counts by kind (package anomaly).
	Anomalies anomaly.Counts `json:"anomalies"`
	// Examples describe a few anomalies of each kind.
	Examples map[anomaly.Kind][]string `json:"examples,omitempty"`
	// Injected counts the faults that struck, by kind: crash, stall, status_N,
	// pod_kill, shim_kill, store_fault.
	Injected map[string]int `json:"injected,omitempty"`
	// Metrics are the counters of the middleware and the shim at the end (aft mode).
	Metrics map[string]float64 `json:"metrics,omitempty"`
	// Seconds is how long the run took.
	Seconds float64 `json:"seconds"`
	// Skipped says why the run did not happen; Error why it failed.
	Skipped string `json:"skipped,omitempty"`
	Error   string `json:"error,omitempty"`
}

// Failed says whether the run could not be carried out.
func (r Result) Failed() bool { return r.Error != "" }

// sizes of a run.
type sizes struct {
	streamsPerApp, requests, readers int
}

func (o Options) sizes() sizes {
	if o.size != nil {
		return *o.size
	}
	if o.Quick {
		return sizes{streamsPerApp: 1, requests: 20, readers: 2}
	}
	return sizes{streamsPerApp: 2, requests: 60, readers: 3}
}

// Select returns the scenarios of the catalogue that names lists (all when empty), or
// an error naming an unknown one.
func Select(names []string) ([]Scenario, error) {
	all := Catalogue()
	if len(names) == 0 {
		return all, nil
	}
	var out []Scenario
	for _, n := range names {
		i := slices.IndexFunc(all, func(s Scenario) bool { return s.Name == n })
		if i < 0 {
			var known []string
			for _, s := range all {
				known = append(known, s.Name)
			}
			return nil, fmt.Errorf("unknown scenario %q; known: %s", n, strings.Join(known, ", "))
		}
		out = append(out, all[i])
	}
	return out, nil
}

// suite is one run of the suite.
type suite struct {
	o     Options
	sz    sizes
	dir   string
	modes []Mode
}

// Run runs the chosen scenarios in the chosen modes, one run at a time, and returns a
// Result per scenario and mode. A run that fails has its Error set; Run itself fails only
// on bad Options or when ctx ends.
func Run(ctx context.Context, o Options) ([]Result, error) {
	if err := backend.Check(o.Store); err != nil {
		return nil, fmt.Errorf("workloads: %w", err)
	}
	scs, err := Select(o.Scenarios)
	if err != nil {
		return nil, fmt.Errorf("workloads: %w", err)
	}
	s := &suite{o: o, sz: o.sizes(), dir: o.DataDir}
	if s.dir == "" {
		if s.dir, err = os.MkdirTemp("", "aft-workloads-"); err != nil {
			return nil, fmt.Errorf("workloads: %w", err)
		}
		defer os.RemoveAll(s.dir)
	}
	if s.modes, err = s.chooseModes(ctx); err != nil {
		return nil, err
	}
	var results []Result
	total := len(scs) * len(s.modes)
	for _, sc := range scs {
		for _, m := range s.modes {
			ev := Event{Index: len(results) + 1, Total: total, Scenario: sc.Name, Mode: m}
			if o.Progress != nil {
				o.Progress(ev)
			}
			start := time.Now()
			r := s.run(ctx, sc, m)
			r.Seconds = time.Since(start).Round(time.Millisecond).Seconds()
			if err := ctx.Err(); err != nil {
				return results, fmt.Errorf("workloads: %w", err)
			}
			results = append(results, r)
			if o.Progress != nil {
				ev.Result = &r
				o.Progress(ev)
			}
		}
	}
	return results, nil
}

// chooseModes returns the modes to run: those asked for, else plain and aft, and
// dynamodb-txn when the store is DynamoDB.
func (s *suite) chooseModes(ctx context.Context) ([]Mode, error) {
	isDynamo := strings.HasPrefix(s.o.Store, "dynamodb://")
	if len(s.o.Modes) > 0 {
		for _, m := range s.o.Modes {
			switch m {
			case Plain, Aft:
			case DynamoTxn:
				if !isDynamo {
					return nil, errors.New("workloads: mode dynamodb-txn needs a dynamodb:// store")
				}
			default:
				return nil, fmt.Errorf("workloads: unknown mode %q: want plain, aft or dynamodb-txn", m)
			}
		}
		return s.o.Modes, nil
	}
	if isDynamo {
		return []Mode{Plain, Aft, DynamoTxn}, nil
	}
	return []Mode{Plain, Aft}, nil
}

// open opens a store of the run named name: a fresh one for the embedded and memory
// stores, the shared one otherwise.
func (s *suite) open(ctx context.Context, name string) (store.Store, error) {
	st, _, err := backend.Open(ctx, s.o.Store, backend.Options{DataDir: s.dir + "/" + name, CreateStore: true, NoSync: true})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return st, nil
}
