package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/aft-shim/aft/internal/toolcache"
)

// kubeconform checks the manifests in dir with kubeconform --strict against JSON schemas
// made from the API server's own OpenAPI (GET /openapi/v2): the schemas of the very
// Kubernetes the dry run talks to, not ones fetched from the internet. Kinds from CRDs this
// server lacks are skipped, as the dry run skips them.
func kubeconform(t *testing.T, cfg *rest.Config, dir string, kinds map[string]bool, skip []string) {
	bin, err := toolcache.Kubeconform.Path()
	if err != nil {
		t.Fatal(err)
	}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Get(strings.TrimRight(cfg.Host, "/") + "/openapi/v2")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Definitions map[string]map[string]any `json:"definitions"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatalf("decode /openapi/v2: %v", err)
	}
	schemas := t.TempDir()
	n, err := writeSchemas(doc.Definitions, kinds, schemas)
	if err != nil {
		t.Fatal(err)
	}
	run := func(dir string) ([]byte, error) {
		return exec.Command(bin, "-strict", "-summary", "-output", "text", "-skip", strings.Join(skip, ","),
			"-schema-location", filepath.Join(schemas, "{{.ResourceKind}}{{.KindSuffix}}.json"), dir).CombinedOutput()
	}
	// First the check itself: a Deployment with a field Kubernetes does not have must fail.
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "bad.yaml"), []byte(badDeployment), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := run(bad); err == nil {
		t.Fatalf("kubeconform passed a Deployment with an unknown field: the schemas check nothing\n%s", out)
	}
	out, err := run(dir)
	if err != nil {
		t.Fatalf("kubeconform -strict against %d schemas from /openapi/v2: %v\n%s", n, err, out)
	}
	t.Logf("kubeconform -strict, %d schemas from the API server's /openapi/v2: %s", n, strings.TrimSpace(string(out)))
}

// writeSchemas writes, for every kind in kinds the definitions carry, a standalone JSON schema
// named as kubeconform looks it up: the kind in lower case, "-" and the group's first
// label (none for the core group), "-" and the version (deployment-apps-v1.json). References
// are inlined, every object with properties refuses others (strict), and int-or-string
// fields take either.
func writeSchemas(defs map[string]map[string]any, kinds map[string]bool, dir string) (int, error) {
	n := 0
	for _, def := range defs {
		gvks, _ := def["x-kubernetes-group-version-kind"].([]any)
		for _, g := range gvks {
			gvk, _ := g.(map[string]any)
			group, _ := gvk["group"].(string)
			version, _ := gvk["version"].(string)
			kind, _ := gvk["kind"].(string)
			if !kinds[kind] {
				continue
			}
			suffix := "-" + strings.ToLower(version)
			if group != "" {
				suffix = "-" + strings.ToLower(strings.Split(group, ".")[0]) + suffix
			}
			b, err := json.Marshal(inline(def, defs, map[string]bool{}))
			if err != nil {
				return n, err
			}
			if err := os.WriteFile(filepath.Join(dir, strings.ToLower(kind)+suffix+".json"), b, 0o644); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// inline returns schema with its references resolved, strict, and int-or-string fixed.
// A definition met again inside itself (JSONSchemaProps) accepts anything there.
func inline(schema any, defs map[string]map[string]any, path map[string]bool) any {
	switch s := schema.(type) {
	case map[string]any:
		if ref, ok := s["$ref"].(string); ok {
			name := strings.TrimPrefix(ref, "#/definitions/")
			if path[name] {
				return map[string]any{}
			}
			path[name] = true
			defer delete(path, name)
			return inline(defs[name], defs, path)
		}
		if s["format"] == "int-or-string" {
			return map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}}
		}
		out := make(map[string]any, len(s)+1)
		for k, v := range s {
			if k == "x-kubernetes-group-version-kind" {
				continue
			}
			if k == "properties" {
				props := map[string]any{}
				for name, p := range v.(map[string]any) {
					props[name] = inline(p, defs, path)
				}
				out[k] = props
				continue
			}
			out[k] = inline(v, defs, path)
		}
		if _, ok := s["properties"]; ok {
			if _, set := s["additionalProperties"]; !set {
				out["additionalProperties"] = false
			}
		}
		return out
	case []any:
		out := make([]any, len(s))
		for i, v := range s {
			out[i] = inline(v, defs, path)
		}
		return out
	}
	return schema
}

// badDeployment has a field no container has (cpus).
const badDeployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: bad}
spec:
  selector: {matchLabels: {app: bad}}
  template:
    metadata: {labels: {app: bad}}
    spec:
      containers: [{name: bad, image: bad, cpus: 2}]
`
