package openfaas

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/aft-shim/aft/middleware"
)

// The annotations a function sets to opt in to aft and tune it.
const (
	AnnotationTransactional  = "com.openfaas.aft/transactional"   // "true": invocations run as aft transactions
	AnnotationAttempts       = "com.openfaas.aft/attempts"        // attempts of one request, e.g. "3"
	AnnotationAttemptTimeout = "com.openfaas.aft/attempt-timeout" // e.g. "10s"
	AnnotationDeadline       = "com.openfaas.aft/deadline"        // all attempts together, e.g. "30s"
	AnnotationOnRunning      = "com.openfaas.aft/on-running"      // run, wait or refuse
)

// parseAnnotations reads a function's aft settings.
func parseAnnotations(name string, ann map[string]string) settings {
	s := settings{transactional: ann[AnnotationTransactional] == "true", opts: middleware.Options{Function: name}}
	if !s.transactional {
		return s
	}
	var err error
	if v, ok := ann[AnnotationAttempts]; ok {
		if s.opts.Attempts, err = strconv.Atoi(v); err != nil || s.opts.Attempts < 1 {
			return settings{err: fmt.Errorf("annotation %s=%q: want a positive number", AnnotationAttempts, v)}
		}
	}
	for key, d := range map[string]*time.Duration{AnnotationAttemptTimeout: &s.opts.AttemptTimeout, AnnotationDeadline: &s.opts.Deadline} {
		if v, ok := ann[key]; ok {
			if *d, err = time.ParseDuration(v); err != nil || *d <= 0 {
				return settings{err: fmt.Errorf("annotation %s=%q: want a duration such as 10s", key, v)}
			}
		}
	}
	if v, ok := ann[AnnotationOnRunning]; ok {
		if err := s.opts.OnRunning.Set(v); err != nil {
			return settings{err: fmt.Errorf("annotation %s: %v", AnnotationOnRunning, err)}
		}
	}
	return s
}

func decodeJSON(resp *http.Response, v any) error {
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
