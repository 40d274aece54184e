#!/usr/bin/env bash
# Builds kube-apiserver, which the tests against a real Kubernetes API server run (e2e:
# TestWebhookAPIServer, under controller-runtime's envtest with Debian's etcd), from the tools
# module tools/kube (k8s.io/kubernetes v1.35.4, its staging modules replaced by v0.35.4),
# cached outside the checkout, keyed by version:
#
#   ${AFT_CACHE:-$HOME/.cache/aft}/kube/<version>/kube-apiserver
#
# The first build takes three to ten minutes (six of CPU) and about 1 GB of module cache;
# later runs find the binary at once. The tests look for it there (or at $AFT_KUBE_APISERVER).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
source "$top/scripts/lib/gotool.sh"
KUBE_VERSION="v1.35.4" # and in tools/kube/go.mod, and internal/toolcache
GOTOOL_MODULE="$top/tools/kube" go_install_cached "kube-apiserver $KUBE_VERSION" \
	"${AFT_CACHE:-$HOME/.cache/aft}/kube/$KUBE_VERSION" "three to ten minutes" \
	"k8s.io/kubernetes/cmd/kube-apiserver"
