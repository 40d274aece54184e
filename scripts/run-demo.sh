#!/usr/bin/env bash
# make run: start `aft serve` on a fresh embedded store, then the OpenFaaS plugin in front of
# the local provider (functions as local processes, no containers), and run the demo; then
# the workload suite, short, and its anomaly table (see the end).
set -euo pipefail
bin=${1:-bin/aft}
fns=$(dirname "$bin")
dir=$(mktemp -d -t aft-demo.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
# wait_line FILE PATTERN PID: wait until the process prints its ready line.
wait_line() {
  for _ in $(seq 1 200); do
    grep -q "$2" "$1" && return 0
    kill -0 "$3" 2>/dev/null || { echo "failed to start:"; cat "$1"; exit 1; }
    sleep 0.1
  done
  echo "not ready in 20s:"; cat "$1"; exit 1
}

"$bin" serve --listen 127.0.0.1:0 --data-dir "$dir/data" >"$dir/serve.log" 2>&1 &
pids+=($!); wait_line "$dir/serve.log" '^aft serve: listening on' $!
shim=$(sed -n 's/^aft serve: listening on \([^ ]*\).*/\1/p' "$dir/serve.log")
echo "started: aft serve on $shim, data in $dir/data"

local_port=$(port); plugin_port=$(port)
"$bin" provider local --port "$local_port" >"$dir/local.log" 2>&1 &
pids+=($!); wait_line "$dir/local.log" 'listening on' $!
"$bin" provider openfaas --port "$plugin_port" --upstream "http://127.0.0.1:$local_port" --shim "http://$shim" >"$dir/plugin.log" 2>&1 &
pids+=($!); wait_line "$dir/plugin.log" 'listening on' $!
echo "started: aft provider local on :$local_port, aft provider openfaas (the gateway's provider) on :$plugin_port"

# Several nodes on one store: a throwaway Redis (installed by scripts/deps/redis.sh when
# missing) and two `aft serve` nodes on it, each the other's peer.
bash "$(dirname "$0")/deps/redis.sh" >/dev/null
redis_port=$(port); node_a=$(port); node_b=$(port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" >"$dir/redis.log" 2>&1 &
pids+=($!); wait_line "$dir/redis.log" 'Ready to accept connections' $!
for n in a b; do
  [ "$n" = a ] && { me=$node_a; other=$node_b; } || { me=$node_b; other=$node_a; }
  "$bin" serve --listen "127.0.0.1:$me" --store "redis://127.0.0.1:$redis_port/0" --data-dir "$dir/node-$n" \
    --peers "http://127.0.0.1:$other" >"$dir/node-$n.log" 2>&1 &
  pids+=($!); wait_line "$dir/node-$n.log" '^aft serve: listening on' $!
done
echo "started: two aft serve nodes on one Redis (127.0.0.1:$redis_port): :$node_a and :$node_b"

# A shim with tokens: one per tenant from `aft token new` (the token on its first line, the
# --auth-file line on its second).
mkdir -p "$dir/tokens"
for t in a b; do
  "$bin" token new "$t" >"$dir/tokens/new"
  sed -n 1p "$dir/tokens/new" >"$dir/tokens/$t"
  sed -n 2p "$dir/tokens/new" >>"$dir/auth"
done
rm "$dir/tokens/new"
"$bin" serve --listen 127.0.0.1:0 --data-dir "$dir/tenants" --auth-file "$dir/auth" >"$dir/tenants.log" 2>&1 &
pids+=($!); wait_line "$dir/tenants.log" '^aft serve: listening on' $!
tenant_shim=$(sed -n 's/^aft serve: listening on \([^ ]*\).*/\1/p' "$dir/tenants.log")
echo "started: aft serve --auth-file on $tenant_shim (tenants a and b)"

"$bin" demo --shim "http://$shim" --plugin "http://127.0.0.1:$plugin_port" --functions "$(cd "$fns" && pwd)" \
  --nodes "http://127.0.0.1:$node_a,http://127.0.0.1:$node_b" --tenants "http://$tenant_shim" --tenant-tokens "$dir/tokens"
# The workload suite, short: each failure scenario in plain mode (functions straight on the
# store) and in aft mode (through the middleware and a shim, on the demo's Redis: the
# several-nodes scenario needs a shared store), then the anomaly table. It exits non-zero
# when aft mode shows an anomaly.
echo
echo "== aft workloads --quick: anomalies without aft (plain) and with it (aft)"
"$bin" workloads --quick --store "redis://127.0.0.1:$redis_port/1"
