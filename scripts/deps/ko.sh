#!/usr/bin/env bash
# Builds ko and crane, which `make images` and its test run, from Go modules through the
# module proxy, cached outside the checkout, keyed by ko's version:
#
#   ${AFT_CACHE:-$HOME/.cache/aft}/ko/<ko version>/{ko,crane}
#
# The first build takes two to four minutes; later runs find the binaries at once.
set -euo pipefail
source "$(dirname "$0")/../lib/gotool.sh"
KO_VERSION="v0.19.1"
CRANE_VERSION="v0.20.3" # github.com/google/go-containerregistry
go_install_cached "ko $KO_VERSION, crane $CRANE_VERSION" "${AFT_CACHE:-$HOME/.cache/aft}/ko/$KO_VERSION" "two to four minutes" \
	"github.com/google/ko@$KO_VERSION" "github.com/google/go-containerregistry/cmd/crane@$CRANE_VERSION"
