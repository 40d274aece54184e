# Sourced by the scripts/deps scripts that build a Go tool from the module proxy.
#
# go_install_cached NAME DIR HOW-LONG PKG@VERSION...
#   builds each PKG@VERSION with go install into DIR (the caller keys DIR by version),
#   unless DIR already holds every binary (named as the last element of its package path).
#   With GOTOOL_MODULE set to a folder of this repository holding a go.mod (a tools module
#   that pins the versions and replaces what it must), each PKG (no @VERSION) is built there
#   with go build instead.
#   It prints a line every 30s while it builds, so that a CI log shows it is alive, and
#   builds into a temporary directory first: an interrupted build never leaves a binary that
#   a later run would trust.
go_install_cached() {
	local name=$1 dir=$2 how_long=$3
	shift 3
	local pkg bins=() missing=0
	for pkg in "$@"; do
		pkg=${pkg%@*}
		bins+=("${pkg##*/}")
	done
	for b in "${bins[@]}"; do [ -x "$dir/$b" ] || missing=1; done
	if [ "$missing" = 0 ]; then
		echo "$name: cached in $dir"
		return 0
	fi
	local go=${GO:-go}
	command -v "$go" >/dev/null || { echo "$name: $go is not on PATH" >&2; return 1; }
	mkdir -p "$dir"
	echo "$name: building into $dir (first time only; $how_long)"
	local start ticker tmp
	start=$(date +%s)
	(while sleep 30; do echo "$name: still building ($(( $(date +%s) - start ))s so far)"; done) &
	ticker=$!
	tmp=$(mktemp -d "$dir/build.XXXXXX")
	# GOFLAGS is replaced, not extended: flags meant for this module (-mod=vendor) break
	# `go install pkg@version`.
	for pkg in "$@"; do
		local build=(install "$pkg")
		if [ -n "${GOTOOL_MODULE:-}" ]; then
			build=(-C "$GOTOOL_MODULE" build -o "$tmp/${pkg##*/}" "$pkg")
		fi
		if ! GOBIN="$tmp" GOFLAGS=-buildvcs=false CGO_ENABLED=0 "$go" "${build[@]}"; then
			kill "$ticker" 2>/dev/null || true
			rm -rf "$tmp"
			echo "$name: building $pkg failed" >&2
			return 1
		fi
	done
	kill "$ticker" 2>/dev/null || true
	for b in "${bins[@]}"; do mv "$tmp/$b" "$dir/$b"; done
	rm -rf "$tmp"
	echo "$name: built in $(( $(date +%s) - start ))s"
}
