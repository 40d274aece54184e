package knative

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/apis/duck"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/aft-shim/aft/api"
)

// maxReviewBytes bounds an AdmissionReview's body: the API server sends at most 3 MiB
// objects (etcd's limit is 1.5 MiB), with the old object besides.
const maxReviewBytes = 8 << 20

// Handler serves the webhook: POST /mutate answers an admission.k8s.io/v1 AdmissionReview,
// GET /healthz 200. log (nil: discard) records every Service changed or refused.
func (c Config) Handler(log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("POST /mutate", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxReviewBytes))
		if err != nil {
			api.WriteError(w, http.StatusRequestEntityTooLarge, api.CodeRequestTooLarge, fmt.Sprintf("read the AdmissionReview: %v", err))
			return
		}
		var review admissionv1.AdmissionReview
		if err := json.Unmarshal(body, &review); err != nil || review.Request == nil {
			if err == nil {
				err = errors.New("it has no request")
			}
			api.WriteError(w, http.StatusBadRequest, api.CodeBadBody, fmt.Sprintf("want an admission.k8s.io/v1 AdmissionReview: %v", err))
			return
		}
		resp := c.Review(review.Request)
		if !resp.Allowed {
			log.Warn("refused a Service", "namespace", review.Request.Namespace, "name", review.Request.Name, "reason", resp.Result.Message)
		} else if resp.Patch != nil {
			log.Info("put aft proxy into a Service", "namespace", review.Request.Namespace, "name", review.Request.Name)
		}
		out, _ := json.Marshal(admissionv1.AdmissionReview{TypeMeta: review.TypeMeta, Response: resp})
		w.Header().Set("Content-Type", "application/json")
		w.Write(out)
	})
	return mux
}

// serviceResource is what the webhook changes: Knative Services.
var serviceResource = metav1.GroupVersionResource{Group: "serving.knative.dev", Version: "v1", Resource: "services"}

// Review answers one admission request: allowed with a JSON patch that puts the proxy in,
// allowed unchanged, or refused with the reason.
func (c Config) Review(req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	resp := &admissionv1.AdmissionResponse{UID: req.UID, Allowed: true}
	if req.Resource != serviceResource || (req.Operation != admissionv1.Create && req.Operation != admissionv1.Update) {
		return resp // not ours: the MutatingWebhookConfiguration should not have sent it
	}
	var before servingv1.Service
	if err := json.Unmarshal(req.Object.Raw, &before); err != nil {
		return refuse(resp, fmt.Sprintf("aft: the object is not a Knative Service: %v", err))
	}
	if before.Namespace == "" {
		before.Namespace = req.Namespace
	}
	after := before.DeepCopy()
	changed, err := c.Inject(after)
	if err != nil {
		return refuse(resp, err.Error())
	}
	if !changed {
		return resp
	}
	// Never answer with a Service Knative would refuse because of the proxy: a Service that
	// was valid must stay valid (one that was not is Knative's validation's to refuse).
	if err := Validate(after); err != nil && Validate(&before) == nil {
		return refuse(resp, fmt.Sprintf("aft: with aft proxy in front, the Service would not be valid for Knative (%v): please report it", err))
	}
	after.Namespace = before.Namespace // only the containers change
	patch, err := duck.CreateBytePatch(&before, after)
	if err != nil {
		return refuse(resp, fmt.Sprintf("aft: make the patch: %v", err))
	}
	pt := admissionv1.PatchTypeJSONPatch
	resp.Patch, resp.PatchType = patch, &pt
	return resp
}

func refuse(resp *admissionv1.AdmissionResponse, reason string) *admissionv1.AdmissionResponse {
	resp.Allowed = false
	resp.Result = &metav1.Status{Status: metav1.StatusFailure, Message: reason, Reason: metav1.StatusReasonInvalid, Code: http.StatusUnprocessableEntity}
	return resp
}
