#!/usr/bin/env bash
# bench/web.sh - the web page's benchmark (issue 14), rerunnable by anyone
# on one machine: starts the fake LLM upstream (tests/fixtures/fakellm)
# and a stack on SQLite in a temporary data directory, then bench/web.mjs
# measures in headless chromium:
#
#  1. first load: all bytes transferred (compressed, headers included)
#     and the time from navigation start to a usable login form;
#  2. opening a conversation of 10,000 messages against one of 10;
#  3. frame times while an answer streams at 200 tokens/s (the fake
#     upstream: 1,000 words, 5 ms apart, through aid's OpenAI provider).
#
# usage: bench/web.sh
# CHAT_BUILD/CHAT_BIN: measure a private build (make B=DIR/build BIN=DIR/bin).
# BENCH_RUNS: first loads measured (default 5).  BENCH_DELAY_MS: the fake
# upstream's gap between words (default 4: 5 gave 171 tokens/s on the
# page, the per-word overhead included, short of the 200 to measure at).
# Needs chromium and tests/web/node_modules (scripts/deps.sh).  Prints the JSON of
# bench/web.mjs on stdout; docs/PERFORMANCE.md keeps the numbers.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${CHAT_BUILD:-$here/build}
[[ $build == /* ]] || build=$here/$build
[[ -n ${CHAT_BIN:-} ]] || make -s -C "$here" all >/dev/null
export CHAT_BIN=${CHAT_BIN:-$here/bin}
[[ -x ${CHAT_TEST_CHROMIUM:-/usr/bin/chromium} ]] ||
	{ echo "bench: no chromium (scripts/deps.sh)" >&2; exit 1; }
[[ -d $here/tests/web/node_modules/playwright-core ]] ||
	{ echo "bench: no tests/web/node_modules (scripts/deps.sh)" >&2; exit 1; }

work=$(mktemp -d /tmp/web-bench.XXXXXX)
fake_pid=
cleanup() {
	CHAT_DATA_DIR=$work/data "$here/scripts/stack" stop >/dev/null 2>&1 || true
	[[ -n $fake_pid ]] && kill "$fake_pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=bench/lib.sh
source "$here/bench/lib.sh"

"$build/fixtures/fakellm" -p 0 -f "$work/fake.port" >"$work/fake.log" 2>&1 &
fake_pid=$!
for ((i = 0; i < 100; i++)); do
	[[ -s $work/fake.port ]] && break
	sleep 0.05
done
[[ -s $work/fake.port ]] || { echo "bench: fakellm did not start" >&2; exit 1; }

export CHAT_DATA_DIR=$work/data CHAT_CONFIG=$work/chat.conf CHAT_DATABASE=sqlite
CHAT_PORT=$(free_port)
export CHAT_PORT
cat >"$CHAT_CONFIG" <<EOF
[userd]
register_per_hour = 1000000
[auth]
argon2_ops = 1
argon2_mem_kib = 8
[openai]
base_url = http://127.0.0.1:$(<"$work/fake.port")/v1
EOF
"$here/scripts/stack" start >/dev/null

CHAT_TEST_WEB_URL=http://127.0.0.1:$CHAT_PORT \
	BENCH_MODEL="openai/fake:words=1000,delay_ms=${BENCH_DELAY_MS:-4}" BENCH_WORDS=1000 \
	node "$here/bench/web.mjs"
