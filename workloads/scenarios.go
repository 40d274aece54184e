package workloads

import (
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/aft-shim/aft/shim/store/faults"
)

// Scenario is one failure pattern, run once in each mode with the same requests, the same
// platform behaviour and the same faults.
type Scenario struct {
	// Name is the scenario's name on the command line and in the results.
	Name string
	// Title says in one line what fails.
	Title string
	// Source is the upstream report the scenario replays, if any ("openfaas/faas#1108").
	Source string
	// Story tells what happens, for the report.
	Story string
	// Failure says that something fails: plain mode is expected to show anomalies.
	Failure bool
	// Platform is how requests are delivered.
	Platform Platform
	// Compose runs every request as two functions, the first calling the second.
	Compose bool
	// Pods is the number of pods per function (default 1).
	Pods int
	// Fault decides what happens at each step of each execution (nil: nothing).
	Fault func(Point) Action
	// StoreFaults are injected into the store: the store the functions use in plain mode,
	// the shim's store in aft mode, the DynamoDB transactions in dynamodb-txn mode.
	StoreFaults *faults.Options
	// ShimProcess runs the shim of aft mode as an `aft serve` process, which KillShim
	// actions kill with SIGKILL and start again on the same data.
	ShimProcess bool
	// ShimNodes runs that many `aft serve` processes on one shared store (default 1); the
	// middleware spreads attempts over them, and KillShim kills the first node only. A
	// scenario with several nodes runs in aft mode only over a shared store (--store).
	ShimNodes int
	// ClientTries is how often a stream sends a request that was not acknowledged, with
	// the same identity (default 3).
	ClientTries int
}

// Timings shared by the scenarios. The middleware gives up on an attempt before the
// platform gives up on a delivery.
const (
	gatewayTimeout = 200 * time.Millisecond // a platform's per-delivery timeout
	stall          = 500 * time.Millisecond // how long a slow execution stalls
	maxShimKills   = 2
)

// gateway is a synchronous gateway that retries failures (OpenFaaS with a retrying
// client, the Knative activator).
var gateway = Platform{Name: "gateway that retries failed invocations", Attempts: 3, Timeout: gatewayTimeout * 10, Backoff: 10 * time.Millisecond}

// first is true for the first execution of a request's top function.
func first(p Point) bool { return p.Exec == 1 && !p.Nested }

// chance returns a number in [0, 100) fixed by the request and execution: the same run
// of a scenario makes the same choices in every mode.
func chance(p Point) int {
	h := fnv.New32a()
	h.Write([]byte(p.Function + "/" + strconv.Itoa(p.Stream) + "/" + strconv.Itoa(p.Index) + "/" + strconv.Itoa(p.Exec)))
	return int(h.Sum32() % 100)
}

// Catalogue returns every scenario, in the order of the report.
func Catalogue() []Scenario {
	return []Scenario{
		{
			Name: "baseline", Title: "no failure: requests run once, readers read throughout",
			Story:    "Nothing fails. Plain-mode readers may still catch a request half written, since its writes land one at a time.",
			Platform: gateway,
		},
		{
			Name: "crash-partial", Title: "the function crashes after its first write, and is retried",
			Story: "Every other request crashes after its first write on its first execution (the paper's 0.5 execution): " +
				"the connection breaks and the platform retries it. Plain mode leaves the first write visible until the retry, " +
				"which then applies it a second time.",
			Failure: true, Platform: gateway,
			Fault: func(p Point) Action {
				return Action{Crash: p.Step == StepWrite && first(p) && p.Index%2 == 0}
			},
		},
		{
			Name: "duplicate-sequential", Title: "every request is delivered twice, one after the other",
			Story: "Each request is delivered again after its first delivery was answered, with the same identity: " +
				"a client that lost the answer and sent it again, or an at-least-once queue.",
			Failure: true,
			Platform: withDuplicates(gateway, "at-least-once delivery, sequential duplicates", func(int) (bool, time.Duration) {
				return true, -1
			}),
		},
		{
			Name: "duplicate-concurrent", Title: "every request is delivered twice at the same time",
			Story:   "Each request is delivered twice at once, with the same identity: two executions race on the same keys.",
			Failure: true,
			Platform: withDuplicates(gateway, "at-least-once delivery, concurrent duplicates", func(int) (bool, time.Duration) {
				return true, 0
			}),
		},
		{
			Name: "zombie", Title: "the first attempt times out but runs on beside its retry",
			Story: "Every third request stalls after its reads on its first execution, past the platform's timeout. " +
				"The platform retries; the retry answers and the stream goes on; then the stalled execution wakes and writes " +
				"what it computed from its old reads, over the writes of the requests acknowledged meanwhile.",
			Failure: true,
			Platform: Platform{Name: "gateway with a 200ms timeout that retries", Attempts: 3, Timeout: gatewayTimeout,
				Backoff: 10 * time.Millisecond},
			Fault: stallEveryThird(StepRead),
		},
		{
			Name: "composition", Title: "two functions in one request; the second fails",
			Story: "Each request runs two functions: the first writes its part (order and stock; following; total) and calls the " +
				"second (payment; followers; bucket). The second fails on its first execution of every third request, and on every " +
				"execution of every sixth: the platform retries the first function, which writes its part again.",
			Failure: true, Compose: true, Platform: gateway, ClientTries: 2,
			Fault: func(p Point) Action {
				switch {
				case !p.Nested || p.Step != StepStart:
				case p.Index%6 == 5:
					return Action{Status: 500}
				case p.Index%3 == 0 && p.Exec == 1:
					return Action{Status: 503}
				}
				return Action{}
			},
		},
		{
			Name: "shim-kill", Title: "kill -9 mid-commit: the shim process in aft mode, the function's process in plain mode",
			Story: "In aft mode the shim runs as an `aft serve` process that is killed with SIGKILL twice, just as a function " +
				"answered and its commit is under way, and started again on the same data. In plain mode the function's own process " +
				"is killed half way through its writes on requests 3 and 7 of each stream and started again. The platform retries " +
				"throughout.",
			Failure: true, ShimProcess: true, ClientTries: 6,
			Platform: Platform{Name: "gateway that retries while the backend restarts", Attempts: 8, Timeout: gatewayTimeout * 10,
				Backoff: 30 * time.Millisecond},
			Fault: func(p Point) Action {
				if !first(p) || (p.Index != 3 && p.Index != 7) {
					return Action{}
				}
				if p.Mode == Aft {
					return Action{KillShim: p.Step == StepEnd && p.Stream == 0}
				}
				return Action{KillPod: p.Step == StepWrite, Restart: 50 * time.Millisecond}
			},
		},
		{
			Name: "shim-kill-nodes", Title: "kill -9 mid-commit: one of three shim nodes on one store in aft mode, the function's process in plain mode",
			Story: "In aft mode three `aft serve` nodes share the store, each a peer of the others; the middleware spreads " +
				"attempts over them, and the first node is killed with SIGKILL twice, just as a function answered and its commit is " +
				"under way, and started again. Attempts on it fail and are retried on the others; every node must see every " +
				"commit. In plain mode the function's own process is killed half way through its writes on requests 3 and 7 of " +
				"each stream and started again. It needs a shared store (--store redis://, dynamodb:// or s3://).",
			Failure: true, ShimProcess: true, ShimNodes: 3, ClientTries: 6,
			Platform: Platform{Name: "gateway that retries while a node restarts", Attempts: 8, Timeout: gatewayTimeout * 10,
				Backoff: 30 * time.Millisecond},
			Fault: func(p Point) Action {
				if !first(p) || (p.Index != 3 && p.Index != 7) {
					return Action{}
				}
				if p.Mode == Aft {
					return Action{KillShim: p.Step == StepEnd && p.Stream == 0}
				}
				return Action{KillPod: p.Step == StepWrite, Restart: 50 * time.Millisecond}
			},
		},
		{
			Name: "store-faults", Title: "the store throttles and fails calls mid-function",
			Story: "3% of store calls fail before they reach the store and 3% of writes are applied but reported failed " +
				"(an ambiguous timeout). In plain mode a function that meets one answers 500 and the platform retries it.",
			Failure: true, ClientTries: 5,
			StoreFaults: &faults.Options{FailRate: 0.03, AmbiguousRate: 0.03},
			Platform:    Platform{Name: "gateway that retries 5xx", Attempts: 5, Timeout: gatewayTimeout * 10, Backoff: 10 * time.Millisecond},
		},
		{
			Name: "faas-ack-wait", Title: "queue redelivery after ack_wait while the first run continues",
			Source: "openfaas/faas#1108",
			Story: "An asynchronous invocation outlives the queue's ack_wait (150ms): every third request stalls half way " +
				"through its writes on its first run, NATS delivers the message again, and both runs finish.",
			Failure: true,
			Platform: Platform{Name: "OpenFaaS queue-worker, ack_wait 150ms", Attempts: 2, Timeout: 2 * time.Second,
				AckWait: 150 * time.Millisecond, Redeliveries: 1, Identity: CallID},
			Fault: stallEveryThird(StepWrite),
		},
		{
			Name: "faas-async-timeout", Title: "an asynchronous invocation is run again after a timeout",
			Source: "openfaas/faas#918",
			Story: "Every third request is slow to answer after its writes on its first run; the queue-worker's call times out " +
				"(150ms) and the invocation is run again, while the first run finishes.",
			Failure: true,
			Platform: Platform{Name: "OpenFaaS queue-worker with a 150ms upstream timeout", Attempts: 3, Timeout: 150 * time.Millisecond,
				Backoff: 10 * time.Millisecond, Identity: CallID},
			Fault: stallEveryThird(StepEnd),
		},
		{
			Name: "knative-duplicate", Title: "the broker delivers one event twice",
			Source: "knative/eventing#7503",
			Story: "Every other CloudEvent is delivered twice with the same ce-id and ce-source, the second up to 30ms after " +
				"the first: sometimes while the first runs, sometimes after.",
			Failure: true,
			Platform: withDuplicates(Platform{Name: "Knative broker, at-least-once", Attempts: 3, Timeout: 2 * time.Second,
				Backoff: 10 * time.Millisecond, Identity: CloudEvent}, "",
				func(i int) (bool, time.Duration) { return i%2 == 0, time.Duration(rand.N(30)) * time.Millisecond }),
		},
		{
			Name: "knative-long-request", Title: "a long request is retried while the original still finishes",
			Source: "knative/serving#14370",
			Story: "Every third request stalls half way through its writes on its first run, past the 200ms timeout of the " +
				"proxy in front, which retries it; the original then finishes its writes from its old reads.",
			Failure: true,
			Platform: Platform{Name: "Knative activator/queue-proxy retrying after 200ms", Attempts: 3, Timeout: gatewayTimeout,
				Backoff: 10 * time.Millisecond},
			Fault: stallEveryThird(StepWrite),
		},
		{
			Name: "scale-down", Title: "pods killed on scale-down with requests in flight",
			Source: "openfaas/faas-netes#156",
			Story: "Each function runs three pods; the pods running requests 4 and 8 of a stream are removed on scale-down " +
				"half way through those requests' writes, and the platform retries on the pods that remain.",
			Failure: true, Pods: 3,
			Platform: Platform{Name: "gateway retrying broken connections", Attempts: 4, Timeout: gatewayTimeout * 10,
				Backoff: 20 * time.Millisecond},
			Fault: func(p Point) Action {
				return Action{KillPod: p.Step == StepWrite && first(p) && (p.Index == 4 || p.Index == 8)}
			},
		},
		{
			Name: "retry-storm", Title: "429 and 5xx half way through, retried at once, many times",
			Story: "A downstream rate limit makes 40% of the first three executions of each request answer 429 or 503 after " +
				"their first write; the platform retries up to 6 times with a 2ms backoff.",
			Failure: true, ClientTries: 4,
			Platform: Platform{Name: "gateway retrying 429/5xx with a 2ms backoff", Attempts: 6, Timeout: gatewayTimeout * 10,
				Backoff: 2 * time.Millisecond},
			Fault: func(p Point) Action {
				if p.Step != StepWrite || p.Nested || p.Exec > 3 || chance(p) >= 40 {
					return Action{}
				}
				if chance(p)%2 == 0 {
					return Action{Status: 429}
				}
				return Action{Status: 503}
			},
		},
	}
}

// withDuplicates returns p delivering duplicates as dup says, renamed when name is set.
func withDuplicates(p Platform, name string, dup func(int) (bool, time.Duration)) Platform {
	p.Duplicate = dup
	if name != "" {
		p.Name = name
	}
	return p
}

// stallEveryThird stalls the first execution of every third request (indexes 1, 4, 7, ...)
// at step, past the platform's timeout, so that it runs on beside its retry.
func stallEveryThird(step Step) func(Point) Action {
	return func(p Point) Action {
		if p.Step == step && first(p) && p.Index%3 == 1 {
			return Action{Sleep: stall}
		}
		return Action{}
	}
}
