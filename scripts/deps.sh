#!/usr/bin/env bash
# deps.sh - installs every Debian package that the build, the tests and the
# test servers need, and the pinned node packages of the browser tests
# (tests/web: playwright-core and axe-core, `npm ci` from its lockfile).
# Idempotent: when everything is present it asks dpkg, prints nothing and
# exits 0; only when something is missing does it run apt-get update and
# install (non-interactive), through sudo when not root, or npm ci (as
# the caller: node_modules belongs to whoever runs the tests).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

packages=(
	# build
	build-essential pkg-config
	libwebsockets-dev libcurl4-openssl-dev libpq-dev libhiredis-dev
	# the servers' loop: lws on libuv (epoll), through lws's plugin
	# (http-server.c); without the plugin the loop falls back to poll()
	libuv1-dev libwebsockets-evlib-uv
	libcjson-dev libsodium-dev libreadline-dev libsqlite3-dev
	libncurses-dev libcmocka-dev
	# gatewayd gzips the web page's files once, at load (libwebsockets
	# links zlib too, but gatewayd now calls it itself)
	zlib1g-dev
	# the Kafka relay and consumer module (chat-kafka.so); rdkafka_mock.h
	# gives the tests a mock cluster, kcat reads and writes its topics
	librdkafka-dev kcat
	# notifyd's delivery queue on RabbitMQ (chat-amqp.so); the tests run
	# a throwaway rabbitmq-server node (tests/fixtures/rabbitmq)
	librabbitmq-dev rabbitmq-server
	# tests and the servers they start; clang for the libFuzzer targets
	bats parallel jq curl sqlite3 postgresql redis-server tmux clang
	procps iproute2 util-linux
	# the SMTP sink of the mail tests (tests/fixtures/smtp-sink) and its
	# throwaway certificate
	python3-aiosmtpd openssl
	# the shells whose completions the tests drive (bash is there)
	zsh fish
	# benchmark
	wrk nginx-light
	# the web page's browser tests: headless chromium driven from node
	# (node 20 with npm is on the machine; Debian's nodejs is the name
	# dpkg knows it by)
	chromium nodejs
)

# npm_ci: tests/web/node_modules as its package-lock.json says, unless a
# stamp shows that this lockfile was installed already.  Playwright must
# never fetch a browser of its own: the tests use Debian's chromium.
npm_ci() {
	local dir=$root/tests/web stamp=$root/tests/web/node_modules/.chat-lock
	[[ -f $dir/package-lock.json ]] || return 0
	cmp -s "$dir/package-lock.json" "$stamp" 2>/dev/null && return 0
	echo "deps.sh: npm ci in tests/web" >&2
	(cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit \
		--no-fund --ignore-scripts --loglevel=error >/dev/null)
	cp "$dir/package-lock.json" "$stamp"
}

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[[ $status == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
	npm_ci
	exit 0
fi

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
npm_ci
