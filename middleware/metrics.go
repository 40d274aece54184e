package middleware

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the middleware's Prometheus metrics, labelled by function.
type metrics struct {
	invocations *prometheus.CounterVec   // function, outcome
	attempts    *prometheus.CounterVec   // function
	retries     *prometheus.CounterVec   // function, reason
	replayed    *prometheus.CounterVec   // function
	duplicates  *prometheus.CounterVec   // function, policy
	commits     *prometheus.CounterVec   // function, outcome (committed, fenced)
	aborts      *prometheus.CounterVec   // function, reason
	zombies     *prometheus.CounterVec   // function, outcome (committed, fenced, aborted, failed)
	zombieGauge prometheus.Gauge         // zombies running now
	dead        *prometheus.CounterVec   // function
	deadFailed  *prometheus.CounterVec   // function
	overhead    *prometheus.HistogramVec // function
}

// newMetrics creates the metrics and registers them in reg (nil: not registered). A
// collector that reg already has (another Middleware on the same registry) is shared.
func newMetrics(reg prometheus.Registerer) *metrics {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "aft", Subsystem: "middleware", Name: name, Help: help},
			append([]string{"function"}, labels...))
	}
	m := &metrics{
		invocations: counter("invocations_total", "Requests, by outcome: committed, replayed (a stored result, nothing ran), passed (a 4xx of the function, aborted), dead, nested, probe (a health probe, passed through), rejected (4xx of the middleware), unavailable (the shim), failed (other 5xx of the middleware), gone (the caller left).", "outcome"),
		attempts:    counter("attempts_total", "Attempts begun (each a shim transaction running the function)."),
		retries:     counter("retries_total", "Attempts that failed and were retried, by reason: status (408, 429, 5xx), broken, timeout, aborted.", "reason"),
		replayed:    counter("replayed_total", "Duplicates answered from the stored result of a committed attempt, without running the function."),
		duplicates:  counter("running_duplicates_total", "Requests whose key had an attempt running in this instance, by the policy applied.", "policy"),
		commits:     counter("commits_total", "Commits of attempts the caller waited for, by outcome: committed or fenced (another attempt won).", "outcome"),
		aborts:      counter("aborts_total", "Attempts aborted, by reason: status, broken, timeout, response_too_large, gone, winner.", "reason"),
		zombies:     counter("zombie_commits_total", "Attempts that timed out and completed later, by outcome: committed, fenced (the first commit won), aborted (not 2xx), failed.", "outcome"),
		zombieGauge: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "aft", Subsystem: "middleware", Name: "zombies",
			Help: "Attempts that timed out and still run, to be committed should they succeed."}),
		dead:       counter("dead_requests_total", "Requests recorded as dead after their last attempt failed."),
		deadFailed: counter("dead_letter_failures_total", "Dead requests that could not be recorded in the shim."),
		overhead: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "aft", Subsystem: "middleware", Name: "overhead_seconds",
			Help:    "Latency the middleware adds to a request: its time less the function's time and the backoff waits.",
			Buckets: prometheus.ExponentialBuckets(0.00005, 2, 18)}, []string{"function"}),
	}
	if reg == nil {
		return m
	}
	// register returns the collector reg holds for c: c, or an equal one registered before.
	register := func(c prometheus.Collector) prometheus.Collector {
		err := reg.Register(c)
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			return are.ExistingCollector
		}
		if err != nil {
			panic(err) // a name clash with a different metric: a programming error
		}
		return c
	}
	for _, v := range []**prometheus.CounterVec{&m.invocations, &m.attempts, &m.retries, &m.replayed, &m.duplicates,
		&m.commits, &m.aborts, &m.zombies, &m.dead, &m.deadFailed} {
		*v = register(*v).(*prometheus.CounterVec)
	}
	m.zombieGauge = register(m.zombieGauge).(prometheus.Gauge)
	m.overhead = register(m.overhead).(*prometheus.HistogramVec)
	return m
}
