#!/usr/bin/env bash
# The paper's transaction shape through aft vs the same work straight on each store, with
# and without 5 ms of injected store latency (and, for DynamoDB, vs DynamoDB's own
# transactions). Starts each real server on a free loopback port (make deps installs
# them), runs `aft bench` against it, and stops it. Usage: scripts/bench-backends.sh [DURATION]
#
# With a report folder, scripts/bench-backends.sh --out DIR [aft bench flags...], it runs
# one `aft bench --out DIR` over every store at once (a --store per server started), which
# writes one report comparing the backends; add --quick for a short run.
set -euo pipefail
out=
if [ "${1:-}" = --out ]; then
  out=${2:?--out needs a folder}
  shift 2
  case $out in /*) ;; *) out=$PWD/$out ;; esac # relative to where it was called from
  dur=
else
  dur=${1:-10s}
fi
cd "$(dirname "$0")/.."
cache=${AFT_CACHE:-$HOME/.cache/aft}
make -s build
bin=bin/aft
work=$(mktemp -d -t aft-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_port() { for _ in $(seq 1 300); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "nothing listens on $1"; return 1; }

stores=("embedded|")
if command -v redis-server >/dev/null; then
  p=$(port); redis-server --port "$p" --bind 127.0.0.1 --save "" --appendonly no --daemonize no >"$work/redis.log" 2>&1 &
  pids+=($!); wait_port "$p"; stores+=("redis|redis://127.0.0.1:$p/0")
fi
jar=$(find "$cache/dynamodb-local" -name DynamoDBLocal.jar 2>/dev/null | head -n 1 || true)
if [ -n "$jar" ]; then
  p=$(port)
  (cd "$(dirname "$jar")" && exec java -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.library.path=./DynamoDBLocal_lib -jar DynamoDBLocal.jar -inMemory -sharedDb -port "$p") >"$work/dynamodb.log" 2>&1 &
  pids+=($!); wait_port "$p"; sleep 1
  export AWS_ACCESS_KEY_ID=aftlocal AWS_SECRET_ACCESS_KEY=aftlocal
  stores+=("dynamodb|dynamodb://aftbench?region=us-east-1&endpoint=http://127.0.0.1:$p")
fi
minio=$(find "$cache/minio" -type f -name minio 2>/dev/null | head -n 1 || true)
if [ -n "$minio" ]; then
  p=$(port); mkdir -p "$work/minio"
  MINIO_ROOT_USER=aftbench MINIO_ROOT_PASSWORD=aftbench-secret "$minio" server --address "127.0.0.1:$p" "$work/minio" >"$work/minio.log" 2>&1 &
  pids+=($!); wait_port "$p"; sleep 1
  stores+=("s3|s3://aftbench/shim?region=us-east-1&endpoint=http://127.0.0.1:$p&path-style=true")
fi

if [ -n "$out" ]; then
  args=()
  for entry in "${stores[@]}"; do
    args+=(--store "${entry#*|}") # "" is the embedded store
  done
  # One process talks to every store: MinIO's credentials, which DynamoDB Local (which
  # takes any) accepts too.
  export AWS_ACCESS_KEY_ID=aftbench AWS_SECRET_ACCESS_KEY=aftbench-secret
  echo "== aft bench --out $out ${args[*]} $*"
  "$bin" bench --out "$out" "${args[@]}" --note "run by scripts/bench-backends.sh --out $out $*, which started the servers of these stores on loopback ports" "$@"
  exit 0
fi

for entry in "${stores[@]}"; do
  name=${entry%%|*}; url=${entry#*|}
  for lat in 0s 5ms; do
    echo "== $name, store latency $lat"
    if [ "$name" = s3 ]; then export AWS_ACCESS_KEY_ID=aftbench AWS_SECRET_ACCESS_KEY=aftbench-secret; fi
    if [ "$name" = dynamodb ]; then export AWS_ACCESS_KEY_ID=aftlocal AWS_SECRET_ACCESS_KEY=aftlocal; fi
    "$bin" bench --store "$url" --store-latency "$lat" --duration "$dur" --progress 1h | grep -vE '^\s+(aft|direct) '
    if [ "$name" = dynamodb ]; then
      echo "== $name, store latency $lat, vs DynamoDB transactions"
      "$bin" bench --store "$url" --store-latency "$lat" --duration "$dur" --progress 1h --baseline dynamodb-txn | grep -vE '^\s+(aft|direct) '
    fi
  done
done
