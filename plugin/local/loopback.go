package local

import (
	"net"
	"net/http"

	"github.com/openfaas/faas-provider/types"
)

// LoopbackOnly wraps every handler of h so that it refuses (403) callers that are not on a
// loopback address. faas-provider's bootstrap.Serve listens on every interface, and this
// provider runs whatever command line a deploy names.
func LoopbackOnly(h *types.FaaSHandlers) *types.FaaSHandlers {
	wrap := func(f http.HandlerFunc) http.HandlerFunc {
		if f == nil {
			return nil
		}
		return func(w http.ResponseWriter, r *http.Request) {
			host, _, err := net.SplitHostPort(r.RemoteAddr)
			if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
				http.Error(w, "the local provider answers loopback callers only (aft provider local --allow-remote to change)", http.StatusForbidden)
				return
			}
			f(w, r)
		}
	}
	out := *h
	for _, f := range []*http.HandlerFunc{&out.FunctionProxy, &out.FunctionLister, &out.DeployFunction, &out.UpdateFunction,
		&out.DeleteFunction, &out.FunctionStatus, &out.ScaleFunction, &out.Secrets, &out.Logs, &out.ListNamespaces,
		&out.MutateNamespace, &out.Info, &out.Health, &out.Telemetry} {
		*f = wrap(*f)
	}
	return &out
}
