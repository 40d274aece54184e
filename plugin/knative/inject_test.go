package knative

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
)

var testConfig = Config{ShimURL: "http://aft-shim.aft.svc:7654", ProxyImage: "registry.local/aft:v1"}

// service returns a Knative Service of one container, with annotations on its template,
// changed by opts.
func service(ann map[string]string, opts ...func(*servingv1.Service)) *servingv1.Service {
	s := &servingv1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "serving.knative.dev/v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: "orders", Namespace: "shop"},
	}
	s.Spec.Template.Annotations = ann
	s.Spec.Template.Spec.Containers = []corev1.Container{{Name: "user", Image: "registry.local/orders:v1",
		Env: []corev1.EnvVar{{Name: "MODE", Value: "live"}}}}
	for _, o := range opts {
		o(s)
	}
	return s
}

var tx = map[string]string{"aft.dev/transactional": "true"}

// review sends s through testConfig's Review as a CREATE and returns the Service the API
// server would store (the patch applied) and the response.
func review(t *testing.T, s *servingv1.Service) (*servingv1.Service, *admissionv1.AdmissionResponse) {
	t.Helper()
	return reviewWith(t, testConfig, s)
}

// reviewWith is review with the webhook's Config c.
func reviewWith(t *testing.T, c Config, s *servingv1.Service) (*servingv1.Service, *admissionv1.AdmissionResponse) {
	t.Helper()
	raw, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	resp := c.Review(&admissionv1.AdmissionRequest{UID: "u-1", Resource: serviceResource,
		Operation: admissionv1.Create, Namespace: "shop", Name: s.Name, Object: runtime.RawExtension{Raw: raw}})
	if resp.UID != "u-1" {
		t.Errorf("response UID %q, want the request's", resp.UID)
	}
	if resp.Patch == nil {
		return s, resp
	}
	if resp.PatchType == nil || *resp.PatchType != admissionv1.PatchTypeJSONPatch {
		t.Fatalf("patch type %v, want JSONPatch", resp.PatchType)
	}
	p, err := jsonpatch.DecodePatch(resp.Patch)
	if err != nil {
		t.Fatalf("patch %s: %v", resp.Patch, err)
	}
	out, err := p.Apply(raw)
	if err != nil {
		t.Fatalf("apply the patch %s: %v", resp.Patch, err)
	}
	var got servingv1.Service
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	return &got, resp
}

// knativeAccepts fails unless Knative Serving's own defaulting and validation accept s, as
// a user's cluster would.
func knativeAccepts(t *testing.T, what string, s *servingv1.Service) {
	t.Helper()
	if err := Validate(s); err != nil {
		t.Errorf("%s: Knative Serving refuses it: %v", what, err)
	}
}

func container(t *testing.T, s *servingv1.Service, name string) corev1.Container {
	t.Helper()
	cs := s.Spec.Template.Spec.Containers
	i := slices.IndexFunc(cs, func(c corev1.Container) bool { return c.Name == name })
	if i < 0 {
		t.Fatalf("no container %q in %+v", name, cs)
	}
	return cs[i]
}

func TestInject(t *testing.T) {
	probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready"}}, PeriodSeconds: 3}
	tests := []struct {
		name      string
		svc       *servingv1.Service
		port      corev1.ContainerPort // the proxy's
		inner     string               // PORT of the user container
		extraArgs []string
	}{
		{name: "no port declared", svc: service(tx), port: corev1.ContainerPort{ContainerPort: 8080}, inner: "8081"},
		{name: "port, probe and settings", svc: service(map[string]string{"aft.dev/transactional": "true", "aft.dev/attempts": "5",
			"aft.dev/attempt-timeout": "2s", "aft.dev/deadline": "1m", "aft.dev/on-running": "wait"}, func(s *servingv1.Service) {
			c := &s.Spec.Template.Spec.Containers[0]
			c.Ports = []corev1.ContainerPort{{Name: "http1", ContainerPort: 9000}}
			c.ReadinessProbe = probe
		}), port: corev1.ContainerPort{Name: "http1", ContainerPort: 9000}, inner: "8081",
			extraArgs: []string{"--attempts", "5", "--attempt-timeout", "2s", "--deadline", "1m0s", "--on-running", "wait"}},
		{name: "serving port 8081", svc: service(tx, func(s *servingv1.Service) {
			s.Spec.Template.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 8081}}
		}), port: corev1.ContainerPort{ContainerPort: 8081}, inner: "8082"},
		{name: "with a sidecar", svc: service(tx, func(s *servingv1.Service) {
			s.Spec.Template.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 8080}}
			s.Spec.Template.Spec.Containers = append([]corev1.Container{{Name: "logs", Image: "registry.local/logs:v1"}}, s.Spec.Template.Spec.Containers...)
		}), port: corev1.ContainerPort{ContainerPort: 8080}, inner: "8081"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			knativeAccepts(t, "the Service as given", tt.svc)
			got, resp := review(t, tt.svc)
			if !resp.Allowed || resp.Patch == nil {
				t.Fatalf("allowed %v, patch %s, result %+v: want a patch", resp.Allowed, resp.Patch, resp.Result)
			}
			knativeAccepts(t, "the Service with the proxy", got)
			proxy, user := container(t, got, ProxyName), container(t, got, "user")
			if len(proxy.Ports) != 1 || proxy.Ports[0] != tt.port {
				t.Errorf("proxy ports %+v, want [%+v]", proxy.Ports, tt.port)
			}
			want := append([]string{"proxy", "--listen", ":" + itoa(tt.port.ContainerPort), "--admin-listen", ":9095",
				"--upstream", "http://127.0.0.1:" + tt.inner, "--shim", testConfig.ShimURL, "--function", "orders.shop"}, tt.extraArgs...)
			if !slices.Equal(proxy.Args, want) {
				t.Errorf("proxy args\n%q\nwant\n%q", proxy.Args, want)
			}
			if proxy.Image != testConfig.ProxyImage {
				t.Errorf("proxy image %q", proxy.Image)
			}
			if sc := proxy.SecurityContext; sc == nil || !*sc.RunAsNonRoot || !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation {
				t.Errorf("proxy security context %+v, want non-root, read-only, no escalation", sc)
			}
			if len(user.Ports) != 0 || user.ReadinessProbe != nil {
				t.Errorf("user container keeps ports %+v or probe %+v", user.Ports, user.ReadinessProbe)
			}
			orig := container(t, tt.svc, "user")
			if orig.ReadinessProbe != nil && (proxy.ReadinessProbe == nil || proxy.ReadinessProbe.HTTPGet.Path != orig.ReadinessProbe.HTTPGet.Path) {
				t.Errorf("the readiness probe did not move to the proxy: %+v", proxy.ReadinessProbe)
			}
			if wantEnv := append(slices.Clone(orig.Env), corev1.EnvVar{Name: "PORT", Value: tt.inner}); !slices.Equal(user.Env, wantEnv) {
				t.Errorf("user env %+v, want %+v", user.Env, wantEnv)
			}
			if others := len(got.Spec.Template.Spec.Containers); others != len(tt.svc.Spec.Template.Spec.Containers)+1 {
				t.Errorf("%d containers, want one more than %d", others, len(tt.svc.Spec.Template.Spec.Containers))
			}

			// A second pass changes nothing.
			again, resp := review(t, got)
			if !resp.Allowed || resp.Patch != nil {
				t.Errorf("second pass: allowed %v, patch %s: want it untouched", resp.Allowed, resp.Patch)
			}
			if again != got {
				t.Error("second pass changed the Service")
			}
		})
	}
}

// TestInjectSecrets: with the shim's token and CA in Secrets, the proxy alone mounts them,
// each key as one file of a read-only Secret volume (which follows the Secret's updates), and
// reads them with --shim-token-file and --shim-ca; the Service names the Secrets and holds no
// credential; Knative accepts it; a second pass changes nothing.
func TestInjectSecrets(t *testing.T) {
	userVol := corev1.Volume{Name: "config", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "orders-config"}}}
	userMount := corev1.VolumeMount{Name: "config", MountPath: "/etc/orders", ReadOnly: true}
	withUserVolume := func(s *servingv1.Service) {
		s.Spec.Template.Spec.Volumes = []corev1.Volume{userVol}
		s.Spec.Template.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{userMount}
	}
	tokenVol := func(name, key string) corev1.Volume {
		return corev1.Volume{Name: "aft-shim-token", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: name, Items: []corev1.KeyToPath{{Key: key, Path: "token"}}}}}
	}
	caVol := corev1.Volume{Name: "aft-shim-ca", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
		SecretName: "aft-shim-ca", Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}}}
	tokenMount := corev1.VolumeMount{Name: "aft-shim-token", MountPath: "/var/run/secrets/aft.dev/shim-token", ReadOnly: true}
	caMount := corev1.VolumeMount{Name: "aft-shim-ca", MountPath: "/var/run/secrets/aft.dev/shim-ca", ReadOnly: true}
	tokenArgs := []string{"--shim-token-file", "/var/run/secrets/aft.dev/shim-token/token"}
	caArgs := []string{"--shim-ca", "/var/run/secrets/aft.dev/shim-ca/ca.crt"}

	withSecrets := testConfig
	withSecrets.TokenSecret = SecretRef{Name: "aft-shim-token", Key: "token"}
	withSecrets.CASecret = SecretRef{Name: "aft-shim-ca", Key: "ca.crt"}
	tokenOnly := testConfig
	tokenOnly.TokenSecret = SecretRef{Name: "creds", Key: "shim"}

	tests := []struct {
		name       string
		cfg        Config
		svc        *servingv1.Service
		wantVols   []corev1.Volume // the pod's, in order
		wantMounts []corev1.VolumeMount
		wantArgs   []string // after the spec's flags
	}{
		{name: "token and CA", cfg: withSecrets, svc: service(tx),
			wantVols: []corev1.Volume{tokenVol("aft-shim-token", "token"), caVol}, wantMounts: []corev1.VolumeMount{tokenMount, caMount},
			wantArgs: append(slices.Clone(tokenArgs), caArgs...)},
		{name: "token of another key", cfg: tokenOnly, svc: service(tx),
			wantVols: []corev1.Volume{tokenVol("creds", "shim")}, wantMounts: []corev1.VolumeMount{tokenMount}, wantArgs: tokenArgs},
		{name: "the user's volumes kept", cfg: withSecrets, svc: service(tx, withUserVolume),
			wantVols: []corev1.Volume{userVol, tokenVol("aft-shim-token", "token"), caVol}, wantMounts: []corev1.VolumeMount{tokenMount, caMount},
			wantArgs: append(slices.Clone(tokenArgs), caArgs...)},
		// kubectl apply of the Service's manifest again replaces the containers and keeps the
		// volumes the webhook added: they are replaced, or taken out when no longer wanted.
		{name: "leftover volume replaced", cfg: tokenOnly, svc: service(tx, withUserVolume, func(s *servingv1.Service) {
			s.Spec.Template.Spec.Volumes = append(s.Spec.Template.Spec.Volumes, tokenVol("aft-shim-token", "token"), caVol)
		}), wantVols: []corev1.Volume{userVol, tokenVol("creds", "shim")}, wantMounts: []corev1.VolumeMount{tokenMount}, wantArgs: tokenArgs},
		{name: "leftover volume taken out", cfg: testConfig, svc: service(tx, func(s *servingv1.Service) {
			s.Spec.Template.Spec.Volumes = []corev1.Volume{tokenVol("aft-shim-token", "token")}
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, resp := reviewWith(t, tt.cfg, tt.svc)
			if !resp.Allowed || resp.Patch == nil {
				t.Fatalf("allowed %v, patch %s, result %+v: want a patch", resp.Allowed, resp.Patch, resp.Result)
			}
			knativeAccepts(t, "the Service with the proxy and its Secrets", got)
			proxy, user := container(t, got, ProxyName), container(t, got, "user")
			if diff := cmp.Diff(tt.wantVols, got.Spec.Template.Spec.Volumes, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("pod volumes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantMounts, proxy.VolumeMounts, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("proxy mounts (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(container(t, tt.svc, "user").VolumeMounts, user.VolumeMounts, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("the user container's mounts changed (-want +got):\n%s", diff)
			}
			spec := []string{"proxy", "--listen", ":8080", "--admin-listen", ":9095", "--upstream", "http://127.0.0.1:8081",
				"--shim", testConfig.ShimURL, "--function", "orders.shop"}
			if diff := cmp.Diff(append(spec, tt.wantArgs...), proxy.Args); diff != "" {
				t.Errorf("proxy args (-want +got):\n%s", diff)
			}
			for _, c := range got.Spec.Template.Spec.Containers {
				for _, e := range c.Env {
					if e.ValueFrom != nil || e.Name == "AFT_SHIM_TOKEN" {
						t.Errorf("container %s has env %+v: the token reaches the proxy as a file only", c.Name, e)
					}
				}
			}

			again, resp := reviewWith(t, tt.cfg, got)
			if !resp.Allowed || resp.Patch != nil || again != got {
				t.Errorf("second pass: allowed %v, patch %s: want it untouched", resp.Allowed, resp.Patch)
			}
		})
	}

	// A volume of the user's own that takes the name of aft's is refused, not taken.
	_, resp := reviewWith(t, withSecrets, service(tx, func(s *servingv1.Service) {
		s.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "aft-shim-ca", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "mine"}}}}
		s.Spec.Template.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "aft-shim-ca", MountPath: "/etc/mine", ReadOnly: true}}
	}))
	if resp.Allowed || resp.Result == nil || !strings.Contains(resp.Result.Message, `"aft-shim-ca"`) {
		t.Errorf("a user volume named aft-shim-ca: allowed %v, result %+v: want refused, naming it", resp.Allowed, resp.Result)
	}
}

func TestParseSecretRef(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    SecretRef
		wantErr bool
	}{
		{in: "", want: SecretRef{}},
		{in: "aft-shim-token", want: SecretRef{Name: "aft-shim-token", Key: "dflt"}},
		{in: "shim.creds/ca.crt", want: SecretRef{Name: "shim.creds", Key: "ca.crt"}},
		{in: "creds/", wantErr: true},
		{in: "/token", wantErr: true},
		{in: "Creds", wantErr: true},
		{in: "creds/a/b", wantErr: true},
		{in: "creds/a b", wantErr: true},
	} {
		got, err := ParseSecretRef(tt.in, "dflt")
		if (err != nil) != tt.wantErr || (err == nil && got != tt.want) {
			t.Errorf("ParseSecretRef(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
	if err := (Config{ShimURL: "http://s", ProxyImage: "i", CASecret: SecretRef{Name: "ca"}}).Validate(); err == nil || !strings.Contains(err.Error(), "--shim-ca-secret") {
		t.Errorf("Validate of a Secret with no key: %v, want an error naming --shim-ca-secret", err)
	}
}

func itoa(p int32) string { b, _ := json.Marshal(p); return string(b) }

func TestInjectLeavesOthers(t *testing.T) {
	for name, ann := range map[string]map[string]string{
		"no annotations":  nil,
		"other":           {"autoscaling.knative.dev/max-scale": "3"},
		"not true":        {"aft.dev/transactional": "yes"},
		"OpenFaaS prefix": {"com.openfaas.aft/transactional": "true"},
	} {
		_, resp := review(t, service(ann))
		if !resp.Allowed || resp.Patch != nil {
			t.Errorf("%s: allowed %v, patch %s: want untouched", name, resp.Allowed, resp.Patch)
		}
	}
	// Annotations on the Service's own metadata are not the template's.
	s := service(nil)
	s.Annotations = tx
	if _, resp := review(t, s); resp.Patch != nil {
		t.Errorf("metadata.annotations: patch %s, want untouched (the template's annotations count)", resp.Patch)
	}
}

func TestInjectRefuses(t *testing.T) {
	for _, tt := range []struct {
		name string
		svc  *servingv1.Service
		want string // in the message
	}{
		{"bad attempts", service(map[string]string{"aft.dev/transactional": "true", "aft.dev/attempts": "many"}), `aft.dev/attempts="many"`},
		{"bad deadline", service(map[string]string{"aft.dev/transactional": "true", "aft.dev/deadline": "-1s"}), `aft.dev/deadline="-1s"`},
		{"bad policy", service(map[string]string{"aft.dev/transactional": "true", "aft.dev/on-running": "sometimes"}), "aft.dev/on-running"},
		{"h2c", service(tx, func(s *servingv1.Service) {
			s.Spec.Template.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "h2c", ContainerPort: 8080}}
		}), "h2c"},
		{"no serving container", service(tx, func(s *servingv1.Service) {
			s.Spec.Template.Spec.Containers = append(s.Spec.Template.Spec.Containers, corev1.Container{Name: "b", Image: "b"})
		}), "declares the port"},
	} {
		_, resp := review(t, tt.svc)
		if resp.Allowed || resp.Result == nil || !strings.Contains(resp.Result.Message, tt.want) || resp.Result.Code != 422 {
			t.Errorf("%s: allowed %v, result %+v: want refused, naming %q", tt.name, resp.Allowed, resp.Result, tt.want)
		}
	}
	var refused *RefusedError
	if _, err := testConfig.Inject(service(map[string]string{"aft.dev/transactional": "true", "aft.dev/attempts": "0"})); !errors.As(err, &refused) {
		t.Errorf("Inject of a bad annotation: %v, want a *RefusedError", err)
	}
}

// TestReviewOtherRequests: what is not a CREATE or UPDATE of a Knative Service is allowed
// as it is.
func TestReviewOtherRequests(t *testing.T) {
	raw, _ := json.Marshal(service(tx))
	for _, req := range []*admissionv1.AdmissionRequest{
		{UID: "1", Resource: serviceResource, Operation: admissionv1.Delete, Object: runtime.RawExtension{Raw: raw}},
		{UID: "2", Resource: metav1.GroupVersionResource{Version: "v1", Resource: "pods"}, Operation: admissionv1.Create, Object: runtime.RawExtension{Raw: raw}},
	} {
		if resp := testConfig.Review(req); !resp.Allowed || resp.Patch != nil {
			t.Errorf("%s %v: allowed %v patch %s", req.Operation, req.Resource, resp.Allowed, resp.Patch)
		}
	}
	resp := testConfig.Review(&admissionv1.AdmissionRequest{UID: "3", Resource: serviceResource, Operation: admissionv1.Create,
		Object: runtime.RawExtension{Raw: []byte(`{"spec": 7}`)}})
	if resp.Allowed {
		t.Error("an object that is no Service was allowed")
	}
}
