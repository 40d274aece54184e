package middleware

import (
	"fmt"
	"strconv"
	"time"
)

// Annotations: a function opts in to aft, and tunes its middleware, with annotations under
// a prefix. The Knative webhook reads aft.dev/; the OpenFaaS plugin reads aft.dev/ and its
// own com.openfaas.aft/ (cli.md, "aft webhook").
const (
	PrefixAft      = "aft.dev/"
	PrefixOpenFaaS = "com.openfaas.aft/"
)

// The names of the annotations, after the prefix.
const (
	AnnotationTransactional  = "transactional"   // "true": invocations run as aft transactions
	AnnotationAttempts       = "attempts"        // attempts of one request, e.g. "3"
	AnnotationAttemptTimeout = "attempt-timeout" // e.g. "10s"
	AnnotationDeadline       = "deadline"        // all attempts together, e.g. "30s"
	AnnotationOnRunning      = "on-running"      // run, wait or refuse
)

// FromAnnotations reads a function's settings from its annotations under prefixes: whether
// it is transactional ("true"), and the Options its annotations set (the others zero). The
// settings of a function that is not transactional are not read. An annotation that does
// not parse, or two prefixes that give one setting different values, is an error that names
// the annotations.
func FromAnnotations(ann map[string]string, prefixes ...string) (transactional bool, o Options, err error) {
	// get returns the value of name under the prefixes, and the full annotation it came from.
	get := func(name string) (v, full string, ok bool, err error) {
		for _, p := range prefixes {
			pv, has := ann[p+name]
			switch {
			case !has:
			case !ok:
				v, full, ok = pv, p+name, true
			case pv != v:
				return "", "", false, fmt.Errorf("annotations %s=%q and %s=%q disagree: keep one", full, v, p+name, pv)
			}
		}
		return v, full, ok, nil
	}
	v, _, _, err := get(AnnotationTransactional)
	if err != nil || v != "true" {
		return false, Options{}, err
	}
	if v, full, ok, err := get(AnnotationAttempts); err != nil {
		return true, Options{}, err
	} else if ok {
		if o.Attempts, err = strconv.Atoi(v); err != nil || o.Attempts < 1 {
			return true, Options{}, fmt.Errorf("annotation %s=%q: want a positive number", full, v)
		}
	}
	for _, d := range []struct {
		name string
		to   *time.Duration
	}{{AnnotationAttemptTimeout, &o.AttemptTimeout}, {AnnotationDeadline, &o.Deadline}} {
		v, full, ok, err := get(d.name)
		if err != nil {
			return true, Options{}, err
		}
		if ok {
			if *d.to, err = time.ParseDuration(v); err != nil || *d.to <= 0 {
				return true, Options{}, fmt.Errorf("annotation %s=%q: want a duration such as 10s", full, v)
			}
		}
	}
	if v, full, ok, err := get(AnnotationOnRunning); err != nil {
		return true, Options{}, err
	} else if ok {
		if err := o.OnRunning.Set(v); err != nil {
			return true, Options{}, fmt.Errorf("annotation %s: %v", full, err)
		}
	}
	return true, o, nil
}
