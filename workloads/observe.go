package workloads

import (
	"maps"
	"strings"

	"github.com/aft-shim/aft/workloads/anomaly"
)

// metrics sums the counters of the middleware and the shim by name (and outcome).
func (r *run) metrics() map[string]float64 {
	if r.reg == nil {
		return nil
	}
	fams, err := r.reg.Gather()
	if err != nil {
		return nil
	}
	out := map[string]float64{}
	for _, f := range fams {
		name := f.GetName()
		if !strings.HasPrefix(name, "aft_") || f.GetType().String() != "COUNTER" {
			continue
		}
		name = strings.TrimSuffix(strings.TrimPrefix(name, "aft_"), "_total")
		for _, m := range f.GetMetric() {
			key := name
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" {
					key += "/" + l.GetValue()
				}
			}
			out[key] += m.GetCounter().GetValue()
		}
	}
	return out
}

// shorten drops the run's key prefix from the examples: they name keys as the streams do.
func (r *run) shorten(ex map[anomaly.Kind][]string) map[anomaly.Kind][]string {
	prefix := "wl/" + r.id + "/"
	out := make(map[anomaly.Kind][]string, len(ex))
	for k, es := range ex {
		for _, e := range es {
			out[k] = append(out[k], strings.ReplaceAll(e, prefix, ""))
		}
	}
	return out
}

// injected returns the faults that struck in the run, by kind.
func (r *run) injected() map[string]int {
	r.rt.mu.Lock()
	out := maps.Clone(r.rt.injected)
	r.rt.mu.Unlock()
	if out == nil {
		out = map[string]int{}
	}
	if r.sfaults != nil && r.sfaults.Injected() > 0 {
		out["store_fault"] = int(r.sfaults.Injected())
	}
	if n := r.dynamoFaults.Load(); n > 0 {
		out["store_fault"] = int(n)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
