#!/usr/bin/env bash
# Checks that scripts/deps/dynamodb.sh installs Debian's nodejs and npm when npm is missing
# (issue 15, item 22): it runs the script with a PATH that has no npm and a stand-in apt-get
# that records its arguments, in a scratch cache, and looks at what apt-get was asked for.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/bin"
for b in bash id mkdir rm mv dirname cat env sh java; do
	p=$(command -v "$b" || true)
	[ -n "$p" ] && ln -s "$p" "$tmp/bin/$b"
done
printf '#!/bin/bash\necho "apt-get $*" >> "%s/apt.log"\n' "$tmp" > "$tmp/bin/apt-get"
chmod +x "$tmp/bin/apt-get"
# The stand-in installs nothing, so the script stops at npm afterwards: only what it asked
# apt-get for matters here.
AFT_CACHE="$tmp/cache" PATH="$tmp/bin" bash "$top/scripts/deps/dynamodb.sh" >/dev/null 2>&1 || true
if ! grep -q 'apt-get install .*nodejs npm' "$tmp/apt.log" 2>/dev/null; then
	echo "FAIL: scripts/deps/dynamodb.sh did not install nodejs and npm when npm was missing; apt-get calls:"
	cat "$tmp/apt.log" 2>/dev/null || echo "(none)"
	exit 1
fi
echo "ok: scripts/deps/dynamodb.sh installs nodejs and npm when npm is missing"
