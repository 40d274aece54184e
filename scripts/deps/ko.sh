#!/usr/bin/env bash
# Builds ko and crane, which `make images` and its test run, from Go modules through the
# module proxy, cached outside the checkout, keyed by version:
#
#   ${AFT_CACHE:-$HOME/.cache/aft}/ko/<ko version>/{ko,crane}
#
# The first build takes two to four minutes; later runs find the binaries at once.
set -euo pipefail

KO_VERSION="v0.19.1"
CRANE_VERSION="v0.20.3" # github.com/google/go-containerregistry
CACHE="${AFT_CACHE:-$HOME/.cache/aft}"
DIR="$CACHE/ko/$KO_VERSION"

if [ -x "$DIR/ko" ] && [ -x "$DIR/crane" ]; then
	echo "ko $KO_VERSION, crane $CRANE_VERSION: cached in $DIR"
	exit 0
fi
GO="${GO:-go}"
command -v "$GO" >/dev/null || { echo "ko: $GO is not on PATH" >&2; exit 1; }
mkdir -p "$DIR"
echo "ko $KO_VERSION, crane $CRANE_VERSION: building into $DIR (first time only; two to four minutes)"
start=$(date +%s)
(
	while sleep 30; do
		echo "ko: still building ($(( $(date +%s) - start ))s so far)"
	done
) &
ticker=$!
trap 'kill "$ticker" 2>/dev/null || true' EXIT
tmp=$(mktemp -d "$DIR/build.XXXXXX")
if ! GOBIN="$tmp" GOFLAGS=-buildvcs=false CGO_ENABLED=0 "$GO" install "github.com/google/ko@$KO_VERSION" ||
	! GOBIN="$tmp" GOFLAGS=-buildvcs=false CGO_ENABLED=0 "$GO" install "github.com/google/go-containerregistry/cmd/crane@$CRANE_VERSION"; then
	rm -rf "$tmp"
	echo "ko: build failed" >&2
	exit 1
fi
mv "$tmp/ko" "$tmp/crane" "$DIR/"
rm -rf "$tmp"
echo "ko $KO_VERSION, crane $CRANE_VERSION: built in $(( $(date +%s) - start ))s"
