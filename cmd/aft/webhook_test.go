package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/aft-shim/aft/plugin/knative"
)

func TestWebhookFlags(t *testing.T) {
	base := []string{"--tls-cert", "c.pem", "--tls-key", "k.pem", "--shim", "http://aft-shim.aft.svc:7654", "--proxy-image", "r/aft:v1"}
	tests := []struct {
		name      string
		args      []string
		env       map[string]string
		want      knative.Config
		wantUsage string // in the error; "" for none
	}{
		{name: "no Secrets", args: base, want: knative.Config{ShimURL: "http://aft-shim.aft.svc:7654", ProxyImage: "r/aft:v1"}},
		{name: "Secret names, default keys", args: append(base, "--shim-token-secret", "aft-shim-token", "--shim-ca-secret", "aft-shim-ca"),
			want: knative.Config{ShimURL: "http://aft-shim.aft.svc:7654", ProxyImage: "r/aft:v1",
				TokenSecret: knative.SecretRef{Name: "aft-shim-token", Key: "token"}, CASecret: knative.SecretRef{Name: "aft-shim-ca", Key: "ca.crt"}}},
		{name: "keys given", args: append(base, "--shim-token-secret", "creds/shim-token", "--shim-ca-secret", "creds/ca.pem"),
			want: knative.Config{ShimURL: "http://aft-shim.aft.svc:7654", ProxyImage: "r/aft:v1",
				TokenSecret: knative.SecretRef{Name: "creds", Key: "shim-token"}, CASecret: knative.SecretRef{Name: "creds", Key: "ca.pem"}}},
		{name: "from the environment", args: base, env: map[string]string{"AFT_SHIM_TOKEN_SECRET": "tok.v2"},
			want: knative.Config{ShimURL: "http://aft-shim.aft.svc:7654", ProxyImage: "r/aft:v1", TokenSecret: knative.SecretRef{Name: "tok.v2", Key: "token"}}},
		{name: "bad Secret name", args: append(base, "--shim-token-secret", "Aft_Token"), wantUsage: `"Aft_Token"`},
		{name: "bad key", args: append(base, "--shim-ca-secret", "ca/a/b"), wantUsage: `"a/b"`},
		{name: "empty key", args: append(base, "--shim-ca-secret", "ca/"), wantUsage: `secret key ""`},
		{name: "no certificate", args: base[4:], wantUsage: "--tls-cert"},
		{name: "no proxy image", args: base[:6], wantUsage: "--proxy-image"},
		{name: "bad log level", args: append(base, "--log-level", "loud"), wantUsage: "log-level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var cfg webhookConfig
			err := parseFlags(webhookCmd{}.flags(&cfg), tt.args)
			if err == nil {
				err = cfg.validate()
			}
			if tt.wantUsage != "" {
				var ue *usageError
				if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.wantUsage) {
					t.Errorf("err = %v, want a usage error naming %s", err, tt.wantUsage)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, cfg.Inject); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWebhookProxyArgs: the arguments the webhook gives the proxy container are flags that
// aft proxy has, the Secrets' files among them.
func TestWebhookProxyArgs(t *testing.T) {
	cfg := knative.Config{ShimURL: "https://aft-shim.aft.svc:7654", ProxyImage: "r/aft:v1",
		TokenSecret: knative.SecretRef{Name: "aft-shim-token", Key: "token"}, CASecret: knative.SecretRef{Name: "ca", Key: "ca.crt"}}
	svc := &servingv1.Service{ObjectMeta: metav1.ObjectMeta{Name: "orders", Namespace: "shop"}}
	svc.Spec.Template.Annotations = map[string]string{"aft.dev/transactional": "true", "aft.dev/attempts": "4", "aft.dev/on-running": "wait"}
	svc.Spec.Template.Spec.Containers = []corev1.Container{{Name: "user", Image: "r/orders:v1"}}
	if changed, err := cfg.Inject(svc); !changed || err != nil {
		t.Fatalf("Inject: %v, %v", changed, err)
	}
	args := svc.Spec.Template.Spec.Containers[1].Args
	if len(args) == 0 || args[0] != "proxy" {
		t.Fatalf("proxy args %q, want aft proxy's", args)
	}
	var pc proxyConfig
	if err := parseFlags(proxyCmd{}.flags(&pc), args[1:]); err != nil {
		t.Fatalf("aft proxy %q: %v", args[1:], err)
	}
	if pc.Creds.TokenFile != knative.TokenFile || pc.Creds.CAFile != knative.CAFile || pc.MW.ShimURL != cfg.ShimURL || pc.MW.Attempts != 4 {
		t.Errorf("aft proxy parsed %q as %+v", args[1:], pc)
	}
}
