#!/usr/bin/env bash
# Builds Helm, which the chart tests (charts/) run, from Go modules through the module proxy,
# cached outside the checkout, keyed by version:
#
#   ${AFT_CACHE:-$HOME/.cache/aft}/helm/<version>/helm
#
# The first build takes one to four minutes; later runs find the binary at once. The tests
# look for it there (or at $AFT_HELM). v3.22.0 is served by the proxy but does not build
# here; v3.21.4 does.
set -euo pipefail
source "$(dirname "$0")/../lib/gotool.sh"
HELM_VERSION="v3.21.4"
go_install_cached "helm $HELM_VERSION" "${AFT_CACHE:-$HOME/.cache/aft}/helm/$HELM_VERSION" "one to four minutes" \
	"helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
