package e2e

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/internal/certfile/certfiletest"
	"github.com/aft-shim/aft/plugin/knative"
	"github.com/aft-shim/aft/shim/store/mem"
)

// startWebhook starts `aft webhook` on a free loopback port with the certificate files, the
// shim http://aft-shim.aft.svc:7654, the proxy image registry.local/aft:e2e and the flags in
// extra, and waits for its ready line; it is killed at cleanup.
func startWebhook(t *testing.T, certPath, keyPath string, extra ...string) *aftProc {
	t.Helper()
	return startAftCmd(t, func(line string) (string, bool) {
		rest, ok := strings.CutPrefix(line, "aft webhook: listening on ")
		addr, _, _ := strings.Cut(rest, " ")
		return addr, ok && addr != ""
	}, 30*time.Second, aftBinary(t), append([]string{"webhook", "--listen", "127.0.0.1:0", "--tls-cert", certPath, "--tls-key", keyPath,
		"--shim", "http://aft-shim.aft.svc:7654", "--proxy-image", "registry.local/aft:e2e"}, extra...)...)
}

// TestWebhookProcess runs a real `aft webhook` process over TLS: an annotated Service comes
// back with the proxy patched in (and Knative Serving accepts the result), a malformed
// annotation is refused with its name, a body that is no AdmissionReview gets the spec's
// JSON error, a rotated certificate is served without a restart, and SIGTERM stops it.
func TestWebhookProcess(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	ca := certfiletest.NewCA(t)
	ca.Issue(t, 100, certPath, keyPath)
	p := startWebhook(t, certPath, keyPath)
	base := "https://" + p.addr

	// post sends body to /mutate on a new connection and returns the answer and the serial
	// of the certificate the webhook showed.
	post := func(body []byte) (*http.Response, []byte, int64) {
		t.Helper()
		hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool}, DisableKeepAlives: true}}
		resp, err := hc.Post(base+"/mutate", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatalf("POST /mutate: %v\n%s", err, p.Tail())
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b, resp.TLS.PeerCertificates[0].SerialNumber.Int64()
	}
	reviewOf := func(ann map[string]string) ([]byte, []byte) {
		svc := servingv1.Service{TypeMeta: metav1.TypeMeta{APIVersion: "serving.knative.dev/v1", Kind: "Service"},
			ObjectMeta: metav1.ObjectMeta{Name: "orders", Namespace: "shop"}}
		svc.Spec.Template.Annotations = ann
		svc.Spec.Template.Spec.Containers = []corev1.Container{{Image: "registry.local/orders:v1"}}
		raw, _ := json.Marshal(svc)
		b, _ := json.Marshal(admissionv1.AdmissionReview{
			TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
			Request: &admissionv1.AdmissionRequest{UID: "uid-7", Operation: admissionv1.Create, Namespace: "shop", Name: "orders",
				Resource: metav1.GroupVersionResource{Group: "serving.knative.dev", Version: "v1", Resource: "services"},
				Object:   runtime.RawExtension{Raw: raw}}})
		return b, raw
	}
	answer := func(b []byte) *admissionv1.AdmissionResponse {
		t.Helper()
		var out admissionv1.AdmissionReview
		if err := json.Unmarshal(b, &out); err != nil || out.Response == nil || out.Kind != "AdmissionReview" {
			t.Fatalf("answer %s: %v", b, err)
		}
		return out.Response
	}

	body, raw := reviewOf(map[string]string{"aft.dev/transactional": "true", "aft.dev/attempts": "4"})
	resp, b, serial := post(body)
	if resp.StatusCode != 200 || serial != 100 {
		t.Fatalf("%d %s (certificate %d)", resp.StatusCode, b, serial)
	}
	r := answer(b)
	if !r.Allowed || r.UID != "uid-7" || r.Patch == nil {
		t.Fatalf("annotated Service: %+v", r)
	}
	patch, err := jsonpatch.DecodePatch(r.Patch)
	if err != nil {
		t.Fatal(err)
	}
	patched, err := patch.Apply(raw)
	if err != nil {
		t.Fatal(err)
	}
	var svc servingv1.Service
	json.Unmarshal(patched, &svc)
	cs := svc.Spec.Template.Spec.Containers
	if len(cs) != 2 || cs[1].Name != knative.ProxyName || !slices.Contains(cs[1].Args, "--attempts") || cs[1].Image != "registry.local/aft:e2e" {
		t.Errorf("containers after the patch: %+v", cs)
	}

	body, _ = reviewOf(map[string]string{"aft.dev/transactional": "true", "aft.dev/on-running": "later"})
	_, b, _ = post(body)
	if r := answer(b); r.Allowed || r.Result == nil || !strings.Contains(r.Result.Message, "aft.dev/on-running") {
		t.Errorf("malformed annotation: %+v", r)
	}
	resp, b, _ = post([]byte("not json"))
	var e struct{ Error, Code string }
	if resp.StatusCode != 400 || json.Unmarshal(b, &e) != nil || e.Code == "" || e.Error == "" {
		t.Errorf("a body that is no AdmissionReview: %d %s", resp.StatusCode, b)
	}

	// A rotated certificate is served within seconds, without a restart.
	ca.Issue(t, 200, certPath, keyPath)
	deadline := time.Now().Add(10 * time.Second)
	for {
		body, _ = reviewOf(nil)
		if _, _, serial = post(body); serial == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still certificate %d 10s after the rotation", serial)
		}
		time.Sleep(200 * time.Millisecond)
	}

	p.Stop(10 * time.Second)
	if err := p.Wait(); err != nil {
		t.Errorf("after SIGTERM: %v\n%s", err, p.Tail())
	}
}

// TestCloudEventsRedelivery: Knative Eventing redelivers an event with the same CloudEvents
// id (binary mode: ce-source and ce-id headers) when a delivery fails or times out. Through a
// real `aft proxy` the event's effects happen once: the first delivery fails (the function
// answers 500 and the proxy, with one attempt, passes the failure on), the second commits,
// the third is answered from the stored result with nothing run. A kubelet probe reaches the
// function in no transaction.
func TestCloudEventsRedelivery(t *testing.T) {
	bin := aftBinary(t)
	shimSrv, _ := newShim(t, mem.New())
	shim := client.New(shimSrv.URL)
	var runs, probes atomic.Int32
	fn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Aft-Txn-Id")
		if id == "" {
			probes.Add(1)
			io.WriteString(w, "healthy")
			return
		}
		n := runs.Add(1)
		ctx := r.Context()
		count := 0
		if v, err := shim.Get(ctx, id, "events/count"); err == nil {
			count, _ = strconv.Atoi(string(v.Bytes))
		}
		if err := shim.Put(ctx, id, "events/count", []byte(strconv.Itoa(count+1))); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if n == 1 {
			http.Error(w, "the first delivery fails after its write", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "count=%d", count+1)
	}))
	defer fn.Close()
	addr, proxy := startProxy(t, bin, "--upstream", fn.URL, "--shim", shimSrv.URL, "--function", "events", "--attempts", "1", "--admin-listen", "127.0.0.1:0") // as in a Knative pod: /healthz is the function's

	deliver := func() (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", "http://"+addr+"/", strings.NewReader(`{"order": 42}`))
		for k, v := range map[string]string{"Ce-Specversion": "1.0", "Ce-Type": "shop.order.placed", "Ce-Source": "/shop/orders", "Ce-Id": "evt-42", "Content-Type": "application/json"} {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	if resp, body := deliver(); resp.StatusCode != 500 {
		t.Fatalf("first delivery: %d %q, want the function's 500\n%s", resp.StatusCode, body, proxy.Tail())
	}
	if resp, body := deliver(); resp.StatusCode != 200 || body != "count=1" {
		t.Fatalf("redelivery: %d %q, want 200 count=1 (the failed delivery's write aborted)", resp.StatusCode, body)
	}
	resp, body := deliver()
	if resp.StatusCode != 200 || body != "count=1" || resp.Header.Get("X-Aft-Replayed") != "true" {
		t.Errorf("third delivery: %d %q replayed %q, want the stored count=1", resp.StatusCode, body, resp.Header.Get("X-Aft-Replayed"))
	}
	if n := runs.Load(); n != 2 {
		t.Errorf("the function ran %d times, want 2 (the failed delivery and its redelivery)", n)
	}

	req, _ := http.NewRequest("GET", "http://"+addr+"/healthz", nil)
	req.Header.Set("User-Agent", "kube-probe/1.35")
	presp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(presp.Body)
	presp.Body.Close()
	if presp.StatusCode != 200 || string(b) != "healthy" || probes.Load() != 1 {
		t.Errorf("probe: %d %q (%d probes reached the function), want the function's own answer, in no transaction", presp.StatusCode, b, probes.Load())
	}
}
