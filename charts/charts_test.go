package charts

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	admissionregv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"

	"github.com/aft-shim/aft/internal/toolcache"
)

// helm returns the path of the helm binary: $AFT_HELM, else the deps script's cache.
func helm(t *testing.T) string {
	t.Helper()
	p, err := toolcache.Helm.Path()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// run runs helm with args and returns its output; it fails the test on an error.
func run(t *testing.T, args ...string) []byte {
	t.Helper()
	out, err := exec.Command(helm(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// object is one rendered manifest.
type object struct {
	Kind string
	Name string
	YAML []byte
}

// render renders chart with the values files and returns its objects.
func render(t *testing.T, chart string, args ...string) []object {
	t.Helper()
	out := run(t, append([]string{"template", "rel", chart, "--namespace", "aft"}, args...)...)
	var objs []object
	for _, doc := range bytes.Split(out, []byte("\n---")) {
		var meta struct {
			Kind     string
			Metadata struct{ Name string }
		}
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			t.Fatalf("%s: a rendered document is no YAML: %v\n%s", chart, err, doc)
		}
		if meta.Kind != "" {
			objs = append(objs, object{meta.Kind, meta.Metadata.Name, doc})
		}
	}
	return objs
}

// typed decodes every object whose kind has a Go type in k8s.io/api, strictly (a field that
// the type does not have fails, as kubectl apply --validate=strict would), and returns them
// by kind. Other kinds (ServiceMonitor, cert-manager's) are returned undecoded.
func typed(t *testing.T, objs []object) map[string][]any {
	t.Helper()
	out := map[string][]any{}
	for _, o := range objs {
		var v any
		switch o.Kind {
		case "Deployment":
			v = &appsv1.Deployment{}
		case "Service":
			v = &corev1.Service{}
		case "PersistentVolumeClaim":
			v = &corev1.PersistentVolumeClaim{}
		case "ConfigMap":
			v = &corev1.ConfigMap{}
		case "Secret":
			v = &corev1.Secret{}
		case "PodDisruptionBudget":
			v = &policyv1.PodDisruptionBudget{}
		case "MutatingWebhookConfiguration":
			v = &admissionregv1.MutatingWebhookConfiguration{}
		default:
			out[o.Kind] = append(out[o.Kind], o.YAML)
			continue
		}
		if err := yaml.UnmarshalStrict(o.YAML, v); err != nil {
			t.Errorf("%s %s: %v\n%s", o.Kind, o.Name, err, o.YAML)
			continue
		}
		out[o.Kind] = append(out[o.Kind], v)
	}
	return out
}

var charts = []string{"aft-shim", "aft-openfaas", "aft-knative-webhook"}

// TestChartsLintAndRender: every chart passes helm lint --strict with each of its ci/
// values files, renders objects of the Kubernetes API's types with no unknown field, and
// runs its pods as the secure defaults say.
func TestChartsLintAndRender(t *testing.T) {
	for _, chart := range charts {
		files, _ := filepath.Glob(filepath.Join(chart, "ci", "*-values.yaml"))
		if len(files) < 2 {
			t.Fatalf("%s: %d ci values files, want default and full", chart, len(files))
		}
		for _, f := range files {
			t.Run(chart+"/"+filepath.Base(f), func(t *testing.T) {
				run(t, "lint", "--strict", chart, "-f", f)
				objs := typed(t, render(t, chart, "-f", f))
				deps := objs["Deployment"]
				if len(deps) != 1 {
					t.Fatalf("%d Deployments, want 1", len(deps))
				}
				checkSecure(t, deps[0].(*appsv1.Deployment))
			})
		}
	}
}

// checkSecure fails unless d's pod runs non-root, and every container with a read-only
// root filesystem, no privilege escalation and no capabilities.
func checkSecure(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	ps := d.Spec.Template.Spec
	if sc := ps.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.SeccompProfile == nil {
		t.Errorf("%s: pod security context %+v, want runAsNonRoot and a seccomp profile", d.Name, sc)
	}
	for _, c := range ps.Containers {
		sc := c.SecurityContext
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil ||
			*sc.AllowPrivilegeEscalation || sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
			t.Errorf("%s/%s: security context %+v, want a read-only root, no escalation, all capabilities dropped", d.Name, c.Name, sc)
		}
		if c.ReadinessProbe == nil || c.LivenessProbe == nil {
			t.Errorf("%s/%s: no readiness or liveness probe", d.Name, c.Name)
		}
	}
}

func container(t *testing.T, objs map[string][]any) corev1.Container {
	t.Helper()
	return objs["Deployment"][0].(*appsv1.Deployment).Spec.Template.Spec.Containers[0]
}

func TestShimChart(t *testing.T) {
	objs := typed(t, render(t, "aft-shim"))
	c := container(t, objs)
	if !slices.Contains(c.Args, "serve") || slices.ContainsFunc(c.Args, func(a string) bool { return strings.HasPrefix(a, "--store") }) {
		t.Errorf("default args %q: want serve on the embedded store", c.Args)
	}
	if len(objs["PersistentVolumeClaim"]) != 1 || len(objs["PodDisruptionBudget"]) != 1 || len(objs["Service"]) != 2 {
		t.Errorf("defaults render %d PVCs, %d PDBs, %d Services; want 1, 1, 2 (the API, the peers)",
			len(objs["PersistentVolumeClaim"]), len(objs["PodDisruptionBudget"]), len(objs["Service"]))
	}
	if d := objs["Deployment"][0].(*appsv1.Deployment); *d.Spec.Replicas != 1 || d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("replicas %d, strategy %s: want 1, Recreate", *d.Spec.Replicas, d.Spec.Strategy.Type)
	}

	// A store URL from a Secret appears in no manifest.
	objs = typed(t, render(t, "aft-shim", "-f", "aft-shim/ci/full-values.yaml"))
	c = container(t, objs)
	if !slices.Contains(c.Args, "--store=$(AFT_STORE_URL)") || !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool {
		return e.Name == "AFT_STORE_URL" && e.ValueFrom.SecretKeyRef.Name == "aft-store"
	}) {
		t.Errorf("args %q env %+v: want the store URL from the Secret aft-store", c.Args, c.Env)
	}

	if len(objs["ServiceMonitor"]) != 1 || len(objs["ConfigMap"]) != 1 {
		t.Errorf("%d ServiceMonitors, %d dashboards, want 1 and 1", len(objs["ServiceMonitor"]), len(objs["ConfigMap"]))
	} else if dash := objs["ConfigMap"][0].(*corev1.ConfigMap).Data["aft-shim.json"]; !strings.Contains(dash, "aft_http_requests_total") {
		t.Errorf("dashboard %.200s: want panels over aft's metrics", dash)
	}

	// Several nodes on a shared store: each named by its pod, reachable at its pod IP, the
	// others found through the headless Service; no volume to share, a rolling update.
	objs = typed(t, render(t, "aft-shim", "-f", "aft-shim/ci/nodes-values.yaml"))
	c = container(t, objs)
	for _, want := range []string{"--node-id=$(POD_NAME)", "--advertise=http://$(POD_IP):7654", "--peers=dns+http://rel-aft-shim-peers.aft.svc:7654"} {
		if !slices.Contains(c.Args, want) {
			t.Errorf("several nodes: args %q lack %s", c.Args, want)
		}
	}
	if d := objs["Deployment"][0].(*appsv1.Deployment); *d.Spec.Replicas != 3 || d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType ||
		len(objs["PersistentVolumeClaim"]) != 0 {
		t.Errorf("several nodes: replicas %d, strategy %s, %d PVCs; want 3, RollingUpdate, none", *d.Spec.Replicas, d.Spec.Strategy.Type, len(objs["PersistentVolumeClaim"]))
	}
	// The schema refuses what would not work.
	for _, bad := range [][]string{{"--set", "replicas=2"}, {"--set", "replicas=-1"}, {"--set", "store.url=mysql://x"}, {"--set", "logLevel=loud"}, {"--set", "unknown=1"}} {
		args := append([]string{"template", "rel", "aft-shim"}, bad...)
		if out, err := exec.Command(helm(t), args...).CombinedOutput(); err == nil {
			t.Errorf("helm template %q succeeded, want the schema to refuse it:\n%.300s", bad, out)
		}
	}
}

func TestOpenFaaSChart(t *testing.T) {
	spec := func(c corev1.Container) corev1.PodSpec {
		return corev1.PodSpec{Containers: []corev1.Container{{Args: c.Args, Env: c.Env, Ports: c.Ports, VolumeMounts: c.VolumeMounts}}}
	}
	podIP := []corev1.EnvVar{{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}}}
	secretVol := func(vol, secret, key, path string) corev1.Volume {
		return corev1.Volume{Name: vol, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: secret,
			Items: []corev1.KeyToPath{{Key: key, Path: path}}}}}
	}
	tests := []struct {
		values string
		want   corev1.PodSpec // args, env, ports and mounts of the plugin; the pod's volumes
	}{
		// Secure by default: the aft-shim chart's token, from a Secret volume; the relay at
		// the pod's own IP, a container port of its own.
		{"default", corev1.PodSpec{
			Containers: []corev1.Container{{
				Args: []string{"provider", "openfaas", "--port=8081", "--upstream=http://faas-netes.openfaas:8081", "--shim=http://aft-shim.aft.svc:7654",
					"--attempts=3", "--attempt-timeout=10s", "--deadline=30s", "--on-running=run",
					"--shim-token-file=/var/openfaas/secrets/aft-shim-token", "--relay-listen=:8084", "--relay-url=http://$(POD_IP):8084"},
				Env:          podIP,
				Ports:        []corev1.ContainerPort{{Name: "http", ContainerPort: 8081, Protocol: "TCP"}, {Name: "relay", ContainerPort: 8084, Protocol: "TCP"}},
				VolumeMounts: []corev1.VolumeMount{{Name: "shim-token", MountPath: "/var/openfaas/secrets", ReadOnly: true}},
			}},
			Volumes: []corev1.Volume{secretVol("shim-token", "aft-shim-token", "token", "aft-shim-token")},
		}},
		{"full", corev1.PodSpec{
			Containers: []corev1.Container{{
				Args: []string{"provider", "openfaas", "--port=9081", "--upstream=http://faasd-provider:8081", "--shim=https://aft-shim.aft.svc:7654",
					"--attempts=5", "--attempt-timeout=2s", "--deadline=1m", "--on-running=wait",
					"--shim-token-file=/var/openfaas/secrets/aft-shim-token", "--shim-ca=/etc/aft/shim-ca/ca.crt",
					"--relay-listen=:9084", "--relay-url=http://$(POD_IP):9084"},
				Env:   podIP,
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 9081, Protocol: "TCP"}, {Name: "relay", ContainerPort: 9084, Protocol: "TCP"}},
				VolumeMounts: []corev1.VolumeMount{{Name: "shim-token", MountPath: "/var/openfaas/secrets", ReadOnly: true},
					{Name: "shim-ca", MountPath: "/etc/aft/shim-ca", ReadOnly: true}},
			}},
			Volumes: []corev1.Volume{secretVol("shim-token", "openfaas-tenant", "aft-token", "aft-shim-token"), secretVol("shim-ca", "aft-shim-ca", "bundle.pem", "ca.crt")},
		}},
		// No token and no CA: no relay, as the plugin runs none.
		{"insecure", corev1.PodSpec{Containers: []corev1.Container{{
			Args: []string{"provider", "openfaas", "--port=8081", "--upstream=http://faas-netes.openfaas:8081", "--shim=http://aft-shim.aft.svc:7654",
				"--attempts=3", "--attempt-timeout=10s", "--deadline=30s", "--on-running=run"},
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8081, Protocol: "TCP"}},
		}}}},
	}
	for _, tt := range tests {
		t.Run(tt.values, func(t *testing.T) {
			objs := typed(t, render(t, "aft-openfaas", "-f", "aft-openfaas/ci/"+tt.values+"-values.yaml"))
			got := spec(container(t, objs))
			got.Volumes = objs["Deployment"][0].(*appsv1.Deployment).Spec.Template.Spec.Volumes
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("plugin pod (-want +got):\n%s", diff)
			}
			// The relay names one pod: the Service has the provider API alone.
			if svc := objs["Service"][0].(*corev1.Service); len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Name != "http" {
				t.Errorf("Service ports %+v, want http alone", svc.Spec.Ports)
			}
		})
	}
	for _, bad := range [][]string{{"--set", "relay.port=8081"}, {"--set", "shim.tokenSecret.name=Aft_Token"}, {"--set", "shim.caSecret.key=a/b"}} {
		args := append([]string{"template", "rel", "aft-openfaas", "-f", "aft-openfaas/ci/default-values.yaml"}, bad...)
		if out, err := exec.Command(helm(t), args...).CombinedOutput(); err == nil {
			t.Errorf("helm template %q succeeded, want it refused:\n%.300s", bad, out)
		}
	}
	out, err := exec.Command(helm(t), "template", "rel", "aft-openfaas", "--set", "shim.url=http://s:1").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "upstream") {
		t.Errorf("no upstream: %v %s, want an error that names it", err, out)
	}
}

func TestKnativeWebhookChart(t *testing.T) {
	objs := typed(t, render(t, "aft-knative-webhook", "-f", "aft-knative-webhook/ci/default-values.yaml"))
	mwcs := objs["MutatingWebhookConfiguration"]
	if len(mwcs) != 1 {
		t.Fatalf("%d MutatingWebhookConfigurations", len(mwcs))
	}
	wh := mwcs[0].(*admissionregv1.MutatingWebhookConfiguration).Webhooks[0]
	rule := wh.Rules[0]
	if !slices.Equal(rule.APIGroups, []string{"serving.knative.dev"}) || !slices.Equal(rule.Resources, []string{"services"}) ||
		*wh.FailurePolicy != admissionregv1.Fail || *wh.SideEffects != admissionregv1.SideEffectClassNone ||
		wh.ClientConfig.Service.Path == nil || *wh.ClientConfig.Service.Path != "/mutate" {
		t.Errorf("webhook %+v: want Knative Services only, Fail, no side effects, /mutate", wh)
	}

	// The certificate in the Secret verifies against the CA bundle the API server is given,
	// for the name the API server calls.
	var secret *corev1.Secret
	for _, s := range objs["Secret"] {
		secret = s.(*corev1.Secret)
	}
	if secret == nil {
		t.Fatal("no TLS Secret")
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(wh.ClientConfig.CABundle) {
		t.Fatalf("caBundle %q holds no certificate", wh.ClientConfig.CABundle)
	}
	block, _ := pem.Decode(secret.Data["tls.crt"])
	if block == nil {
		t.Fatalf("tls.crt: no PEM (%s)", base64.StdEncoding.EncodeToString(secret.Data["tls.crt"])[:20])
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	name := wh.ClientConfig.Service.Name + "." + wh.ClientConfig.Service.Namespace + ".svc"
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: name}); err != nil {
		t.Errorf("the webhook's certificate does not verify for %s: %v", name, err)
	}
	c := container(t, objs)
	if !slices.Contains(c.Args, "--proxy-image=aft.local/aft:0.1.0") || !slices.Contains(c.Args, "--tls-cert=/tls/tls.crt") {
		t.Errorf("args %q", c.Args)
	}
	// The Secrets of the shim's token and CA, which the proxies mount in the Services'
	// namespaces: by default the aft-shim chart's token, and none with an insecure shim.
	shimArgs := func(c corev1.Container) []string {
		return slices.DeleteFunc(slices.Clone(c.Args), func(a string) bool { return !strings.HasPrefix(a, "--shim") })
	}
	for _, tt := range []struct {
		values string
		want   []string
	}{
		{"default", []string{"--shim=http://aft-shim.aft.svc:7654", "--shim-token-secret=aft-shim-token/token"}},
		{"full", []string{"--shim=https://aft-shim.aft.svc:7654", "--shim-token-secret=shop-tenant/aft-token", "--shim-ca-secret=aft-shim-ca/ca.crt"}},
		{"insecure", []string{"--shim=http://aft-shim.aft.svc:7654"}},
	} {
		c := container(t, typed(t, render(t, "aft-knative-webhook", "-f", "aft-knative-webhook/ci/"+tt.values+"-values.yaml")))
		if got := shimArgs(c); !slices.Equal(got, tt.want) {
			t.Errorf("%s values: shim args %q, want %q", tt.values, got, tt.want)
		}
	}
	for _, bad := range []string{"shim.tokenSecret.name=Aft_Token", "shim.caSecret.key=a/b", "shim.caSecret.key="} {
		args := []string{"template", "rel", "aft-knative-webhook", "-f", "aft-knative-webhook/ci/default-values.yaml", "--set", bad}
		if out, err := exec.Command(helm(t), args...).CombinedOutput(); err == nil {
			t.Errorf("helm template --set %s succeeded, want the schema to refuse it:\n%.300s", bad, out)
		}
	}

	// cert-manager: a Certificate from the named issuer, its CA injected by cert-manager.
	objs = typed(t, render(t, "aft-knative-webhook", "-f", "aft-knative-webhook/ci/full-values.yaml"))
	mwc := objs["MutatingWebhookConfiguration"][0].(*admissionregv1.MutatingWebhookConfiguration)
	if mwc.Annotations["cert-manager.io/inject-ca-from"] != "aft/rel-aft-knative-webhook" || len(objs["Certificate"]) != 1 ||
		len(objs["Issuer"]) != 0 || len(objs["Secret"]) != 0 || *mwc.Webhooks[0].FailurePolicy != admissionregv1.Ignore {
		t.Errorf("certManager mode: annotations %v, %d Certificates, %d Issuers, %d Secrets, policy %s",
			mwc.Annotations, len(objs["Certificate"]), len(objs["Issuer"]), len(objs["Secret"]), *mwc.Webhooks[0].FailurePolicy)
	}
	if sel := mwc.Webhooks[0].NamespaceSelector; sel.MatchLabels["aft.dev/webhook"] != "enabled" || len(sel.MatchExpressions) != 1 {
		t.Errorf("namespace selector %+v: want the given labels, and kube-system and the release's namespace left out", sel)
	}
}

// TestImage builds the image with scripts/images.sh (ko, offline) and checks that it is the
// one every chart names by default, that it runs as the charts' user, and that the aft in
// it runs.
func TestImage(t *testing.T) {
	out := t.TempDir()
	cmd := exec.Command("bash", "../scripts/images.sh", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/images.sh: %v\n%s", err, b)
	}
	files, _ := filepath.Glob(filepath.Join(out, "aft-*.tar"))
	if len(files) != 1 {
		t.Fatalf("images made: %v, want one", files)
	}
	dir := t.TempDir()
	if b, err := exec.Command("tar", "-xf", files[0], "-C", dir).CombinedOutput(); err != nil {
		t.Fatalf("untar: %v %s", err, b)
	}
	var manifest []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	b, _ := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err := yaml.Unmarshal(b, &manifest); err != nil || len(manifest) != 1 {
		t.Fatalf("manifest.json %s: %v", b, err)
	}
	m := manifest[0]
	for _, chart := range charts {
		var v struct{ Image struct{ Repository string } }
		vb, _ := os.ReadFile(filepath.Join(chart, "values.yaml"))
		cb, _ := os.ReadFile(filepath.Join(chart, "Chart.yaml"))
		var c struct{ AppVersion string }
		yaml.Unmarshal(vb, &v)
		yaml.Unmarshal(cb, &c)
		if want := v.Image.Repository + ":" + c.AppVersion; !slices.Equal(m.RepoTags, []string{want}) {
			t.Errorf("%s names %s; the image is %v", chart, want, m.RepoTags)
		}
	}
	var cfg struct {
		Config struct {
			User       string
			Entrypoint []string
		}
	}
	b, _ = os.ReadFile(filepath.Join(dir, strings.TrimPrefix(m.Config, "sha256:")))
	if len(b) == 0 {
		b, _ = os.ReadFile(filepath.Join(dir, m.Config))
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil || cfg.Config.User != "65532" || !slices.Equal(cfg.Config.Entrypoint, []string{"/ko-app/aft"}) {
		t.Fatalf("image config %s: user %q entrypoint %q, want 65532 and /ko-app/aft (%v)", b, cfg.Config.User, cfg.Config.Entrypoint, err)
	}
	// The binary from the image's layers runs here (linux/amd64, static) and knows every command.
	root := t.TempDir()
	for _, l := range m.Layers {
		if b, err := exec.Command("tar", "-xzf", filepath.Join(dir, l), "-C", root).CombinedOutput(); err != nil {
			t.Fatalf("layer %s: %v %s", l, err, b)
		}
	}
	for _, f := range []string{"etc/ssl/certs/ca-certificates.crt", "etc/passwd", "tmp"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("the image has no /%s: %v", f, err)
		}
	}
	b, _ = exec.Command(filepath.Join(root, "ko-app", "aft")).CombinedOutput()
	for _, c := range []string{"serve", "proxy", "webhook", "provider"} {
		if !strings.Contains(string(b), "\n  "+c+" ") {
			t.Errorf("aft in the image does not list %s:\n%s", c, b)
		}
	}
}
