#!/usr/bin/env bash
# bench/stream.sh - the CPU cost of a streamed token (issue 16), rerunnable
# by anyone on one machine.  Starts the fake LLM upstream
# (tests/fixtures/fakellm: one send() per token, no delay unless asked)
# and a stack on SQLite whose `openai` provider points at it, then:
#
#  1. S streams x T tokens (defaults 100 x 200, the upstream at full
#     speed) on the full chat path: one SSE send per conversation
#     (gateway -> chatd -> aid -> upstream), all at once, while one
#     /v1/ws connection of the same user takes every event too; each
#     daemon's CPU (utime + stime from /proc/PID/stat) before and after
#     gives the microseconds of CPU per streamed token, per daemon and in
#     total (the upstream and the clients are not counted); the same
#     streams with one token each first, whose CPU is subtracted, so
#     that what a stream costs apart from its tokens (the conversation,
#     the send, the stored rows, the title) is not counted as tokens';
#  2. C concurrent streams (default 1000; 0 skips) at 50 tokens/s, 100
#     tokens each: first-token p50/p99, completion, CPU per daemon.  All
#     sent in the same instant by default (a storm: the first token then
#     waits for every other start); with STREAM_BENCH_RAMP=R, R sends a
#     second, and STREAM_BENCH_CONC_TOKENS=K tokens each (K / 50 s), so
#     that the streams overlap up to C at once (most_open in the result)
#     as 1,000 users reading answers do, without starting together.
#
# Nothing lost: every SSE stream's concatenated deltas must equal the
# stored answer its `done` event carries, and so must the deltas the
# WebSocket saw for each conversation (checked here, counted in the
# report).
#
# usage: bench/stream.sh [S [T [C]]]
# CHAT_BUILD/CHAT_BIN: measure a private build (make B=DIR/build BIN=DIR/bin).
# STREAM_BENCH_KEEP=1: keep the temporary directory (logs, data).  (Not
# CHAT_*: the daemons refuse CHAT_ variables that name no config key.)
# STREAM_BENCH_PERF=FILE: perf record -g of aid, chatd and gatewayd
#   during the concurrent streams, into FILE (perf report -i FILE).
# STREAM_BENCH_CONF: extra lines for the stack's config file (for example
#   "[aid]\ncoalesce_ms = 0" to measure without coalescing).
# Prints a Markdown report on stdout; docs/PERFORMANCE.md keeps numbers.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
n_streams=${1:-100}
n_tokens=${2:-200}
n_conc=${3:-1000}
conc_tokens=${STREAM_BENCH_CONC_TOKENS:-100}	# 2 s at 50 tokens/s
ramp=${STREAM_BENCH_RAMP:-}

work=$(mktemp -d /tmp/chat-stream.XXXXXX)
fake_pid=
perf_pid=
ws_pid=
ws_feed_pid=
cleanup() {
	CHAT_DATA_DIR=$work/data "$here/scripts/stack" stop >/dev/null 2>&1 || true
	[[ -n $perf_pid ]] && kill -INT "$perf_pid" 2>/dev/null || true
	[[ -n $ws_feed_pid ]] && kill "$ws_feed_pid" 2>/dev/null || true
	[[ -n $ws_pid ]] && kill "$ws_pid" 2>/dev/null || true
	[[ -n $fake_pid ]] && kill "$fake_pid" 2>/dev/null || true
	[[ -n ${STREAM_BENCH_KEEP:-} ]] && echo "stream.sh: kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT

# shellcheck source=bench/lib.sh
source "$here/bench/lib.sh"

build=${CHAT_BUILD:-$here/build}
[[ -n ${CHAT_BIN:-} ]] || make -s -C "$here" all >/dev/null
bench=$build/bench/chatbench
wsclient=$build/fixtures/wsclient

"$build/fixtures/fakellm" -p 0 -f "$work/fake.port" >"$work/fake.log" 2>&1 &
fake_pid=$!
for _ in $(seq 100); do [[ -s $work/fake.port ]] && break; sleep 0.05; done
fake=http://127.0.0.1:$(<"$work/fake.port")

port=$(free_port)
{
	printf 'log_level = warn\n[userd]\naccess_ttl_s = 86400\n'
	printf '[openai]\nbase_url = %s/v1\napi_key = bench-upstream-key\n' "$fake"
	printf '%b\n' "${STREAM_BENCH_CONF:-}"
} >"$work/chat.conf"
export CHAT_CONFIG=$work/chat.conf CHAT_DATA_DIR=$work/data CHAT_PORT=$port


"$here/scripts/stack" start >/dev/null
base=http://127.0.0.1:$port

curl -fsS -o /dev/null -H 'Content-Type: application/json' \
	-d '{"username":"bench","password":"bench-password-1"}' "$base/v1/auth/register"
token=$(curl -fsS -H 'Content-Type: application/json' \
	-d '{"username":"bench","password":"bench-password-1"}' "$base/v1/auth/login" |
	jq -r .access_token)

cpu_ticks() {	# "name ticks" per daemon
	local f
	for f in "$CHAT_DATA_DIR"/run/*.pid; do
		awk -v n="$(basename "$f" .pid)" '{ sub(/^.*\) /, ""); print n, $12 + $13 }' \
			"/proc/$(<"$f")/stat"
	done
}
hz=$(getconf CLK_TCK)
# rows "| name | CPU s | µs per token |" and a total, from two cpu_ticks
# files and the number of tokens; with a third and fourth file (the
# one-token run) and its token count, the columns of the baseline and
# of the marginal cost: (CPU - CPU of the baseline) / (tokens - its
# tokens)
cpu_rows() {
	join <(sort "$1") <(sort "$2") | if [[ -n ${4:-} ]]; then
		join - <(join <(sort "$4") <(sort "$5"))
	else
		cat
	fi | python3 -c '
import sys
hz, tokens = int(sys.argv[1]), int(sys.argv[2])
base = int(sys.argv[3]) if len(sys.argv) > 3 else 0
t = [0.0, 0.0]
for line in sys.stdin:
    f = line.split()
    s = (int(f[2]) - int(f[1])) / hz
    t[0] += s
    if base:
        z = (int(f[4]) - int(f[3])) / hz
        t[1] += z
        print(f"| {f[0]} | {s:.2f} | {z:.2f} | {(s - z) * 1e6 / (tokens - base):.1f} |")
    else:
        print(f"| {f[0]} | {s:.2f} | {s * 1e6 / tokens:.1f} |")
if base:
    print(f"| **all daemons** | **{t[0]:.2f}** | **{t[1]:.2f}** | **{(t[0] - t[1]) * 1e6 / (tokens - base):.1f}** |")
else:
    print(f"| **all daemons** | **{t[0]:.2f}** | **{t[0] * 1e6 / tokens:.1f}** |")
' "$hz" "$3" ${4:+"$n_streams"}
}

# a WebSocket of the same user, open through phase 1: its stdin a FIFO
# held open by a sleep, every frame it gets into ws.out
mkfifo "$work/ws.in"
sleep 3600 >"$work/ws.in" &
ws_feed_pid=$!
"$wsclient" "ws://127.0.0.1:$port/v1/ws" -H "Authorization: Bearer $token" \
	-t 3600 <"$work/ws.in" >"$work/ws.out" 2>"$work/ws.err" &
ws_pid=$!
for _ in $(seq 200); do grep -q '^open' "$work/ws.out" && break; sleep 0.05; done
grep -q '^open' "$work/ws.out" || { echo "stream.sh: the WebSocket did not open" >&2; exit 1; }

# 0. the same streams with one token each: what a stream costs apart
# from its tokens (the conversation, the send, the store, the title)
cpu_ticks >"$work/cpu0.before"
zero=$("$bench" streams -c "$n_streams" -t "$token" \
	-d '{"content":"hi","model":"openai/fake:words=1"}' "$base") || true
cpu_ticks >"$work/cpu0.after"
for _ in $(seq 200); do
	[[ $(grep -c '"type":"done"' "$work/ws.out" || true) -ge $n_streams ]] && break
	sleep 0.1
done
cp "$work/ws.out" "$work/ws.out.0"

# 1. tokens at full speed
cpu_ticks >"$work/cpu1.before"
one=$("$bench" streams -c "$n_streams" -t "$token" \
	-d "{\"content\":\"hi\",\"model\":\"openai/fake:words=$n_tokens\"}" \
	"$base") || true
cpu_ticks >"$work/cpu1.after"
# the WebSocket's view: per conversation, deltas concatenated against
# the stored text of its done event (wait for the last done first)
for _ in $(seq 200); do
	[[ $(grep -c '"type":"done"' "$work/ws.out" || true) -ge $((2 * n_streams)) ]] && break
	sleep 0.1
done
ws_check=$(grep '^{' "$work/ws.out" | tail -n +"$(($(grep -c '^{' "$work/ws.out.0") + 1))" | jq -s -r '
	[.[] | select(.type == "delta" or .type == "done")] as $e
	| ($e | map(select(.type == "delta")) | length) as $nd
	| ($e | map(select(.type == "delta")) | group_by(.data.message_id)
	   | map({key: .[0].data.message_id, value: (map(.data.text) | add)})
	   | from_entries) as $txt
	| ($e | map(select(.type == "done"))) as $done
	| ($done | map(select(.data.content == ($txt[.data.message_id // .data.id] // "")))
	   | length) as $ok
	| "\($done | length) \($ok) \($nd)"')
read -r ws_done ws_ok ws_deltas <<<"$ws_check"
kill "$ws_feed_pid" "$ws_pid" 2>/dev/null || true
wait "$ws_pid" 2>/dev/null || true
ws_pid= ws_feed_pid=
sse_deltas=$(jq -r '.deltas // "n/a"' <<<"$one")
tokens=$((n_streams * n_tokens))

# 2. concurrent streams at 50 tokens/s
conc='(skipped)'
if ((n_conc > 0)); then
	if [[ -n ${STREAM_BENCH_PERF:-} ]]; then
		perf record -q -g -o "$STREAM_BENCH_PERF" -p "$(cat \
			"$CHAT_DATA_DIR"/run/{aid,chatd,gatewayd}.pid | paste -sd,)" \
			2>"$work/perf.err" &
		perf_pid=$!
	fi
	cpu_ticks >"$work/cpu2.before"
	conc=$("$bench" streams -c "$n_conc" ${ramp:+-r "$ramp"} -t "$token" \
		-d "{\"content\":\"hi\",\"model\":\"openai/fake:words=$conc_tokens,delay_ms=20\"}" \
		"$base") || true
	cpu_ticks >"$work/cpu2.after"
	if [[ -n $perf_pid ]]; then
		kill -INT "$perf_pid" 2>/dev/null || true
		wait "$perf_pid" 2>/dev/null || true
		perf_pid=
	fi
fi

cat <<REPORT
## Stream benchmark ($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(uname -r))

Store: SQLite (WAL). Upstream: tests/fixtures/fakellm on loopback.
Build: ${CHAT_BIN:-$here/bin}. Extra config: \`${STREAM_BENCH_CONF:-none}\`.

### $n_streams streams x $n_tokens tokens, upstream at full speed, SSE + one /v1/ws

Streams (SSE): \`$one\`

WebSocket: $ws_done done events, $ws_ok with the stored text equal to the
deltas it saw ($ws_deltas delta frames; SSE: $sse_deltas delta events
for $tokens tokens).

Baseline, the same $n_streams streams with 1 token each: \`$zero\`

| daemon | CPU s, $n_tokens tokens | CPU s, 1 token | **µs per token** (the difference / $((tokens - n_streams)) tokens) |
|---|---|---|---|
$(cpu_rows "$work/cpu1.before" "$work/cpu1.after" "$tokens" "$work/cpu0.before" "$work/cpu0.after")
REPORT
if ((n_conc > 0)); then
	cat <<REPORT

### $n_conc concurrent streams, $conc_tokens tokens each at 50 tokens/s, ${ramp:-all} sent a second

Result: \`$conc\` (first/total in µs from each send).

| daemon | CPU s | µs per token (all of the run's CPU) |
|---|---|---|
$(cpu_rows "$work/cpu2.before" "$work/cpu2.after" "$((n_conc * conc_tokens))")
REPORT
fi
