#!/usr/bin/env bash
# make images: the image of aft (every command: serve, proxy, webhook, provider...), built
# with ko, offline: the base image is made here (an empty image plus CA certificates, a
# /tmp and a nonroot user), served by a registry on loopback that lives only for the build,
# and the result is written as a tarball that `docker load`, `kind load image-archive` or
# `ctr images import` take. The charts name it: aft.local/aft:VERSION (ko.local would mean a Docker daemon, which ko then loads into).
#
# Usage: scripts/images.sh [OUT-DIR] [VERSION]   (default: images/ and the charts' appVersion)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-images}
version=${2:-$(sed -n 's/^appVersion: *"\(.*\)"/\1/p' charts/aft-shim/Chart.yaml)}
bash scripts/deps/ko.sh >&2
bin="${AFT_CACHE:-$HOME/.cache/aft}/ko/v0.19.1"
mkdir -p "$out"
work=$(mktemp -d)
reg_pid=
cleanup() { [ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# The base: CA certificates (DynamoDB and S3 over TLS), /tmp, and the nonroot user 65532.
mkdir -p "$work/root/etc/ssl/certs" "$work/root/tmp"
chmod 1777 "$work/root/tmp"
cp /etc/ssl/certs/ca-certificates.crt "$work/root/etc/ssl/certs/"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$work/root/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$work/root/etc/group"
tar -C "$work/root" --owner=0 --group=0 --numeric-owner --mtime='2026-01-01 00:00:00' -cf "$work/base.tar" .

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
"$bin/crane" registry serve --address "127.0.0.1:$port" >"$work/registry.log" 2>&1 &
reg_pid=$!
for _ in $(seq 1 100); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
"$bin/crane" append --oci-empty-base -f "$work/base.tar" -t "127.0.0.1:$port/base:static" >&2

KO_DEFAULTBASEIMAGE="127.0.0.1:$port/base:static" KO_DOCKER_REPO=aft.local/aft GOFLAGS=-buildvcs=false \
	"$bin/ko" build ./cmd/aft --bare --push=false --tags "$version" --platform linux/amd64 \
	--image-user 65532 --sbom none --tarball "$out/aft-$version.tar" >&2
echo "$out/aft-$version.tar: aft.local/aft:$version"
