#!/usr/bin/env bash
# The paper's transaction shape with every part a process of its own, as issue 14 measures
# it: redis-server with AOF and appendfsync always (the durability of aft's commits), `aft
# serve` on it, and `aft bench` from a third process: aft call by call, aft in batches (a
# begin carrying the ops, then the commit), and the same work straight on Redis (the bench's
# comparison, through the redis store, in another database), with their ratios: ROUNDS rounds
# of the three, interleaved, and the median of each ratio (this machine's speed drifts), with
# the CPU time and allocations per transaction of the bench process and of aft serve.
# Usage: scripts/bench-redis-aof.sh [DURATION] [STORE-LATENCY] [ROUNDS]
#   e.g. scripts/bench-redis-aof.sh 10s          (loopback, 3 rounds)
#        scripts/bench-redis-aof.sh 10s 5ms 5    (5 ms added to every store call, both sides)
set -euo pipefail
dur=${1:-10s}
lat=${2:-0s}
rounds=${3:-3}
cd "$(dirname "$0")/.."
make -s build
bin=$PWD/bin/aft
work=$(mktemp -d -t aft-redis-aof.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_port() { for _ in $(seq 1 300); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "nothing listens on $1"; return 1; }

rp=$(port)
redis-server --port "$rp" --bind 127.0.0.1 --dir "$work" --appendonly yes --appendfsync always --save "" \
  --daemonize no >"$work/redis.log" 2>&1 &
pids+=($!)
wait_port "$rp"
sp=$(port)
"$bin" serve --listen "127.0.0.1:$sp" --store "redis://127.0.0.1:$rp/0" --data-dir "$work/aft" \
  --store-latency "$lat" --log-level warn >"$work/serve.log" 2>&1 &
pids+=($!)
wait_port "$sp"
echo "redis-server :$rp (AOF, appendfsync always); aft serve :$sp; store latency $lat"
"$bin" bench --shim "http://127.0.0.1:$sp" --store "redis://127.0.0.1:$rp/1" --store-latency "$lat" \
  --clients 16 --duration "$dur" --rounds "$rounds" --progress 1h | grep -E 'shape|round|txn/s|per txn|ratio'
