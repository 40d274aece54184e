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
source "$(dirname "$0")/../lib/gotool.sh"

MINIO_VERSION="v0.0.0-20260212201848-7aac2a2c5b7c"
DIR="${AFT_CACHE:-$HOME/.cache/aft}/minio/$MINIO_VERSION"
go_install_cached "minio $MINIO_VERSION" "$DIR" "several minutes and ~1.5 GB of module cache" \
	"github.com/minio/minio@$MINIO_VERSION"
"$DIR/minio" --version | head -n 1 || true
