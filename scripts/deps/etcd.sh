#!/usr/bin/env bash
# Installs etcd (Debian's etcd-server), which the tests against a real Kubernetes API server
# (plugin/knative's) run under kube-apiserver on loopback ports of their own. Idempotent, and
# quick when etcd is already on PATH. It never leaves an etcd service running.
set -euo pipefail
source "$(dirname "$0")/../lib/apt.sh"

if ! command -v etcd >/dev/null 2>&1; then
	apt_install_server etcd-server etcd
fi
echo "etcd: $(etcd --version | head -n1)"
