#!/usr/bin/env bash
# bench/events.sh - the event backbone's and analyticsd's benchmarks
# (issue 13), rerunnable by anyone on one machine:
#
#  1. the events' cost on the send path: bench/chat.sh's added latency and
#     added time to first token (issue 3) of a build from before the
#     events (BENCH_BEFORE_BUILD, BENCH_BEFORE_BIN) and of this one, run
#     one after the other (skipped when BENCH_BEFORE_* are unset);
#  2. analyticsd's ingest rate from Kafka: N generation events (default
#     200,000: started, first_token and an end event per generation, 1,000
#     users, 5 models, 30 days) put on ai-events of librdkafka's mock
#     cluster (tests/fixtures/kafka/kafka-mock.c) by kcat as an idempotent
#     producer BEFORE analyticsd starts; then analyticsd alone with
#     kafka.brokers set, timed from its start until its /metrics counts
#     every generation and its consumer lag is 0;
#  3. the usage routes over the rollups of 1,000,000 generations (30 days
#     x 1,000 users x 5 models, written straight into analyticsd's store
#     in the shape its consumer gives them, its per-day rollups included,
#     the bench user one of the 1,000) through the gateway: p50/p99 of Q
#     calls each (default 50), with and without the user= and model=
#     filters;
#  4. each daemon's idle memory just after start (analyticsd among them).
#
# usage: bench/events.sh [N [Q]]
# CHAT_BUILD/CHAT_BIN: measure a private build (make B=DIR/build BIN=DIR/bin).
# BENCH_BEFORE_BUILD/BENCH_BEFORE_BIN: the build to compare part 1 with.
# BENCH_PERF=FILE: perf record -g of analyticsd while it ingests (part 2),
# into FILE (`perf report -i FILE`).
# BENCH_CHAT_ARGS: bench/chat.sh's arguments in part 1 (default
# "2000 500 50": its concurrency part, no subject here, kept short).
# BENCH_DATABASE: a postgresql:// URI of an empty database for part 3's
# stack (the rollups written into its analyticsd schema); default and
# parts 1 and 2: SQLite (the default of scripts/stack).  Needs kcat, jq, sqlite3,
# python3 and a build with librdkafka (scripts/deps.sh).
# Prints a Markdown report on stdout; docs/PERFORMANCE.md keeps numbers.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
n_events=${1:-200000}
n_calls=${2:-50}
metrics_token=bench-metrics-token

for tool in kcat jq sqlite3 python3 curl; do
	command -v "$tool" >/dev/null ||
		{ echo "bench: $tool is not installed (scripts/deps.sh)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/events-bench.XXXXXX)
kafka_pid=
stacks=()
cleanup() {
	local dir
	for dir in "${stacks[@]}"; do
		CHAT_DATA_DIR=$dir "$here/scripts/stack" stop >/dev/null 2>&1 || true
	done
	[[ -n $kafka_pid ]] && kill "$kafka_pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=bench/lib.sh
source "$here/bench/lib.sh"

build=${CHAT_BUILD:-$here/build}
[[ -n ${CHAT_BIN:-} ]] || make -s -C "$here" all >/dev/null
export CHAT_BIN=${CHAT_BIN:-$here/bin}
# part 3 writes the rollups into the store itself (BENCH_DATABASE)
export CHAT_DATABASE=sqlite
part3_db=${BENCH_DATABASE:-sqlite}
[[ -x $build/fixtures/kafka-mock ]] ||
	{ echo "bench: no $build/fixtures/kafka-mock (librdkafka-dev missing?)" >&2; exit 1; }

load=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------------
# 1. the send path before and after the events
# ---------------------------------------------------------------------

# "latency_p50 latency_p99 ttft_p50 ttft_p99": the added ms of a chat.sh
# report (its two **added** rows, in that order)
added() {
	awk -F'|' '/\*\*added\*\*/ { gsub(/ /, ""); printf "%s %s ", $3, $4 }
		END { print "" }'
}

send_rows=
if [[ -n ${BENCH_BEFORE_BUILD:-} && -n ${BENCH_BEFORE_BIN:-} ]]; then
	# shellcheck disable=SC2086 # the arguments are words
	before=$(CHAT_BUILD=$BENCH_BEFORE_BUILD CHAT_BIN=$BENCH_BEFORE_BIN \
		"$here/bench/chat.sh" ${BENCH_CHAT_ARGS:-2000 500 50} | added)
	# shellcheck disable=SC2086
	after=$(CHAT_BUILD=$build "$here/bench/chat.sh" \
		${BENCH_CHAT_ARGS:-2000 500 50} | added)
	read -r bl50 bl99 bt50 bt99 <<<"$before"
	read -r al50 al99 at50 at99 <<<"$after"
	send_rows="| before the events ($(basename "$(dirname "$BENCH_BEFORE_BUILD")")) | $bl50 | $bl99 | $bt50 | $bt99 |
| with the events (this build) | $al50 | $al99 | $at50 | $at99 |"
fi

# ---------------------------------------------------------------------
# 2. analyticsd's ingest from Kafka
# ---------------------------------------------------------------------

# librdkafka's mock keeps at most 5 MB per partition and drops the
# oldest messages past it: enough partitions for ~2 MB each
parts=$(((n_events + 3999) / 4000))
((parts >= 3)) || parts=3
mkdir -p "$work/kafka"
"$build/fixtures/kafka-mock" -n "$parts" -c "$work/kafka/ctl" >"$work/kafka/out" \
	2>"$work/kafka/log" 3>&- &
kafka_pid=$!
for _ in $(seq 200); do [[ -s $work/kafka/out ]] && break; sleep 0.05; done
brokers=$(head -n 1 "$work/kafka/out")
[[ $brokers == 127.0.0.1:* ]] ||
	{ echo "bench: kafka-mock did not start" >&2; cat "$work/kafka/log" >&2; exit 1; }

# KEY<TAB>EVENT lines: per generation started, first_token and an end
# event (completed; every 20th failed, every 50th stopped), as aid
# writes them (docs/events.md), spread over 1,000 users, 5 models and
# the last 30 days; ids are UUIDv7
python3 - "$n_events" >"$work/events.tsv" <<'PY'
import json, os, sys, time
n = int(sys.argv[1])
now_ms = int(time.time() * 1000)
def uuid7(ms):
    r = bytearray(os.urandom(10))
    r[0] = (r[0] & 0x0f) | 0x70
    r[2] = (r[2] & 0x3f) | 0x80
    h = f"{ms:012x}" + r.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
out = sys.stdout
for i in range(n):
    g, step = divmod(i, 3)
    user = f"01938f4e-0000-7000-8000-{g % 1000:012d}"
    model = f"openai/bench-{g % 5}"
    ms = now_ms - (g % 30) * 86400000
    t = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"
    gid = uuid7(ms)
    data = {"generation_id": gid, "model": model, "provider": "openai",
            "purpose": "api"}
    if step == 0:
        kind = "started"
    elif step == 1:
        kind = "first_token"
        data["ttft_ms"] = 150 + g % 400
    else:
        prompt, completion = 20 + g % 200, 50 + g % 700
        data.update(prompt_tokens=prompt, completion_tokens=completion,
                    ttft_ms=150 + g % 400, latency_ms=800 + g % 4000)
        if g % 20 == 0:
            kind = "failed"
            data.update(status="timeout", error="upstream_timeout")
        elif g % 50 == 1:
            kind = "stopped"
            data.update(status="stopped")
        else:
            kind = "completed"
            data.update(status="complete", finish_reason="stop")
    ev = {"specversion": "1.0", "id": uuid7(ms), "source": "/chat/aid",
          "type": f"chat.generation.{kind}", "time": t,
          "subject": f"generations/{gid}",
          "datacontenttype": "application/json", "userid": user,
          "data": data}
    out.write(user + "\t" + json.dumps(ev, separators=(",", ":")) + "\n")
PY
n_gen=$(grep -c -E '"type":"chat\.generation\.(completed|failed|stopped)"' "$work/events.tsv")

p0=$(date +%s.%N)
kcat -P -q -b "$brokers" -t ai-events -K $'\t' -l \
	-X enable.idempotence=true -X linger.ms=20 "$work/events.tsv"
p1=$(date +%s.%N)
produce_s=$(python3 -c "print(f'{$p1 - $p0:.1f}')")
on_topic=$(kcat -C -q -b "$brokers" -t ai-events -o beginning -e -f '\n' | wc -l)
((on_topic == n_events)) ||
	{ echo "bench: ai-events holds $on_topic events of $n_events" >&2; exit 1; }

port=$(free_port)
cat >"$work/ingest.conf" <<CONF
log_level = warn
[gatewayd]
metrics_token = $metrics_token
CONF
ingest=$work/ingest
stacks+=("$ingest")
a_port=$(CHAT_CONFIG=$work/ingest.conf CHAT_PORT=$port "$CHAT_BIN/analyticsd" -p)

# "generations lag" from analyticsd's /metrics (both 0 while it starts)
progress() {
	curl -s --max-time 2 -H "Authorization: Bearer $metrics_token" \
		"http://127.0.0.1:$a_port/metrics" | awk '
		/^analyticsd_requests_total/ { g += $NF }
		/^analyticsd_consumer_lag/ { lag += $NF; seen = 1 }
		END { printf "%d %d\n", g, seen ? lag : -1 }'
}

t0=$(date +%s.%N)
CHAT_CONFIG=$work/ingest.conf CHAT_DATA_DIR=$ingest CHAT_PORT=$port \
	CHAT_KAFKA_BROKERS=$brokers "$here/scripts/stack" start analyticsd >/dev/null
t_ready=$(date +%s.%N)
perf_pid=
if [[ -n ${BENCH_PERF:-} ]]; then
	perf record -g -o "$BENCH_PERF" -p "$(<"$ingest/run/analyticsd.pid")" \
		>/dev/null 2>&1 &
	perf_pid=$!
fi
got=0
idle=0
t_first=
got_first=0
for _ in $(seq 6000); do	# 10 minutes at most
	read -r got lag < <(progress)
	# the first batch's commit: what came before it is the start, the
	# group's join and the first batch's parse and store
	if [[ -z $t_first ]] && ((got > 0)); then
		t_first=$(date +%s.%N)
		got_first=$got
	fi
	((got >= n_gen && lag == 0)) && break
	# caught up but short: waiting longer would not help
	if ((lag == 0)); then ((++idle < 100)) || break; else idle=0; fi
	sleep 0.1
done
t1=$(date +%s.%N)
if [[ -n $perf_pid ]]; then
	kill -INT "$perf_pid" 2>/dev/null || true
	wait "$perf_pid" || true
fi
((got == n_gen)) ||
	{ echo "bench: analyticsd counted $got generations of $n_gen" >&2; exit 1; }
ingest_s=$(python3 -c "print(f'{$t1 - $t0:.2f}')")
ingest_rate=$(python3 -c "print(f'{$n_events / ($t1 - $t0):.0f}')")
start_s=$(python3 -c "print(f'{$t_ready - $t0:.2f}')")
first_s=$(python3 -c "print(f'{$t_first - $t0:.2f}')")
# generations counted after the first commit, at 3 events each, over
# the time since it: the rate once the consumer runs
steady_rate=$(python3 -c "print(f'{($n_gen - $got_first) * $n_events / $n_gen / ($t1 - $t_first):.0f}' if $got_first < $n_gen and $t1 > $t_first else '-')")
a_pid=$(<"$ingest/run/analyticsd.pid")
a_cpu=$(awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' \
	"/proc/$a_pid/stat")
a_rss=$(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$a_pid/status")
echo "bench: ingest: $n_events events in $ingest_s s, $ingest_rate events/s;" \
	"first batch committed at $first_s s, $steady_rate events/s after it;" \
	"CPU $a_cpu s, peak RSS $a_rss MiB" >&2
CHAT_DATA_DIR=$ingest "$here/scripts/stack" stop >/dev/null
kill "$kafka_pid" 2>/dev/null || true
kafka_pid=

# ---------------------------------------------------------------------
# 3 and 4. the usage routes over 1,000,000 generations' rollups; idle
# memory
# ---------------------------------------------------------------------

port=$(free_port)
cat >"$work/chat.conf" <<CONF
log_level = warn
[userd]
access_ttl_s = 86400
[gatewayd]
metrics_token = $metrics_token
CONF
full=$work/full
stacks+=("$full")
export CHAT_CONFIG=$work/chat.conf CHAT_DATA_DIR=$full CHAT_PORT=$port
export CHAT_DATABASE=$part3_db
"$here/scripts/stack" start >/dev/null
base=http://127.0.0.1:$port

# one table row per daemon: RSS, PSS and private (USS) memory in MiB
mem_rows() {
	local pidfile name pid
	for pidfile in "$CHAT_DATA_DIR"/run/*.pid; do
		name=$(basename "$pidfile" .pid)
		pid=$(<"$pidfile")
		awk -v name="$name" '
			/^Rss:/ { rss = $2 }
			/^Pss:/ { pss = $2 }
			/^Private_(Clean|Dirty):/ { uss += $2 }
			END { printf "| %s | %.1f MiB | %.1f MiB | %.1f MiB |\n", name, rss / 1024, pss / 1024, uss / 1024 }' \
			"/proc/$pid/smaps_rollup"
	done
}
sleep 1
idle_rows=$(mem_rows)

curl -fsS -o /dev/null -H 'Content-Type: application/json' \
	-d '{"username":"bench","password":"bench-password-1"}' "$base/v1/auth/register"
token=$(curl -fsS -H 'Content-Type: application/json' \
	-d '{"username":"bench","password":"bench-password-1"}' "$base/v1/auth/login" |
	jq -r .access_token)
auth="Authorization: Bearer $token"
me=$(curl -fsS -H "$auth" "$base/v1/users/me" | jq -r .id)

# 30 days x 1,000 users x 5 models = 150,000 cells of 6 or 7 generations
# (1,000,000 in all), each with a few histogram buckets of time to first
# token and latency as the consumer writes them (rollup.c), DAU rows and
# per-day counts; user 0 is the bench user
today=$(date -u +%Y-%m-%d)
from=$(date -u -d "$today - 29 days" +%Y-%m-%d)
# store_sql: the SQL on stdin on analyticsd's store
case $CHAT_DATABASE in
postgres://* | postgresql://*)
	store_sql() {
		PGOPTIONS="-c search_path=analyticsd" psql -X -q -t -A \
			-v ON_ERROR_STOP=1 "$CHAT_DATABASE" -f -
	}
	day_of="to_char(date '$today' - i, 'YYYY-MM-DD')"
	user_of="'01938f4e-0000-7000-8000-' || lpad(i::text, 12, '0')"
	store_name=PostgreSQL
	;;
*)
	store_sql() {
		sqlite3 -cmd '.timeout 10000' "$full/analyticsd.db"
	}
	day_of="date('$today', '-' || i || ' days')"
	user_of="printf('01938f4e-0000-7000-8000-%012d', i)"
	store_name="SQLite (WAL)"
	;;
esac
store_sql >/dev/null <<SQL
BEGIN;
CREATE TEMP TABLE days AS
	WITH RECURSIVE d(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM d WHERE i < 29)
	SELECT i, $day_of AS day FROM d;
CREATE TEMP TABLE users AS
	WITH RECURSIVE u(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM u WHERE i < 999)
	SELECT i, CASE i WHEN 0 THEN '$me' ELSE $user_of END AS id FROM u;
CREATE TEMP TABLE models AS
	WITH RECURSIVE m(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM m WHERE i < 4)
	SELECT i, 'openai/bench-' || i AS name FROM m;
CREATE TEMP TABLE cells AS
	SELECT d.day, u.id AS user_id, m.name AS model,
		(d.i * 5000 + u.i * 5 + m.i) AS k,
		6 + CASE WHEN (d.i * 5000 + u.i * 5 + m.i) % 3 <> 0 THEN 1
			ELSE 0 END AS n
	FROM days d, users u, models m;
INSERT INTO usage_daily (day, user_id, model, requests, completed,
	failed, prompt_tokens, completion_tokens, cost_pusd, unpriced,
	conversations, messages)
	SELECT day, user_id, model, n,
		n - CASE WHEN k % 7 = 0 THEN 1 ELSE 0 END,
		CASE WHEN k % 7 = 0 THEN 1 ELSE 0 END,
		n * (20 + k % 200), n * (50 + k % 700), 0, n, k % 2, 2 * n
	FROM cells;
INSERT INTO usage_errors (day, user_id, model, error_class, count)
	SELECT day, user_id, model, 'upstream_timeout', 1 FROM cells
	WHERE k % 7 = 0;
INSERT INTO usage_hist (day, user_id, model, metric, bucket, count)
	SELECT day, user_id, model, metric, b + k % 20 + o, c
	FROM cells,
		(SELECT 't' AS metric, 280 AS b UNION ALL SELECT 'l', 370) AS mb,
		(SELECT 0 AS o, 3 AS c, 0 AS x UNION ALL SELECT 9, 2, 0
			UNION ALL SELECT 30, 1, 0 UNION ALL SELECT 45, 1, 1) AS oc
	WHERE x = 0 OR n = 7
	ORDER BY 1, 2, 3, 4, 5;
-- the per-day rollups the consumer keeps beside them (agg.c), as
-- migration 2 fills them from an existing store
INSERT INTO usage_model_daily (day, model, requests, completed, stopped,
	failed, prompt_tokens, completion_tokens, cost_pusd, unpriced,
	conversations, messages)
	SELECT day, model, SUM(requests), SUM(completed), SUM(stopped),
		SUM(failed), SUM(prompt_tokens), SUM(completion_tokens),
		SUM(cost_pusd), SUM(unpriced), SUM(conversations), SUM(messages)
	FROM usage_daily GROUP BY day, model;
INSERT INTO usage_user_daily (day, user_id, requests, completed, stopped,
	failed, prompt_tokens, completion_tokens, cost_pusd, unpriced,
	conversations, messages)
	SELECT day, user_id, SUM(requests), SUM(completed), SUM(stopped),
		SUM(failed), SUM(prompt_tokens), SUM(completion_tokens),
		SUM(cost_pusd), SUM(unpriced), SUM(conversations), SUM(messages)
	FROM usage_daily GROUP BY day, user_id;
INSERT INTO usage_errors_daily (day, error_class, count)
	SELECT day, error_class, SUM(count) FROM usage_errors
	GROUP BY day, error_class;
INSERT INTO usage_hist_daily (day, metric, bucket, count)
	SELECT day, metric, bucket, SUM(count) FROM usage_hist
	GROUP BY day, metric, bucket;
INSERT INTO active (day, user_id) SELECT d.day, u.id FROM days d, users u
	WHERE true ON CONFLICT DO NOTHING;
INSERT INTO daily (day, registrations, logins, failed_logins)
	SELECT day, 30, 3000, 40 FROM days WHERE true
	ON CONFLICT (day) DO UPDATE SET logins = excluded.logins;
COMMIT;
ANALYZE;
SQL
loaded=$(store_sql <<<"SELECT SUM(requests) || ' ' || COUNT(*) FROM usage_daily;
	 SELECT COUNT(*) FROM usage_hist;")
read -r total cells hist <<<"$(tr '\n' ' ' <<<"$loaded")"

# "p50 p99" in ms of Q GETs of a URL on one keep-alive connection (curl
# reuses it across the URLs of one command; the first 5 warm up); fails
# on a non-200
timed() {
	local url=$1 urls=() i
	for ((i = 0; i < n_calls + 5; i++)); do urls+=(-o /dev/null "$url"); done
	curl -s -H "$auth" -w '%{http_code} %{time_total}\n' "${urls[@]}" |
		tail -n "$n_calls" | python3 -c '
import sys
rows = [l.split() for l in sys.stdin]
bad = [r[0] for r in rows if r[0] != "200"]
if bad:
    sys.exit("bench: answered " + " ".join(sorted(set(bad))))
v = sorted(float(r[1]) * 1000 for r in rows)
pick = lambda q: v[min(len(v) - 1, int(q * len(v)))]
print(f"{pick(0.5):.1f} {pick(0.99):.1f}")'
}
range="from=$from&to=$today"
query_rows=
for path in "/v1/admin/analytics/usage?$range&group_by=user" \
	"/v1/admin/analytics/usage?$range&group_by=day" \
	"/v1/admin/analytics/usage?$range&group_by=model" \
	"/v1/admin/analytics/usage?$range&group_by=day&model=openai/bench-3" \
	"/v1/admin/analytics/usage?$range&group_by=day&user=$me" \
	"/v1/admin/analytics/usage?$range&group_by=user&model=openai/bench-3" \
	"/v1/users/me/usage?$range&group_by=day" \
	"/v1/users/me/usage?$range&group_by=model" \
	"/v1/admin/analytics/summary"; do
	read -r q50 q99 < <(timed "$base$path")
	echo "bench: GET $path: p50 $q50 ms, p99 $q99 ms" >&2
	query_rows+="| \`GET ${path//|/\\|}\` | $q50 | $q99 |"$'\n'
done

cat <<REPORT
## Event backbone and analytics benchmarks ($(date -u +%Y-%m-%d), $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -r))

Load average at the start: $load; at the end: $(cut -d' ' -f1-3 /proc/loadavg).
Store of the usage routes: $store_name; of the ingest: SQLite (WAL).

REPORT
if [[ -n $send_rows ]]; then
	cat <<REPORT
### The events' cost on the send path (bench/chat.sh ${BENCH_CHAT_ARGS:-2000 500 50}, one run each)

| build | added latency p50 ms | p99 ms | added TTFT p50 ms | p99 ms |
|---|---|---|---|---|
$send_rows

Target: no more than 5 % worse.

REPORT
fi
cat <<REPORT
### analyticsd's ingest from Kafka (librdkafka's mock cluster, 3 brokers, $parts partitions)

$n_events events ($n_gen generations: started, first_token, end) on
ai-events, put there by kcat (idempotent producer) in $produce_s s before
analyticsd started.  analyticsd from its start to every generation counted
and consumer lag 0: **$ingest_s s, $ingest_rate events/s** (of which
$start_s s until it answered /readyz, and $first_s s until its first batch
committed: the start, the consumer group's join and one batch); after
that first commit, **$steady_rate events/s**.  Its CPU time $a_cpu s, its
peak RSS $a_rss MiB.

Target: >= 50,000 events/s.

### Usage routes over 1,000,000 generations' rollups

$total generations in $cells usage rows and $hist histogram rows (30 days
x 1,000 users x 5 models), through the gateway, $n_calls calls each on one
connection:

| route | p50 ms | p99 ms |
|---|---|---|
${query_rows%$'\n'}

Target: <= 50 ms.

### Idle memory just after start (target: RSS <= 8 MiB each)

| daemon | RSS | PSS | USS |
|---|---|---|---|
$idle_rows
REPORT
