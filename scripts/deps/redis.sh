#!/usr/bin/env bash
# Installs redis-server, which the tests of shim/store/redis and e2e (TestCrashRecoveryRedis)
# start on a loopback port of their own. Idempotent, and quick when redis-server is already
# on PATH. It never leaves a Redis service running: the tests start and stop their own.
set -euo pipefail

if command -v redis-server >/dev/null 2>&1; then
	echo "redis-server: $(redis-server --version | head -n1)"
	exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
	echo "redis-server is not installed and there is no apt-get: install Redis (>= 6) by hand" >&2
	exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
	sudo="sudo"
fi

# policy-rc.d exit 101 stops the package's maintainer scripts from starting the service
# (on machines with systemd or sysvinit alike); it is removed again on exit unless it was
# there before.
policy=/usr/sbin/policy-rc.d
own_policy=""
if [ ! -e "$policy" ]; then
	own_policy=1
	printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
	$sudo chmod 755 "$policy"
fi
cleanup() {
	if [ -n "$own_policy" ]; then
		$sudo rm -f "$policy"
	fi
}
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends redis-server >/dev/null

# Should a service manager have started it anyway, stop it and keep it from starting at boot.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
	$sudo systemctl disable --now redis-server >/dev/null 2>&1 || true
elif command -v service >/dev/null 2>&1; then
	$sudo service redis-server stop >/dev/null 2>&1 || true
fi

echo "redis-server: $(redis-server --version | head -n1)"
