package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

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
