#!/usr/bin/env bash
# make run: start `aft serve` on a fresh embedded store, run the demo against it, stop it.
set -euo pipefail
bin=${1:-bin/aft}
dir=$(mktemp -d -t aft-demo.XXXXXX)
log="$dir/serve.log"
"$bin" serve --listen 127.0.0.1:0 --data-dir "$dir/data" >"$log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 100); do
  addr=$(sed -n 's/^aft serve: listening on \([^ ]*\).*/\1/p' "$log")
  [ -n "$addr" ] && break
  kill -0 $pid 2>/dev/null || { echo "aft serve failed:"; cat "$log"; exit 1; }
  sleep 0.1
done
[ -n "${addr:-}" ] || { echo "aft serve did not get ready in 10s:"; cat "$log"; exit 1; }
echo "started: aft serve on $addr, data in $dir/data"
"$bin" demo --shim "http://$addr"
