#!/usr/bin/env bash
# bench/ws-idle.sh - what an idle WebSocket costs the stack (issue 16):
# memory per connection in gatewayd and chatd, the accept rate, and
# whether the stack still answers with that many held; Node's `ws`
# server holding the same connections from the same client in the same
# run as the anchor.
#
# For each N (default: 3000 10000 19000): a fresh stack on SQLite; one
# user logs in; bench/wsidle.c (one process, epoll, 256 handshakes in
# flight at most) opens N authenticated /v1/ws connections through the
# gateway and holds them.  Each daemon's RSS and PSS (smaps_rollup) are
# read before (after a warm-up of 50 connections opened and closed) and
# 2 s after the last handshake; the difference over the connections
# that opened is the cost of one.  With them held: GET /v1/users/me and
# a streamed chat completion must still answer.  Then the same N to a
# Node `ws` server (ws@8.18.0 from npm, installed into a temp dir).
#
# The descriptor limit is 20,000 per process here (ulimit -Hn): the
# client and Node cannot hold more, and a gateway that spends two
# descriptors per client (its own and one to chatd) tops out near half.
#
# usage: bench/ws-idle.sh [N...]
# CHAT_BIN / CHAT_BUILD: a private build (make B=... BIN=...).
# BENCH_NODE=0 skips the Node anchor.
# Prints a Markdown report on stdout; docs/PERFORMANCE.md keeps numbers.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$here/bench/lib.sh"

sizes=("$@")
((${#sizes[@]})) || sizes=(3000 10000 19000)
if [[ -z ${CHAT_BIN:-} ]]; then
	make -s -C "$here" all >/dev/null
	export CHAT_BIN=$here/bin
fi
build=${CHAT_BUILD:-$here/build}
client=$build/bench/wsidle
[[ -x $client ]] || {
	echo "bench: $client is not built (make bench)" >&2
	exit 1
}
daemons=(gatewayd chatd)

work=$(mktemp -d /tmp/chat-wsidle.XXXXXX)
client_pid=
node_pid=
cleanup() {
	[[ -z $client_pid ]] || kill "$client_pid" 2>/dev/null || true
	[[ -z $node_pid ]] || kill "$node_pid" 2>/dev/null || true
	CHAT_DATA_DIR=$work/data "$here/scripts/stack" stop >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

# kib PID FIELD: FIELD (Rss, Pss) of smaps_rollup, in KiB.
kib() {
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/smaps_rollup"
}

# hold PORT PATH TOKEN N: starts the client holding N connections; its
# first line (opened=...) into $held_line.  Stop it with release.
hold() {
	rm -f "$work/in" "$work/out"
	mkfifo "$work/in"
	"$client" "$@" <"$work/in" >"$work/out" &
	client_pid=$!
	exec 7>"$work/in"
	until [[ -s $work/out ]]; do
		kill -0 "$client_pid" 2>/dev/null || {
			echo "bench: the client died" >&2
			exit 1
		}
		sleep 0.1
	done
	held_line=$(head -n 1 "$work/out")
}

# release: ends the client; its last line into $release_line.
release() {
	echo quit >&7
	exec 7>&-
	wait "$client_pid" || true
	client_pid=
	release_line=$(tail -n 1 "$work/out")
}

field() {	# field NAME LINE
	sed -nE "s/.*(^| )$1=([^ ]+).*/\\2/p" <<<"$2"
}

# the stack's case for N: a table row per daemon and their sum
stack_case() {
	local n=$1 port base token pid d opened before_r before_p after_r after_p
	local -A rss0 pss0
	rm -rf "$work/data"
	port=$(free_port)
	CHAT_DATA_DIR=$work/data CHAT_PORT=$port CHAT_LOG_LEVEL=warn \
		"$here/scripts/stack" start >/dev/null
	base=http://127.0.0.1:$port
	curl -fsS -o /dev/null -H 'Content-Type: application/json' \
		-d '{"username":"bench","password":"bench-password-1"}' "$base/v1/auth/register"
	token=$(curl -fsS -H 'Content-Type: application/json' \
		-d '{"username":"bench","password":"bench-password-1"}' "$base/v1/auth/login" |
		jq -r .access_token)
	# warm-up: what the first connections allocate once is not theirs
	hold "$port" /v1/ws "$token" 50
	release
	sleep 1
	for d in "${daemons[@]}"; do
		pid=$(<"$work/data/run/$d.pid")
		rss0[$d]=$(kib "$pid" Rss)
		pss0[$d]=$(kib "$pid" Pss)
	done
	hold "$port" /v1/ws "$token" "$n"
	opened=$(field opened "$held_line")
	sleep 2
	local sum_r=0 sum_p=0
	for d in "${daemons[@]}"; do
		pid=$(<"$work/data/run/$d.pid")
		after_r=$(kib "$pid" Rss)
		after_p=$(kib "$pid" Pss)
		before_r=${rss0[$d]}
		before_p=${pss0[$d]}
		sum_r=$((sum_r + after_r - before_r))
		sum_p=$((sum_p + after_p - before_p))
		printf '| %s | %s | %s | %s | %s | %s |\n' "$n" "$d" "$opened" \
			"$(per_conn "$before_r" "$after_r" "$opened")" \
			"$(per_conn "$before_p" "$after_p" "$opened")" "-"
	done
	# still answering, with them held
	local me_status stream
	me_status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
		-H "Authorization: Bearer $token" "$base/v1/users/me")
	stream=$(curl -sS -N --max-time 20 -H "Authorization: Bearer $token" \
		-H 'Content-Type: application/json' \
		-d '{"model":"echo","stream":true,"messages":[{"role":"user","content":"still there"}]}' \
		"$base/v1/chat/completions" | grep -c '^data: \[DONE\]' || true)
	release
	printf '| %s | gatewayd + chatd | %s | %s | %s | %s |\n' "$n" "$opened" \
		"$(per_conn 0 "$sum_r" "$opened")" "$(per_conn 0 "$sum_p" "$opened")" \
		"$(field rate "$held_line")/s; me $me_status, stream $([[ $stream == 1 ]] && echo ok || echo FAILED); $(field closed_by_server "$release_line") closed by the server"
	CHAT_DATA_DIR=$work/data "$here/scripts/stack" stop >/dev/null
}

# per_conn BEFORE_KIB AFTER_KIB N: bytes per connection
per_conn() {
	(($3 > 0)) || {
		echo "-"
		return
	}
	echo $(((($2 - $1) * 1024) / $3))
}

node_case() {
	local n=$1 port before after opened
	port=$(free_port)
	node -e '
const { WebSocketServer } = require(process.argv[1] + "/node_modules/ws");
const wss = new WebSocketServer({ host: "127.0.0.1", port: +process.argv[2] });
wss.on("listening", () => console.log("ready"));
wss.on("connection", (ws) => ws.on("error", () => {}));
' "$work/node" "$port" >"$work/node.out" 2>&1 &
	node_pid=$!
	until grep -q ready "$work/node.out" 2>/dev/null; do sleep 0.1; done
	hold "$port" / "" 50
	release
	sleep 1
	before=$(kib "$node_pid" Rss)
	hold "$port" / "" "$n"
	opened=$(field opened "$held_line")
	sleep 2
	after=$(kib "$node_pid" Rss)
	release
	printf '| %s | node ws@8.18.0 | %s | %s | - | %s/s |\n' "$n" "$opened" \
		"$(per_conn "$before" "$after" "$opened")" "$(field rate "$held_line")"
	kill "$node_pid"
	wait "$node_pid" 2>/dev/null || true
	node_pid=
}

if [[ ${BENCH_NODE:-1} != 0 ]]; then
	mkdir -p "$work/node"
	npm install --silent --no-audit --no-fund --prefix "$work/node" \
		ws@8.18.0 >/dev/null
fi

echo "## Idle WebSockets (bench/ws-idle.sh, $(date -u +%Y-%m-%d), $(git -C "$here" rev-parse --short HEAD))"
echo
echo "Load average at the start: $(cut -d' ' -f1-3 /proc/loadavg); descriptor limit $(ulimit -Hn)."
echo
echo '| N | server | opened | RSS bytes/conn | PSS bytes/conn | accept rate, checks |'
echo '|---|---|---|---|---|---|'
for n in "${sizes[@]}"; do
	stack_case "$n"
	[[ ${BENCH_NODE:-1} == 0 ]] || node_case "$n"
done
echo
echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
