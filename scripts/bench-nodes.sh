#!/usr/bin/env bash
# Several shim nodes on one Redis (issue 11): the paper's transaction shape from `aft bench`
# spread over 1, 2 and 3 `aft serve` nodes, each a peer of the others, with the same work
# straight on Redis for comparison; then, from every node's /metrics, the store requests
# per committed transaction (by operation) and where reads were served from (the value
# cache or the store). Redis runs without persistence: this measures the shim, not fsync.
# Usage: scripts/bench-nodes.sh [DURATION] [STORE-LATENCY] [CLIENTS]
#   e.g. scripts/bench-nodes.sh 10s          (loopback)
#        scripts/bench-nodes.sh 10s 5ms 64   (5 ms added to every store call, both sides)
set -euo pipefail
dur=${1:-10s}
lat=${2:-0s}
clients=${3:-32}
cd "$(dirname "$0")/.."
make -s build
bin=$PWD/bin/aft
work=$(mktemp -d -t aft-nodes.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_port() { for _ in $(seq 1 300); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "nothing listens on $1"; return 1; }
# metric URL SERIES: the sum of the values at URL of the series that start with SERIES (a
# regular expression: write { as [{] and } as [}]).
metric() { curl -s "$1/metrics" | awk -v re="^$2" '$0 ~ re { s += $NF } END { printf "%.0f", s }'; }

for n in 1 2 3; do
  rp=$(port)
  redis-server --port "$rp" --bind 127.0.0.1 --dir "$work" --save "" --appendonly no --daemonize no >"$work/redis-$n.log" 2>&1 &
  rpid=$!
  wait_port "$rp"
  urls=()
  for i in $(seq 1 "$n"); do urls+=("http://127.0.0.1:$(port)"); done
  npids=()
  for i in $(seq 0 $((n - 1))); do
    peers=$(printf '%s\n' "${urls[@]}" | grep -vx "${urls[$i]}" | paste -sd, || true)
    "$bin" serve --listen "${urls[$i]#http://}" --store "redis://127.0.0.1:$rp/0" --data-dir "$work/n$n-$i" \
      --peers "$peers" --store-latency "$lat" --log-level warn >"$work/serve-$n-$i.log" 2>&1 &
    npids+=($!)
    wait_port "${urls[$i]##*:}"
  done
  more=$(printf '%s\n' "${urls[@]:1}" | paste -sd, || true)
  echo "== $n node(s) on one Redis, store latency $lat, $clients clients"
  "$bin" bench --shim "${urls[0]}" ${more:+--shim-nodes "$more"} --store "redis://127.0.0.1:$rp/1" --store-latency "$lat" \
    --clients "$clients" --duration "$dur" --batches=false --progress 1h | grep -E 'txn/s|ratio'
  committed=0; declare -A ops=(); cache=0; store=0; peer=0; logged=0
  for u in "${urls[@]}"; do
    committed=$((committed + $(metric "$u" 'aft_txns_committed_total ')))
    for op in get put create delete list put_create list_after; do
      ops[$op]=$(( ${ops[$op]:-0} + $(metric "$u" "aft_store_op_duration_seconds_count[{]op=\"$op\"[}]") ))
    done
    cache=$((cache + $(metric "$u" 'aft_reads_total[{]source="cache"[}]')))
    store=$((store + $(metric "$u" 'aft_reads_total[{]source="store"[}]')))
    peer=$((peer + $(metric "$u" 'aft_commits_learned_total[{]from="peer"[}]')))
    logged=$((logged + $(metric "$u" 'aft_commits_learned_total[{]from="store"[}]')))
  done
  line="store requests per committed transaction (all nodes):"
  for op in "${!ops[@]}"; do
    [ "${ops[$op]}" -gt 0 ] && line+=" $op $(python3 -c "print(round(${ops[$op]}/max($committed,1), 2))")"
  done
  echo "$line"
  echo "reads: $cache from the value cache, $store from the store; other nodes' commits applied: $peer pushed, $logged from the log"
  kill "${npids[@]}" "$rpid" 2>/dev/null || true
  wait "${npids[@]}" "$rpid" 2>/dev/null || true
  unset ops
done
