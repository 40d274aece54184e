#!/usr/bin/env bash
# Builds the MinIO server the S3 backend's tests run against (shim/store/s3, e2e), from Go
# modules through the module proxy, and caches the binary outside the checkout, keyed by
# version:
#
#   ${AFT_CACHE:-$HOME/.cache/aft}/minio/<version>/minio
#
# The first build takes several minutes and about 1.5 GB of module cache; later runs find the
# binary and return at once. Tests look for the binary in the same place (or at $AFT_MINIO).
#
# MinIO publishes no semver tags, only RELEASE.* tags, so the module version is a
# pseudo-version: this one is the tip of github.com/minio/minio on 2026-02-12 (Go 1.24+,
# conditional writes with If-None-Match: * supported). Change it here and in
# shim/store/s3/miniotest/miniotest.go (Version) together.
set -euo pipefail

MINIO_VERSION="v0.0.0-20260212201848-7aac2a2c5b7c"
CACHE="${AFT_CACHE:-$HOME/.cache/aft}"
DIR="$CACHE/minio/$MINIO_VERSION"
BIN="$DIR/minio"

if [ -x "$BIN" ]; then
	echo "minio $MINIO_VERSION: cached at $BIN"
	exit 0
fi

GO="${GO:-go}"
command -v "$GO" >/dev/null || { echo "minio: $GO is not on PATH" >&2; exit 1; }

mkdir -p "$DIR"
echo "minio $MINIO_VERSION: building into $DIR (first time only; takes several minutes and ~1.5 GB of module cache)"
start=$(date +%s)

# Progress: a line every 30s while go install runs, so a CI log shows it is alive.
(
	while sleep 30; do
		echo "minio: still building ($(( $(date +%s) - start ))s so far)"
	done
) &
ticker=$!
trap 'kill "$ticker" 2>/dev/null || true' EXIT

# Build into a temporary directory and move the binary into place only when complete, so an
# interrupted build never leaves a half-written binary that a later run would trust.
# GOFLAGS is replaced, not extended: flags meant for this module (-mod=vendor) break
# `go install pkg@version`.
tmp=$(mktemp -d "$DIR/build.XXXXXX")
if ! GOBIN="$tmp" GOFLAGS=-buildvcs=false CGO_ENABLED=0 "$GO" install "github.com/minio/minio@$MINIO_VERSION"; then
	rm -rf "$tmp"
	echo "minio: build failed" >&2
	exit 1
fi
mv "$tmp/minio" "$BIN"
rm -rf "$tmp"

echo "minio $MINIO_VERSION: built in $(( $(date +%s) - start ))s: $BIN"
"$BIN" --version | head -n 1 || true
