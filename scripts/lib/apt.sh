# Sourced by the scripts/deps scripts that install a server from Debian.
#
# apt_install_server PACKAGE SERVICE
#   installs PACKAGE with apt-get, without letting its maintainer scripts start SERVICE, and
#   stops and disables SERVICE should a service manager have started it anyway: the tests
#   start and stop their own servers on loopback ports of their own.
apt_install_server() {
	local pkg=$1 service=$2
	if ! command -v apt-get >/dev/null 2>&1; then
		echo "$pkg is not installed and there is no apt-get: install it by hand" >&2
		return 1
	fi
	local sudo=""
	if [ "$(id -u)" -ne 0 ]; then
		sudo="sudo"
	fi
	# policy-rc.d exit 101 stops the package's maintainer scripts from starting the service
	# (on machines with systemd or sysvinit alike); it is removed again afterwards unless it
	# was there before.
	local policy=/usr/sbin/policy-rc.d own_policy=""
	if [ ! -e "$policy" ]; then
		own_policy=1
		printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
		$sudo chmod 755 "$policy"
	fi
	local rc=0
	DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq &&
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null || rc=$?
	if [ -n "$own_policy" ]; then
		$sudo rm -f "$policy"
	fi
	[ "$rc" = 0 ] || return "$rc"
	if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
		$sudo systemctl disable --now "$service" >/dev/null 2>&1 || true
	elif command -v service >/dev/null 2>&1; then
		$sudo service "$service" stop >/dev/null 2>&1 || true
	fi
}
