#!/usr/bin/env bash
# bench/pss.sh - what libcurl costs the whole stack, in PSS (issue 11):
# the proportional set size of every daemon summed, so that pages the
# daemons share (libc, libcurl's chain) count once in all, not once per
# process as RSS would.
#
#   1. the stack as built: libcurl only in chat-curl.so, loaded by no
#      daemon in these calls (every call stays on loopback);
#   2. the same binaries with libcurl mapped into every daemon at exec
#      (LD_PRELOAD of the libcurl that chat-curl.so links), as it was
#      when every daemon linked it;
#   3. as 1, after a call that makes aid load chat-curl.so (a host name
#      upstream), the cost when one daemon needs it.
#
# Each case: a fresh stack on SQLite, a registration, a login, a chat
# answer from the echo model, then /proc/PID/smaps_rollup of each
# daemon.  Prints a Markdown table; docs/PERFORMANCE.md keeps the
# numbers.  CHAT_BIN: the binaries (default: the checkout's bin/, built
# first).
#
# usage: bench/pss.sh
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$here/bench/lib.sh"

if [[ -z ${CHAT_BIN:-} ]]; then
	make -s -C "$here" all >/dev/null
	export CHAT_BIN=$here/bin
fi
curl_lib=$(ldd "$CHAT_BIN/chat-curl.so" | awk '$1 ~ /^libcurl/ { print $3; exit }')
[[ -n $curl_lib && -f $curl_lib ]] || {
	echo "bench: cannot find the libcurl of chat-curl.so" >&2
	exit 1
}
daemons=(gatewayd userd sessiond chatd aid)

work=$(mktemp -d /tmp/chat-pss.XXXXXX)
cleanup() {
	CHAT_DATA_DIR=$work/data "$here/scripts/stack" stop >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

# kib_sum FIELD: FIELD of smaps_rollup summed over the daemons (pid files).
kib_sum() {
	local d pid total=0 v
	for d in "${daemons[@]}"; do
		pid=$(<"$work/data/run/$d.pid")
		v=$(awk -v f="$1:" '$1 == f { print $2 }' "/proc/$pid/smaps_rollup")
		total=$((total + v))
	done
	echo "$total"
}

# curl_mapped: how many daemons map a libcurl.
curl_mapped() {
	local d pid n=0
	for d in "${daemons[@]}"; do
		pid=$(<"$work/data/run/$d.pid")
		grep -q 'libcurl' "/proc/$pid/maps" && n=$((n + 1))
	done
	echo "$n"
}

# measure LABEL [CONFIG-LINE...]: one case; prints a table row.
measure() {
	local label=$1 port base token conv
	shift
	rm -rf "$work/data"
	port=$(free_port)
	printf '%s\n' "$@" >"$work/chat.conf"
	CHAT_DATA_DIR=$work/data CHAT_PORT=$port CHAT_CONFIG=$work/chat.conf \
		CHAT_LOG_LEVEL=warn "$here/scripts/stack" start >/dev/null
	base=http://127.0.0.1:$port
	curl -fsS -o /dev/null -H 'Content-Type: application/json' \
		-d '{"username":"bench","password":"bench-password-1"}' "$base/v1/auth/register"
	token=$(curl -fsS -H 'Content-Type: application/json' \
		-d '{"username":"bench","password":"bench-password-1"}' "$base/v1/auth/login" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
	conv=$(curl -fsS -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
		-d '{}' "$base/v1/conversations" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
	curl -fsS -o /dev/null -H "Authorization: Bearer $token" \
		-H 'Content-Type: application/json' -d '{"content":"hello there","model":"echo"}' \
		"$base/v1/conversations/$conv/messages"
	if [[ $label == *"loaded by aid"* ]]; then
		# https: plain sockets cannot, chat-curl.so must (the
		# call itself fails, nothing listens there)
		curl -sS -o /dev/null -H "Authorization: Bearer $token" \
			-H 'Content-Type: application/json' \
			-d '{"model":"openai/x","messages":[{"role":"user","content":"hi"}]}' \
			"$base/v1/chat/completions" || true
	fi
	sleep 1
	printf '| %s | %s | %s | %s |\n' "$label" "$(kib_sum Pss)" "$(kib_sum Rss)" \
		"$(curl_mapped)"
	CHAT_DATA_DIR=$work/data "$here/scripts/stack" stop >/dev/null
}

echo "## PSS of the whole stack (bench/pss.sh, $(date -u +%Y-%m-%d), $(git -C "$here" rev-parse --short HEAD))"
echo
echo "| case | PSS KiB (5 daemons) | RSS KiB (summed) | daemons mapping libcurl |"
echo "|---|---|---|---|"
measure "libcurl in chat-curl.so, not loaded"
LD_PRELOAD=$curl_lib measure "libcurl mapped into every daemon (LD_PRELOAD)"
measure "chat-curl.so loaded by aid (one call)" "[openai]" \
	"base_url = https://127.0.0.1:9/v1" "api_key = bench"
