#!/usr/bin/env bash
# bench/identity.sh - the foundation's benchmarks (issue 2), rerunnable by
# anyone on one machine:
#
#  1. GET /v1/users/me through the gateway (access token, gateway -> userd
#     -> store) with wrk, 64 connections, against nginx serving a static
#     file of the same bytes on the same machine as the ceiling;
#  2. login throughput (argon2id-bound, libsodium's INTERACTIVE cost);
#  3. the idle RSS of each daemon.
#
# usage: bench/identity.sh [DURATION_S]   (default 10)
# Prints a Markdown report on stdout; docs/PERFORMANCE.md keeps the numbers.
#
# Settings: CHAT_BIN, the binaries to measure (default: the checkout's
# bin/, built first; with CHAT_BIN set nothing is built, so a private
# build such as `make B=/tmp/x/build BIN=/tmp/x/bin` can be measured);
# BENCH_ROUNDS, how many times the gateway/nginx pair is run in turn
# (default 1; every round is reported, so the noise of a shared machine
# shows).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dur=${1:-10}
conns=64
threads=2

command -v wrk >/dev/null || { echo "bench: wrk is not installed (scripts/deps.sh)" >&2; exit 1; }
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || { echo "bench: nginx is not installed" >&2; exit 1; }
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

work=$(mktemp -d /tmp/chat-bench.XXXXXX)
chmod 0755 "$work"
nginx_pid=
cleanup() {
	CHAT_DATA_DIR=$work/data "$here/scripts/stack" stop >/dev/null 2>&1 || true
	if [[ -n $nginx_pid ]] && kill -0 "$nginx_pid" 2>/dev/null; then
		kill "$nginx_pid"
	fi
	rm -rf "$work"
}
trap cleanup EXIT

# shellcheck source=bench/lib.sh
source "$here/bench/lib.sh"

if [[ -z ${CHAT_BIN:-} ]]; then
	make -s -C "$here" all >/dev/null
fi
rounds=${BENCH_ROUNDS:-1}

port=$(free_port)
export CHAT_DATA_DIR=$work/data CHAT_PORT=$port CHAT_LOG_LEVEL=warn
"$here/scripts/stack" start >/dev/null
base=http://127.0.0.1:$port

curl -fsS -o /dev/null -H 'Content-Type: application/json' \
	-d '{"username":"bench","password":"bench-password-1"}' "$base/v1/auth/register"
token=$(curl -fsS -H 'Content-Type: application/json' \
	-d '{"username":"bench","password":"bench-password-1"}' "$base/v1/auth/login" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

# the exact body the gateway answers, served by nginx as the ceiling
curl -fsS -H "Authorization: Bearer $token" "$base/v1/users/me" >"$work/me.json"
nginx_port=$((port + 9))
mkdir -p "$work/nginx/logs"
cat >"$work/nginx/nginx.conf" <<NGX
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    server {
        listen 127.0.0.1:$nginx_port;
        location = /v1/users/me {
            default_type application/json;
            alias $work/me.json;
        }
    }
}
NGX
"$nginx_bin" -p "$work/nginx" -c "$work/nginx/nginx.conf" 3>&- </dev/null &
nginx_pid=$!
for _ in $(seq 50); do
	curl -fsS -o /dev/null "http://127.0.0.1:$nginx_port/v1/users/me" 2>/dev/null && break
	sleep 0.1
done

# wrk --latency output -> "req/s p50 p99" (latencies in ms)
wrk_summary() {
	awk '
	function ms(v) {
		if (v ~ /us$/) { sub(/us$/, "", v); return v / 1000 }
		if (v ~ /ms$/) { sub(/ms$/, "", v); return v + 0 }
		if (v ~ /s$/)  { sub(/s$/, "", v);  return v * 1000 }
		return v
	}
	/^ +50%/ { p50 = ms($2) }
	/^ +99%/ { p99 = ms($2) }
	/^Requests\/sec:/ { rps = $2 }
	/Non-2xx/ { bad = $NF }
	END { printf "%.0f %.3f %.3f %s\n", rps, p50, p99, (bad == "" ? 0 : bad) }'
}

run_wrk() { wrk -t"$threads" -c"$conns" -d"${dur}s" --latency "$@" 2>&1; }

# warm both up
wrk -t1 -c4 -d1s -H "Authorization: Bearer $token" "$base/v1/users/me" >/dev/null
wrk -t1 -c4 -d1s "http://127.0.0.1:$nginx_port/v1/users/me" >/dev/null

# gateway and nginx in turn, BENCH_ROUNDS times; the last round's numbers
# fill the summary, every round gets a row
me_rows=
for ((round = 1; round <= rounds; round++)); do
	read -r g_rps g_p50 g_p99 g_bad < <(run_wrk -H "Authorization: Bearer $token" "$base/v1/users/me" | wrk_summary)
	read -r n_rps n_p50 n_p99 n_bad < <(run_wrk "http://127.0.0.1:$nginx_port/v1/users/me" | wrk_summary)
	ratio=$(python3 -c "print(f'{$g_rps / $n_rps:.2f}')")
	me_rows+="| $round | $g_rps | $g_p50 | $g_p99 | $g_bad | $n_rps | $n_p50 | $n_p99 | $ratio |"$'\n'
done

# login throughput: argon2id at libsodium's INTERACTIVE cost (the default)
cat >"$work/login.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"username":"bench","password":"bench-password-1"}'
LUA
read -r l_rps l_p50 l_p99 l_bad < <(wrk -t2 -c8 -d"${dur}s" --latency -s "$work/login.lua" "$base/v1/auth/login" 2>&1 | wrk_summary)

# one table row per daemon: RSS, PSS and private (USS) memory in MiB
mem_rows() {
	local pidfile name pid
	for pidfile in "$CHAT_DATA_DIR"/run/*.pid; do
		name=$(basename "$pidfile" .pid)
		pid=$(cat "$pidfile")
		awk -v name="$name" '
			/^Rss:/ { rss = $2 }
			/^Pss:/ { pss = $2 }
			/^Private_(Clean|Dirty):/ { uss += $2 }
			END { printf "| %s | %.1f MiB | %.1f MiB | %.1f MiB |\n", name, rss / 1024, pss / 1024, uss / 1024 }' \
			"/proc/$pid/smaps_rollup"
	done
}

sleep 1
rss_rows=$(mem_rows)
# idle memory right after start, for comparison: restart and measure
"$here/scripts/stack" stop >/dev/null
"$here/scripts/stack" start >/dev/null
sleep 1
idle_rows=$(mem_rows)

cat <<REPORT
## Identity benchmarks ($(date -u +%Y-%m-%d), $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -r))

wrk -t$threads -c$conns -d${dur}s, loopback, store: SQLite (WAL).

| target | req/s | p50 ms | p99 ms | non-2xx |
|---|---|---|---|---|
| gateway GET /v1/users/me | $g_rps | $g_p50 | $g_p99 | $g_bad |
| nginx, same bytes, 1 worker | $n_rps | $n_p50 | $n_p99 | $n_bad |

Ratio gateway/nginx: **$ratio** (target >= 0.35), gateway p99 **$g_p99 ms** (target <= 5 ms).

Every round (gateway, then nginx at once after it):

| round | gateway req/s | p50 ms | p99 ms | non-2xx | nginx req/s | p50 ms | p99 ms | ratio |
|---|---|---|---|---|---|---|---|---|
${me_rows%$'\n'}

Login (argon2id, libsodium INTERACTIVE: ops 2, 64 MiB), wrk -t2 -c8: **$l_rps logins/s**, p50 $l_p50 ms, p99 $l_p99 ms, non-2xx $l_bad.

Idle memory just after start (target: RSS <= 8 MiB each). PSS shares
the library pages among the processes that map them; USS is the memory
only that daemon holds.

| daemon | RSS | PSS | USS |
|---|---|---|---|
$idle_rows

Memory after the load above:

| daemon | RSS | PSS | USS |
|---|---|---|---|
$rss_rows
REPORT
