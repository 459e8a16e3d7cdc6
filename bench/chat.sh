#!/usr/bin/env bash
# bench/chat.sh - the chat journey's benchmarks (issue 3), rerunnable by
# anyone on one machine.  Starts the fake LLM upstream
# (tests/fixtures/fakellm) and a stack on SQLite in a temporary data dir
# whose `openai` provider points at it, then measures:
#
#  1. added latency: POST /v1/chat/completions (non-streaming) through
#     gateway -> aid -> fake upstream, against the fake upstream asked
#     directly; one request in flight, N requests (default 2000);
#  2. added time to first token on the full chat path: POST
#     /v1/conversations/{id}/messages as SSE through gateway -> chatd ->
#     aid -> fake upstream, against a streaming request to the fake
#     upstream directly; M asks (default 500);
#  3. C concurrent streaming generations (default 1000) through one stack,
#     the fake upstream at 50 tokens/s each: all must complete with the
#     stored text equal to the streamed one; CPU seconds and peak RSS of
#     each daemon.
#
# usage: bench/chat.sh [N [M [C]]]
# CHAT_BUILD/CHAT_BIN: measure a private build (make B=DIR/build BIN=DIR/bin).
# Prints a Markdown report on stdout; docs/PERFORMANCE.md keeps numbers.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
n_lat=${1:-2000}
n_ttft=${2:-500}
n_conc=${3:-1000}
words=100		# tokens per concurrent stream: 2 s at 50 tokens/s

work=$(mktemp -d /tmp/chat-bench.XXXXXX)
fake_pid=
sampler_pid=
cleanup() {
	CHAT_DATA_DIR=$work/data "$here/scripts/stack" stop >/dev/null 2>&1 || true
	[[ -n $sampler_pid ]] && kill "$sampler_pid" 2>/dev/null || true
	[[ -n $fake_pid ]] && kill "$fake_pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

# shellcheck source=bench/lib.sh
source "$here/bench/lib.sh"

# a private build (make B=... BIN=...) is used when CHAT_BUILD and CHAT_BIN
# name it; else the checkout's, built first
build=${CHAT_BUILD:-$here/build}
[[ -n ${CHAT_BIN:-} ]] || make -s -C "$here" all >/dev/null
bench=$build/bench/chatbench

"$build/fixtures/fakellm" -p 0 -f "$work/fake.port" >"$work/fake.log" 2>&1 &
fake_pid=$!
for _ in $(seq 100); do [[ -s $work/fake.port ]] && break; sleep 0.05; done
fake=http://127.0.0.1:$(<"$work/fake.port")

port=$(free_port)
cat >"$work/chat.conf" <<CONF
log_level = warn
[userd]
access_ttl_s = 86400
[openai]
base_url = $fake/v1
api_key = bench-upstream-key
CONF
export CHAT_CONFIG=$work/chat.conf CHAT_DATA_DIR=$work/data CHAT_PORT=$port
"$here/scripts/stack" start >/dev/null
base=http://127.0.0.1:$port

curl -fsS -o /dev/null -H 'Content-Type: application/json' \
	-d '{"username":"bench","password":"bench-password-1"}' "$base/v1/auth/register"
token=$(curl -fsS -H 'Content-Type: application/json' \
	-d '{"username":"bench","password":"bench-password-1"}' "$base/v1/auth/login" |
	jq -r .access_token)
auth="Authorization: Bearer $token"

# "p50 p99" in ms from a chatbench result's stats object
ms() { jq -r --arg k "$1" '.[$k] | "\(.p50_us / 1000) \(.p99_us / 1000)"'; }
sub() { python3 -c "print(f'{$1 - $2:.3f}')"; }

# 1. added latency, non-streaming completions
msgs='"messages":[{"role":"user","content":"hello there"}]'
"$bench" latency -n 200 -H "$auth" -d "{\"model\":\"openai/fake:words=5\",$msgs}" \
	"$base/v1/chat/completions" >/dev/null		# warm-up
via=$("$bench" latency -n "$n_lat" -H "$auth" \
	-d "{\"model\":\"openai/fake:words=5\",$msgs}" "$base/v1/chat/completions")
direct=$("$bench" latency -n "$n_lat" -H 'Authorization: Bearer bench-upstream-key' \
	-d "{\"model\":\"fake:words=5\",$msgs}" "$fake/v1/chat/completions")
read -r v50 v99 < <(ms total <<<"$via")
read -r d50 d99 < <(ms total <<<"$direct")

# 2. added time to first token, full chat path vs the upstream directly
conv=$(curl -fsS -H "$auth" -H 'Content-Type: application/json' -d '{}' \
	"$base/v1/conversations" | jq -r .id)
ask="{\"content\":\"hello there\",\"parent_id\":null,\"model\":\"openai/fake:words=5\"}"
"$bench" ttft -n 50 -H "$auth" -H 'Accept: text/event-stream' -d "$ask" -m w1 \
	"$base/v1/conversations/$conv/messages" >/dev/null	# warm-up
chat=$("$bench" ttft -n "$n_ttft" -H "$auth" -H 'Accept: text/event-stream' \
	-d "$ask" -m w1 "$base/v1/conversations/$conv/messages")
up=$("$bench" ttft -n "$n_ttft" -H 'Authorization: Bearer bench-upstream-key' \
	-d "{\"model\":\"fake:words=5\",\"stream\":true,$msgs}" -m w1 \
	"$fake/v1/chat/completions")
read -r c50 c99 < <(ms first <<<"$chat")
read -r u50 u99 < <(ms first <<<"$up")

# 3. concurrent streams; CPU ticks and peak RSS sampled from /proc
cpu_ticks() {	# "name ticks" per daemon
	local f
	for f in "$CHAT_DATA_DIR"/run/*.pid; do
		awk -v n="$(basename "$f" .pid)" '{ sub(/^.*\) /, ""); print n, $12 + $13 }' \
			"/proc/$(<"$f")/stat"
	done
}
sample_rss() {
	while :; do
		for f in "$CHAT_DATA_DIR"/run/*.pid; do
			awk -v n="$(basename "$f" .pid)" '/^VmRSS:/ { print n, $2 }' \
				"/proc/$(<"$f")/status" 2>/dev/null
		done
		sleep 0.2
	done >"$work/rss.samples"
}
cpu_ticks >"$work/cpu.before"
sample_rss &
sampler_pid=$!
t0=$(date +%s.%N)
conc=$("$bench" streams -c "$n_conc" -t "$token" \
	-d "{\"content\":\"hi\",\"model\":\"openai/fake:words=$words,delay_ms=20\"}" \
	"$base") || true
t1=$(date +%s.%N)
kill "$sampler_pid" 2>/dev/null || true
wait "$sampler_pid" 2>/dev/null || true
sampler_pid=
cpu_ticks >"$work/cpu.after"
hz=$(getconf CLK_TCK)
res_rows=$(join <(sort "$work/cpu.before") <(sort "$work/cpu.after") |
	while read -r name before after; do
		peak=$(awk -v n="$name" '$1 == n && $2 > m { m = $2 } END { printf "%.1f", m / 1024 }' \
			"$work/rss.samples")
		printf '| %s | %.2f | %s MiB |\n' "$name" "$(python3 -c "print(($after - $before) / $hz)")" "$peak"
	done)
wall=$(python3 -c "print(f'{$t1 - $t0:.1f}')")

cat <<REPORT
## Chat benchmarks ($(date -u +%Y-%m-%d), $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -r))

Store: SQLite (WAL). Upstream: tests/fixtures/fakellm on loopback.

### Added latency, POST /v1/chat/completions (non-streaming), $n_lat requests, one in flight

| path | p50 ms | p99 ms |
|---|---|---|
| gateway -> aid -> fake upstream | $v50 | $v99 |
| fake upstream directly | $d50 | $d99 |
| **added** | $(sub "$v50" "$d50") | $(sub "$v99" "$d99") |

Target: added p99 <= 0.5 ms.

### Added time to first token, full chat path, $n_ttft asks, one in flight

| path | p50 ms | p99 ms |
|---|---|---|
| gateway -> chatd -> aid -> fake upstream (SSE send) | $c50 | $c99 |
| fake upstream directly (streaming) | $u50 | $u99 |
| **added** | $(sub "$c50" "$u50") | $(sub "$c99" "$u99") |

Targets: added p50 <= 1 ms, p99 <= 5 ms.

### $n_conc concurrent streaming generations, $words tokens each at 50 tokens/s

Result: \`$conc\` (wall ${wall} s including the creation of the conversations).

| daemon | CPU seconds | peak RSS |
|---|---|---|
$res_rows
REPORT
