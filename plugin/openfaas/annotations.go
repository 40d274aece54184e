package openfaas

import (
	"encoding/json"
	"io"
	"net/http"

	"github.com/aft-shim/aft/middleware"
)

// The annotations a function sets to opt in to aft and tune it: these, or the same names
// under aft.dev/ (middleware.PrefixAft), as the Knative webhook reads them.
const (
	AnnotationTransactional  = middleware.PrefixOpenFaaS + middleware.AnnotationTransactional  // "true": invocations run as aft transactions
	AnnotationAttempts       = middleware.PrefixOpenFaaS + middleware.AnnotationAttempts       // attempts of one request, e.g. "3"
	AnnotationAttemptTimeout = middleware.PrefixOpenFaaS + middleware.AnnotationAttemptTimeout // e.g. "10s"
	AnnotationDeadline       = middleware.PrefixOpenFaaS + middleware.AnnotationDeadline       // all attempts together, e.g. "30s"
	AnnotationOnRunning      = middleware.PrefixOpenFaaS + middleware.AnnotationOnRunning      // run, wait or refuse
)

// parseAnnotations reads a function's aft settings from its aft.dev/ and com.openfaas.aft/
// annotations.
func parseAnnotations(name string, ann map[string]string) settings {
	tx, opts, err := middleware.FromAnnotations(ann, middleware.PrefixAft, middleware.PrefixOpenFaaS)
	if err != nil {
		return settings{err: err}
	}
	opts.Function = name
	return settings{transactional: tx, opts: opts}
}

func decodeJSON(resp *http.Response, v any) error {
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
