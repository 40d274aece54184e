package e2e

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	admissionregv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/aft-shim/aft/internal/certfile/certfiletest"
	"github.com/aft-shim/aft/internal/toolcache"
	"github.com/aft-shim/aft/plugin/knative"
)

// kubeAPIServer returns the path of kube-apiserver: $AFT_KUBE_APISERVER, else the deps
// script's cache.
func kubeAPIServer(t *testing.T) string {
	t.Helper()
	p, err := toolcache.KubeAPIServer.Path()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// moduleDir returns the directory of module mod in the module cache.
func moduleDir(t *testing.T, mod string) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", mod).Output()
	if err != nil || len(out) == 0 {
		t.Fatalf("go list -m %s: %v", mod, err)
	}
	return strings.TrimSpace(string(out))
}

// TestWebhookAPIServer runs a real Kubernetes API server (kube-apiserver and etcd, through
// controller-runtime's envtest) with Knative Serving's Service CRD, registers a real `aft
// webhook` process, given the shim's token and CA Secrets, with a MutatingWebhookConfiguration,
// and creates and updates Services through the API server: the stored objects are checked
// field by field, and pass Knative Serving's own validation.
func TestWebhookAPIServer(t *testing.T) {
	etcd, err := exec.LookPath("etcd")
	if err != nil {
		t.Fatal("no etcd on PATH: run scripts/deps/etcd.sh (make test does)")
	}
	env := &envtest.Environment{
		CRDInstallOptions: envtest.CRDInstallOptions{
			Paths:              []string{filepath.Join(moduleDir(t, "knative.dev/serving"), "config", "core", "300-resources", "service.yaml")},
			ErrorIfPathMissing: true,
		},
	}
	env.ControlPlane.GetAPIServer().Path = kubeAPIServer(t)
	env.ControlPlane.Etcd = &envtest.Etcd{Path: etcd}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("start kube-apiserver and etcd: %v", err)
	}
	t.Cleanup(func() { env.Stop() })
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// The webhook, a real process with a certificate of a test CA.
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	ca := certfiletest.NewCA(t)
	ca.Issue(t, 1, certPath, keyPath)
	p := startWebhook(t, certPath, keyPath, "--shim-token-secret", "aft-shim-token", "--shim-ca-secret", "shim-ca/bundle.pem")
	url := "https://" + p.addr + "/mutate"
	fail, none := admissionregv1.Fail, admissionregv1.SideEffectClassNone
	mwc := &admissionregv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "aft"},
		Webhooks: []admissionregv1.MutatingWebhook{{
			Name:                    "services.aft.dev",
			AdmissionReviewVersions: []string{"v1"},
			SideEffects:             &none,
			FailurePolicy:           &fail,
			ClientConfig:            admissionregv1.WebhookClientConfig{URL: &url, CABundle: caPEM(ca)},
			Rules: []admissionregv1.RuleWithOperations{{
				Operations: []admissionregv1.OperationType{admissionregv1.Create, admissionregv1.Update},
				Rule:       admissionregv1.Rule{APIGroups: []string{"serving.knative.dev"}, APIVersions: []string{"v1"}, Resources: []string{"services"}},
			}},
		}},
	}
	if err := c.Create(ctx, mwc); err != nil {
		t.Fatalf("register the webhook: %v", err)
	}

	gvk := schema.GroupVersionKind{Group: "serving.knative.dev", Version: "v1", Kind: "Service"}
	// put creates the Service name, or with old (a stored one) updates it, with the
	// annotations and pod spec given, and returns it as stored.
	put := func(name string, old *servingv1.Service, ann map[string]string, ps corev1.PodSpec) (*servingv1.Service, error) {
		t.Helper()
		svc := servingv1.Service{TypeMeta: metav1.TypeMeta{APIVersion: "serving.knative.dev/v1", Kind: "Service"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}}
		if old != nil {
			svc.ObjectMeta = old.ObjectMeta
		}
		svc.Spec.Template.Annotations = ann
		svc.Spec.Template.Spec.PodSpec = ps
		raw, _ := json.Marshal(svc)
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(raw); err != nil {
			t.Fatal(err)
		}
		u.SetGroupVersionKind(gvk)
		// The webhook registration takes a moment to reach the API server's admission chain.
		var err error
		for range 50 {
			if old != nil {
				err = c.Update(ctx, u)
			} else {
				err = c.Create(ctx, u)
			}
			if err == nil || !strings.Contains(err.Error(), "no endpoints") {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			return nil, err
		}
		stored := &unstructured.Unstructured{}
		stored.SetGroupVersionKind(gvk)
		if err := c.Get(ctx, client.ObjectKey{Namespace: "default", Name: name}, stored); err != nil {
			t.Fatal(err)
		}
		b, _ := stored.MarshalJSON()
		var out servingv1.Service
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		return &out, nil
	}
	create := func(name string, ann map[string]string, containers []corev1.Container) (*servingv1.Service, error) {
		t.Helper()
		return put(name, nil, ann, corev1.PodSpec{Containers: containers})
	}
	user := []corev1.Container{{Name: "user", Image: "registry.local/orders:v1", Ports: []corev1.ContainerPort{{Name: "http1", ContainerPort: 9000}},
		ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready"}}}}}

	// Annotated: stored with the proxy in front.
	got, err := create("orders", map[string]string{"aft.dev/transactional": "true", "aft.dev/attempts": "4"}, user)
	if err != nil {
		t.Fatalf("create an annotated Service: %v\n%s", err, p.Tail())
	}
	cs := got.Spec.Template.Spec.Containers
	if len(cs) != 2 || cs[0].Name != "user" || cs[1].Name != knative.ProxyName {
		t.Fatalf("stored containers %+v, want user then %s", cs, knative.ProxyName)
	}
	u, px := cs[0], cs[1]
	switch {
	case len(u.Ports) != 0 || u.ReadinessProbe != nil:
		t.Errorf("stored user container keeps its port %+v or probe %+v", u.Ports, u.ReadinessProbe)
	case len(u.Env) != 1 || u.Env[0] != (corev1.EnvVar{Name: "PORT", Value: "8081"}):
		t.Errorf("stored user env %+v, want PORT=8081", u.Env)
	case len(px.Ports) != 1 || px.Ports[0].ContainerPort != 9000 || px.Ports[0].Name != "http1":
		t.Errorf("stored proxy ports %+v, want the user's http1 9000", px.Ports)
	case px.ReadinessProbe == nil || px.ReadinessProbe.HTTPGet.Path != "/ready":
		t.Errorf("stored proxy probe %+v, want the user's /ready", px.ReadinessProbe)
	case px.Image != "registry.local/aft:e2e" || !strings.Contains(strings.Join(px.Args, " "), "--upstream http://127.0.0.1:8081 --shim http://aft-shim.aft.svc:7654 --function orders.default --attempts 4"):
		t.Errorf("stored proxy image %q args %q", px.Image, px.Args)
	case px.SecurityContext == nil || !*px.SecurityContext.ReadOnlyRootFilesystem || !*px.SecurityContext.RunAsNonRoot:
		t.Errorf("stored proxy security context %+v", px.SecurityContext)
	}
	checkSecretVolumes(t, "the stored annotated Service", got)
	if err := knative.Validate(got); err != nil {
		t.Errorf("the stored annotated Service: Knative Serving refuses it: %v", err)
	}
	stored := got

	// Unannotated: stored as it was sent.
	got, err = create("plain", nil, user)
	if err != nil {
		t.Fatal(err)
	}
	if cs := got.Spec.Template.Spec.Containers; len(cs) != 1 || len(cs[0].Ports) != 1 || cs[0].Env != nil {
		t.Errorf("stored unannotated containers %+v, want them untouched", cs)
	}

	// Already injected (as a GitOps tool would apply the stored object again): untouched.
	injected := corev1.PodSpec{Containers: []corev1.Container{u, px}, Volumes: stored.Spec.Template.Spec.Volumes}
	got, err = put("again", nil, map[string]string{"aft.dev/transactional": "true"}, injected)
	if err != nil {
		t.Fatal(err)
	}
	if cs := got.Spec.Template.Spec.Containers; len(cs) != 2 || cs[1].Name != knative.ProxyName || len(cs[0].Env) != 1 {
		t.Errorf("stored injected Service %+v, want it as sent", cs)
	}
	checkSecretVolumes(t, "the stored injected Service", got)

	// The manifest applied again to the annotated Service (kubectl apply: a merge patch of
	// the containers, the webhook's volumes kept): the proxy and its volumes, once each.
	got, err = put("orders", stored, map[string]string{"aft.dev/transactional": "true", "aft.dev/attempts": "4"},
		corev1.PodSpec{Containers: user, Volumes: stored.Spec.Template.Spec.Volumes})
	if err != nil {
		t.Fatalf("update the annotated Service: %v\n%s", err, p.Tail())
	}
	if cs := got.Spec.Template.Spec.Containers; len(cs) != 2 || cs[1].Name != knative.ProxyName || len(cs[0].Env) != 1 {
		t.Errorf("updated Service's containers %+v, want user and the proxy once", cs)
	}
	checkSecretVolumes(t, "the updated Service", got)
	if err := knative.Validate(got); err != nil {
		t.Errorf("the updated Service: Knative Serving refuses it: %v", err)
	}

	// Malformed: refused by the API server with the webhook's message.
	_, err = create("bad", map[string]string{"aft.dev/transactional": "true", "aft.dev/deadline": "soon"}, user)
	if err == nil || !strings.Contains(err.Error(), `aft.dev/deadline="soon"`) {
		t.Errorf("a malformed annotation: %v, want the API server to refuse it naming aft.dev/deadline", err)
	}

	t.Run("charts dry run", func(t *testing.T) { chartsDryRun(t, c, cfg) })
}

// chartsDryRun renders every Helm chart with each of its ci/ values and creates each object
// in the API server with a server-side dry run and strict field validation: the API server
// itself checks the manifests, as `kubectl apply --dry-run=server` would. Kinds from CRDs
// this server lacks (the Prometheus Operator's, cert-manager's) are left out, and counted.
func chartsDryRun(t *testing.T, c client.Client, cfg *rest.Config) {
	ctx := context.Background()
	helm, err := toolcache.Helm.Path()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "aft"}}); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join("..", "charts", "*", "ci", "*-values.yaml"))
	if len(files) < 6 {
		t.Fatalf("ci values files %v, want two per chart", files)
	}
	skipped := map[string]int{}
	kinds := map[string]bool{}
	created := 0
	manifests := t.TempDir()
	for i, f := range files {
		chart := filepath.Dir(filepath.Dir(f))
		out, err := exec.Command(helm, "template", "rel", chart, "--namespace", "aft", "-f", f).CombinedOutput()
		if err != nil {
			t.Fatalf("helm template %s -f %s: %v\n%s", chart, f, err, out)
		}
		if err := os.WriteFile(filepath.Join(manifests, fmt.Sprintf("%02d-%s.yaml", i, filepath.Base(chart))), out, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, doc := range strings.Split(string(out), "\n---") {
			var m map[string]any
			if err := yaml.Unmarshal([]byte(doc), &m); err != nil || m == nil {
				continue
			}
			u := &unstructured.Unstructured{Object: m}
			kinds[u.GetKind()] = true
			switch u.GetKind() {
			case "ServiceMonitor", "Certificate", "Issuer":
				skipped[u.GetKind()]++
				continue
			}
			if u.GetNamespace() == "" && u.GetKind() != "MutatingWebhookConfiguration" {
				u.SetNamespace("aft")
			}
			if err := c.Create(ctx, u, client.DryRunAll, client.FieldValidation("Strict")); err != nil {
				t.Errorf("%s (%s): %s %s: %v", filepath.Base(chart), filepath.Base(f), u.GetKind(), u.GetName(), err)
				continue
			}
			created++
		}
	}
	t.Logf("server-side dry run: %d objects accepted; left out for want of their CRDs: %v", created, skipped)
	kubeconform(t, cfg, manifests, kinds, []string{"ServiceMonitor", "Certificate", "Issuer"})
}

// checkSecretVolumes fails unless svc's pod has the two Secret volumes of the webhook's
// --shim-token-secret aft-shim-token and --shim-ca-secret shim-ca/bundle.pem, each one key
// under a fixed name, mounted read-only by the proxy alone, which reads them with
// --shim-token-file and --shim-ca; and unless no container gets a credential otherwise.
func checkSecretVolumes(t *testing.T, what string, svc *servingv1.Service) {
	t.Helper()
	ps := svc.Spec.Template.Spec
	want := []corev1.Volume{
		{Name: knative.TokenVolume, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "aft-shim-token",
			Items: []corev1.KeyToPath{{Key: "token", Path: "token"}}}}},
		{Name: knative.CAVolume, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "shim-ca",
			Items: []corev1.KeyToPath{{Key: "bundle.pem", Path: "ca.crt"}}}}},
	}
	// The API server defaults a Secret volume's mode; the rest is as the webhook sent it.
	got := make([]corev1.Volume, len(ps.Volumes))
	for i, v := range ps.Volumes {
		got[i] = *v.DeepCopy()
		if s := got[i].Secret; s != nil && s.DefaultMode != nil && *s.DefaultMode == corev1.SecretVolumeSourceDefaultMode {
			s.DefaultMode = nil
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s: pod volumes (-want +got):\n%s", what, diff)
	}
	wantMounts := []corev1.VolumeMount{
		{Name: knative.TokenVolume, MountPath: "/var/run/secrets/aft.dev/shim-token", ReadOnly: true},
		{Name: knative.CAVolume, MountPath: "/var/run/secrets/aft.dev/shim-ca", ReadOnly: true},
	}
	for _, c := range ps.Containers {
		if c.Name != knative.ProxyName {
			if len(c.VolumeMounts) != 0 || slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.ValueFrom != nil }) {
				t.Errorf("%s: container %s mounts %+v, env %+v: want no credential outside the proxy", what, c.Name, c.VolumeMounts, c.Env)
			}
			continue
		}
		if diff := cmp.Diff(wantMounts, c.VolumeMounts); diff != "" {
			t.Errorf("%s: proxy mounts (-want +got):\n%s", what, diff)
		}
		args := strings.Join(c.Args, " ")
		if !strings.HasSuffix(args, " --shim-token-file "+knative.TokenFile+" --shim-ca "+knative.CAFile) {
			t.Errorf("%s: proxy args %q, want them to end with --shim-token-file and --shim-ca", what, c.Args)
		}
	}
}

// caPEM is ca's certificate, as a caBundle holds it.
func caPEM(ca *certfiletest.CA) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}
