#!/usr/bin/env bash
# The function SDK tests run the Python and Node SDKs' own tests: make sure both exist.
set -euo pipefail
missing=()
command -v python3 >/dev/null 2>&1 || missing+=(python3)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} for the SDK tests"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
echo "sdk: $(python3 --version), node $(node --version)"
