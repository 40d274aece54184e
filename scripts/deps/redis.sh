#!/usr/bin/env bash
# Installs redis-server, which the tests of shim/store/redis and e2e (TestCrashRecoveryRedis)
# start on a loopback port of their own. Idempotent, and quick when redis-server is already
# on PATH. It never leaves a Redis service running: the tests start and stop their own.
set -euo pipefail
source "$(dirname "$0")/../lib/apt.sh"

if ! command -v redis-server >/dev/null 2>&1; then
	apt_install_server redis-server redis-server
fi
echo "redis-server: $(redis-server --version | head -n1)"
