// Package toolcache finds the tools that the scripts/deps scripts put into the cache
// (${AFT_CACHE:-$HOME/.cache/aft}/NAME/VERSION/...), for the tests that run them.
package toolcache

import (
	"fmt"
	"os"
	"path/filepath"
)

// Dir returns the cache's root: $AFT_CACHE, else ~/.cache/aft (the temporary directory
// standing in for a home that cannot be found).
func Dir() string {
	if d := os.Getenv("AFT_CACHE"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = os.TempDir()
	}
	return filepath.Join(home, ".cache", "aft")
}

// Tool is a binary that scripts/deps/NAME.sh builds into the cache.
type Tool struct {
	Env     string // an environment variable that names the binary instead
	Name    string // the deps script's name, and the cache's folder
	Version string // as the deps script builds it: change both together
	Binary  string
}

// The tools of the tests.
var (
	Helm          = Tool{Env: "AFT_HELM", Name: "helm", Version: "v3.21.4", Binary: "helm"}
	KubeAPIServer = Tool{Env: "AFT_KUBE_APISERVER", Name: "kube", Version: "v1.35.4", Binary: "kube-apiserver"}
	QueueProxy    = Tool{Env: "AFT_QUEUE_PROXY", Name: "queue-proxy", Version: "v0.50.0", Binary: "queue"}
	Kubeconform   = Tool{Env: "AFT_KUBECONFORM", Name: "kubeconform", Version: "v0.8.0", Binary: "kubeconform"}
)

// Path returns the path of the tool's binary: the value of its environment variable when
// set, else the cache's NAME/VERSION/BINARY when it is there, else an error that says which
// deps script builds it.
func (t Tool) Path() (string, error) {
	if p := os.Getenv(t.Env); p != "" {
		return p, nil
	}
	p := filepath.Join(Dir(), t.Name, t.Version, t.Binary)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("no %s at %s: run scripts/deps/%s.sh (make test does), or set %s", t.Binary, p, t.Name, t.Env)
	}
	return p, nil
}
