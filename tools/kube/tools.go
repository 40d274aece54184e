//go:build tools

// Package tools pins kube-apiserver v1.35.4, which the tests against a real Kubernetes API
// server run (under controller-runtime's envtest, with Debian's etcd): scripts/deps/kube.sh
// builds it in this folder (go build k8s.io/kubernetes/cmd/kube-apiserver) into the cache.
// k8s.io/kubernetes is not meant to be a dependency: its staging modules (k8s.io/api,
// k8s.io/client-go, ...) are replaced by their v0.35.4 releases in go.mod.
package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
