package bench

import (
	"errors"
	"fmt"
	"time"

	"github.com/aft-shim/aft/bench/mode"
	"github.com/aft-shim/aft/report/folder"
)

// SchemaVersion names the format of results.json; Load refuses others.
const SchemaVersion = "aft-bench/1"

// Results are the raw results of one `aft bench --out` run: what results.json holds, and
// all that a report is rendered from.
type Results struct {
	Schema     string     `json:"schema"`            // SchemaVersion
	Command    string     `json:"command"`           // the command line that made them
	Started    time.Time  `json:"started"`           // when the run began
	Finished   time.Time  `json:"finished"`          // and ended
	Quick      bool       `json:"quick"`             // a --quick run
	Machine    Machine    `json:"machine"`           // where it ran
	Shape      Shape      `json:"shape"`             // the transaction of every run
	Runs       []Record   `json:"runs"`              // one per load run
	Recoveries []Recovery `json:"recoveries"`        // one per kill -9 and restart
	Notes      []string   `json:"notes,omitempty"`   // remarks of the run, such as skipped parts
	Metrics    []Metric   `json:"metrics,omitempty"` // Prometheus counters scraped at the end of runs
}

// Machine describes the machine a run was made on: the one description of package
// folder, which both report folders use.
type Machine = folder.Machine

// The kinds of load of a Record (Record.Scenario).
const (
	ScenarioAPI     = "api"     // the paper's transaction through the shim's HTTP API, one call per step
	ScenarioGateway = "gateway" // one invocation of a function doing the paper's transaction
)

// The modes of a Record (Record.Mode): package mode's names, as in the workload suite.
const (
	ModeAft         = string(mode.Aft)         // through aft: the shim (api) or the middleware and the shim (gateway)
	ModeAftBatch    = string(mode.AftBatch)    // through the shim's API in batches: a begin with the ops, then the commit
	ModePlain       = string(mode.Plain)       // the same reads and writes straight on the store, no transaction
	ModeDynamoDBTxn = string(mode.DynamoDBTxn) // DynamoDB's own TransactWriteItems and TransactGetItems
)

// The load generators of a Record (Record.Loop).
const (
	LoopClosed = "closed" // Clients callers, each sending its next request when the last answered
	LoopOpen   = "open"   // requests at a constant rate (vegeta), whatever the answers
)

// Record is the outcome of one load run.
type Record struct {
	Scenario       string  `json:"scenario"`                // ScenarioAPI or ScenarioGateway
	Mode           string  `json:"mode"`                    // ModeAft, ModePlain or ModeDynamoDBTxn
	Loop           string  `json:"loop"`                    // LoopClosed or LoopOpen
	Backend        string  `json:"backend"`                 // embedded, mem, redis, dynamodb or s3
	StoreLatencyMS float64 `json:"store_latency_ms"`        // injected per storage call
	Clients        int     `json:"clients,omitempty"`       // closed loop: concurrent callers
	RateFraction   float64 `json:"rate_fraction,omitempty"` // open loop: offered rate as a fraction of the closed-loop aft throughput of the same scenario
	RateOffered    float64 `json:"rate_offered,omitempty"`  // open loop: requests per second sent
	DurationS      float64 `json:"duration_s"`              // wall time of the run
	Requests       int64   `json:"requests"`                // sent: successes plus errors
	Successes      int64   `json:"successes"`
	Errors         int64   `json:"errors"`
	Retried        int64   `json:"retried,omitempty"` // gateway: successes that took more than one attempt
	// OverheadMS is, for gateway runs in aft mode, the mean latency the middleware itself
	// added per request (its aft_middleware_overhead_seconds: its time less the function's
	// and the backoff), in milliseconds.
	OverheadMS float64 `json:"middleware_overhead_ms,omitempty"`
	Throughput float64 `json:"throughput"` // successes per second
	Latency    Latency `json:"latency_ms"` // of the successes
	// CDF samples the latency distribution of the successes (at most 57 points).
	CDF []CDFPoint `json:"cdf,omitempty"`
	// Steps are the latencies of the single HTTP calls inside the transactions of an
	// api run in aft mode, by call: begin, write, read, commit.
	Steps     map[string]Latency `json:"steps,omitempty"`
	Codes     map[string]int64   `json:"codes,omitempty"` // open loop: answers by HTTP status ("0": no answer)
	LastError string             `json:"last_error,omitempty"`
}

// Latency holds percentiles of a latency distribution, in milliseconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Mean float64 `json:"mean"`
	Max  float64 `json:"max"`
}

// CDFPoint is one point of a latency CDF: Fraction of the requests took LatencyMS or less.
type CDFPoint struct {
	LatencyMS float64 `json:"ms"`
	Fraction  float64 `json:"q"`
}

// Recovery is the outcome of a load on a shim process that was killed with SIGKILL and
// restarted on the same storage.
type Recovery struct {
	Backend    string   `json:"backend"`
	Clients    int      `json:"clients"`
	KillAtS    float64  `json:"kill_at_s"`     // seconds into the load when SIGKILL was sent
	ReadyAtS   float64  `json:"ready_at_s"`    // when the restarted process answered /readyz
	FirstOKAtS float64  `json:"first_ok_at_s"` // when the first transaction committed after the kill
	RestartMS  float64  `json:"restart_ms"`    // from the kill to ready
	RecoveryMS float64  `json:"recovery_ms"`   // from the kill to the first commit: the outage seen by clients
	BeforeTPS  float64  `json:"before_tps"`    // mean throughput before the kill
	AfterTPS   float64  `json:"after_tps"`     // mean throughput from one second after the first commit to the end
	Successes  int64    `json:"successes"`
	Errors     int64    `json:"errors"`
	BucketS    float64  `json:"bucket_s"` // width of the buckets of Series
	Series     []Bucket `json:"series"`
}

// Bucket counts the transactions that ended in one interval of a Recovery's load.
type Bucket struct {
	AtS    float64 `json:"t_s"` // start of the interval, seconds into the load
	OK     int64   `json:"ok"`
	Errors int64   `json:"errors"`
}

// Metric is one Prometheus series scraped from the in-process shim or middleware after the
// runs of one configuration (store and latency): a counter's value, or a histogram's mean
// in milliseconds (its Name ends in _mean_ms).
type Metric struct {
	Component      string  `json:"component"` // shim or middleware
	Backend        string  `json:"backend"`
	StoreLatencyMS float64 `json:"store_latency_ms"`
	Name           string  `json:"name"`
	Labels         string  `json:"labels,omitempty"` // the labels kept, as k=v,k=v
	Value          float64 `json:"value"`
}

// Key identifies a run across two result sets, for Compare.
func (r Record) Key() string {
	k := fmt.Sprintf("%s/%s/%s/%s/%gms", r.Scenario, r.Mode, r.Loop, r.Backend, r.StoreLatencyMS)
	if r.Loop == LoopOpen {
		k += fmt.Sprintf("/%.0f%%", r.RateFraction*100)
	} else {
		k += fmt.Sprintf("/c%d", r.Clients)
	}
	return k
}

// Save writes r to path as indented JSON, the secrets of any store URL in it hidden
// (folder.WriteJSON).
func (r *Results) Save(path string) error {
	if err := folder.WriteJSON(path, r); err != nil {
		return fmt.Errorf("save results: %w", err)
	}
	return nil
}

// ErrSchema is returned by Load for a file of another format.
var ErrSchema = errors.New("not an aft bench results file")

// Load reads results.json written by Save: path names the file, or the report folder
// that holds it.
func Load(path string) (*Results, error) {
	path = folder.Path(path)
	var r Results
	if err := folder.ReadJSON(path, &r); err != nil {
		return nil, fmt.Errorf("load results: %w", err)
	}
	if r.Schema != SchemaVersion {
		return nil, fmt.Errorf("load results %s: schema %q, want %q: %w", path, r.Schema, SchemaVersion, ErrSchema)
	}
	return &r, nil
}
