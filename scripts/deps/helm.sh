#!/usr/bin/env bash
# Builds Helm, which the chart tests (charts/) run, from Go modules through the module proxy,
# and caches the binary outside the checkout, keyed by version:
#
#   ${AFT_CACHE:-$HOME/.cache/aft}/helm/<version>/helm
#
# The first build takes one to four minutes; later runs find the binary and return at once.
# The tests look for it in the same place (or at $AFT_HELM). v3.22.0 is served by the proxy
# but does not build here; v3.21.4 does.
set -euo pipefail

HELM_VERSION="v3.21.4"
CACHE="${AFT_CACHE:-$HOME/.cache/aft}"
DIR="$CACHE/helm/$HELM_VERSION"
BIN="$DIR/helm"

if [ -x "$BIN" ]; then
	echo "helm $HELM_VERSION: cached at $BIN"
	exit 0
fi

GO="${GO:-go}"
command -v "$GO" >/dev/null || { echo "helm: $GO is not on PATH" >&2; exit 1; }

mkdir -p "$DIR"
echo "helm $HELM_VERSION: building into $DIR (first time only; one to four minutes)"
start=$(date +%s)
(
	while sleep 30; do
		echo "helm: still building ($(( $(date +%s) - start ))s so far)"
	done
) &
ticker=$!
trap 'kill "$ticker" 2>/dev/null || true' EXIT

# Into a temporary directory first: an interrupted build never leaves a binary to trust.
tmp=$(mktemp -d "$DIR/build.XXXXXX")
if ! GOBIN="$tmp" GOFLAGS=-buildvcs=false CGO_ENABLED=0 "$GO" install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"; then
	rm -rf "$tmp"
	echo "helm: build failed" >&2
	exit 1
fi
mv "$tmp/helm" "$BIN"
rm -rf "$tmp"
echo "helm $HELM_VERSION: built in $(( $(date +%s) - start ))s: $BIN"
