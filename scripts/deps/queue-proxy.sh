#!/usr/bin/env bash
# Builds Knative Serving's queue-proxy (knative.dev/serving/cmd/queue v0.50.0), which the
# end-to-end test of the Knative sidecar chain runs (e2e: TestQueueProxyChain), from Go
# modules through the module proxy, cached outside the checkout, keyed by version:
#
#   ${AFT_CACHE:-$HOME/.cache/aft}/queue-proxy/<version>/queue
#
# The first build takes about a minute; later runs find the binary at once.
set -euo pipefail
source "$(dirname "$0")/../lib/gotool.sh"
QUEUE_VERSION="v0.50.0" # and in internal/toolcache
go_install_cached "queue-proxy $QUEUE_VERSION" "${AFT_CACHE:-$HOME/.cache/aft}/queue-proxy/$QUEUE_VERSION" "about a minute" \
	"knative.dev/serving/cmd/queue@$QUEUE_VERSION"
