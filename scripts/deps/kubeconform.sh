#!/usr/bin/env bash
# Builds kubeconform, which e2e (TestWebhookAPIServer) runs on every chart's manifests
# against JSON schemas made from the test API server's own /openapi/v2, from Go modules
# through the module proxy, cached outside the checkout, keyed by version:
#
#   ${AFT_CACHE:-$HOME/.cache/aft}/kubeconform/<version>/kubeconform
set -euo pipefail
source "$(dirname "$0")/../lib/gotool.sh"
KUBECONFORM_VERSION="v0.8.0"
go_install_cached "kubeconform $KUBECONFORM_VERSION" "${AFT_CACHE:-$HOME/.cache/aft}/kubeconform/$KUBECONFORM_VERSION" "under a minute" \
	"github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"
