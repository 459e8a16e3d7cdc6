#!/usr/bin/env bash
# deps.sh - installs every Debian package that the build, the tests and the
# test servers need.  Idempotent: when everything is present it asks dpkg,
# prints nothing and exits 0; only when something is missing does it run
# apt-get update and install (non-interactive), through sudo when not root.
set -euo pipefail

packages=(
	# build
	build-essential pkg-config
	libwebsockets-dev libcurl4-openssl-dev libpq-dev libhiredis-dev
	libcjson-dev libsodium-dev libreadline-dev libsqlite3-dev
	libncurses-dev libcmocka-dev
	# the Kafka relay and consumer module (chat-kafka.so); rdkafka_mock.h
	# gives the tests a mock cluster, kcat reads and writes its topics
	librdkafka-dev kcat
	# tests and the servers they start; clang for the libFuzzer targets
	bats parallel jq curl sqlite3 postgresql redis-server tmux clang
	procps iproute2 util-linux
	# the shells whose completions the tests drive (bash is there)
	zsh fish
	# benchmark
	wrk nginx-light
)

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[[ $status == "install ok installed" ]] || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0

sudo=()
if ((EUID != 0)); then
	if ! command -v sudo >/dev/null; then
		echo "deps.sh: missing packages: ${missing[*]}" >&2
		echo "deps.sh: not root and no sudo: install them as root" >&2
		exit 1
	fi
	sudo=(sudo)
fi

echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	--no-install-recommends "${missing[@]}" >/dev/null
