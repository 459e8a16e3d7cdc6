#!/usr/bin/env bash
# bench/webhooks.sh - notifyd's webhook fan-out (issue 15): events
# arriving on the event backbone delivered to a local receiver; how many
# a second, the p50/p99/max from an event to its delivery at a steady
# 1,000 events a second (target p99 <= 100 ms), every one exactly once,
# and notifyd's RSS idle (target <= 8 MiB), at its peak and idle again.
#
# The production path: librdkafka's mock cluster (tests/fixtures/kafka,
# as bench/events.sh for analyticsd) and a stack on SQLite
# (CHAT_BENCH_DATABASE for another store) with kafka.brokers set and
# notifyd.webhook_allow = 127.0.0.1/32; one user with one endpoint
# subscribed to chat.conversation.created, pointing at a Python receiver
# (HTTP/1.1 keep-alive, TCP_NODELAY) that notes, for every delivery, its
# webhook-id, its arrival and the CloudEvent's `time`.  The events are
# chat.conversation.created CloudEvents of that user, as chatd writes
# them (docs/events.md), put on chat-events by kcat (idempotent producer,
# linger 1 ms) from a Python pacer that stamps each event's `time` when
# it hands it over: notifyd's consumer group reads them, each batch is
# one transaction of its store that writes the inbox rows, the messages
# and the jobs, and the delivery threads send them.
#   1. throughput: N events (default 10,000) as fast as kcat takes them;
#      deliveries per second from the first event's time to the last
#      delivery;
#   2. latency: N events at RATE a second (default 1,000); p50, p99 and
#      max of arrival - event time.
#   3. the embedded transport (run first): N conversations made through
#      the API at RATE a second; chatd's events reach notifyd by its
#      long-poll of chatd's outbox; arrival - event time as in 2.
# Each part counts the deliveries and the distinct webhook-ids: all N,
# none twice, or the run fails.
# RSS: notifyd's VmRSS 2 s after start with the endpoint made (idle: no
# delivery thread runs), on the embedded transport (a stack of its own
# first, the default) and on Kafka (librdkafka's threads and buffers),
# its VmHWM after the runs (peak), and its VmRSS once the delivery
# threads ended (notifyd.webhook_idle_ms, 1 s here).
#
# usage: bench/webhooks.sh [N [RATE]]
# CHAT_BUILD/CHAT_BIN: a private build (make B=DIR/build BIN=DIR/bin).
# WEBHOOKS_BENCH_CONF: more lines of notifyd's config section
# ("webhook_workers = 8").
# WEBHOOKS_BENCH_FETCH_WAIT_MS (default 10): kafka.fetch_wait_ms of the
# stack and the kcat consumer's fetch.wait.max.ms.  librdkafka's mock
# cluster answers a fetch that found nothing only after that wait (a
# broker answers once data comes), so with librdkafka's 500 ms the bench
# measured the mock; 10 ms makes the mock's share small and leaves
# notifyd's.  Empty: the key is not written (a build without it).
# WEBHOOKS_BENCH_BATCH_MS: kafka.batch_ms (unset: the default).
# Needs kcat, jq, python3 and a build with librdkafka (scripts/deps.sh).
# Prints a Markdown report on stdout; docs/PERFORMANCE.md keeps numbers.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$here/bench/lib.sh"

n=${1:-10000}
rate=${2:-1000}
fetch_wait=${WEBHOOKS_BENCH_FETCH_WAIT_MS-10}
kafka_conf=
[[ -z $fetch_wait ]] || kafka_conf="fetch_wait_ms = $fetch_wait"
[[ -z ${WEBHOOKS_BENCH_BATCH_MS:-} ]] ||
	kafka_conf+=$'\n'"batch_ms = $WEBHOOKS_BENCH_BATCH_MS"
for tool in kcat jq python3 curl sqlite3; do
	command -v "$tool" >/dev/null ||
		{ echo "bench: $tool is not installed (scripts/deps.sh)" >&2; exit 1; }
done
build=${CHAT_BUILD:-$here/build}
if [[ -z ${CHAT_BIN:-} ]]; then
	make -s -C "$here" all >/dev/null
	export CHAT_BIN=$here/bin
fi
[[ -x $build/fixtures/kafka-mock ]] ||
	{ echo "bench: no $build/fixtures/kafka-mock (librdkafka-dev missing?)" >&2; exit 1; }

work=$(mktemp -d /tmp/chat-webhooks.XXXXXX)
recv_pid=
kafka_pid=
cleanup() {
	[[ -z $recv_pid ]] || kill "$recv_pid" 2>/dev/null || true
	local dir
	for dir in "$work/embedded" "$work/data"; do
		[[ -d $dir/run ]] || continue
		CHAT_DATA_DIR=$dir CHAT_CONFIG=$dir.conf \
			"$here/scripts/stack" stop >/dev/null 2>&1 || true
	done
	[[ -z $kafka_pid ]] || kill "$kafka_pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
load0=$(cut -d' ' -f1-3 /proc/loadavg)

# The receiver: POST notes a delivery (its webhook-id, the event's time
# and the arrival, in ms since the epoch); GET /stats answers {count,
# rows: [[id, event, arrival]...]} and resets.
cat >"$work/recv.py" <<'PY'
import json, sys, threading, time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
lock = threading.Lock()
def fresh():
    return {"count": 0, "rows": []}
st = fresh()
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # the head and body are two writes: without this, Nagle and the
    # client's delayed ACK hold every answer of a kept connection 40 ms
    disable_nagle_algorithm = True
    def log_message(self, *a):
        pass
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        now = time.time()
        t = json.loads(body)["time"]
        ev = datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ")
        ev = ev.replace(tzinfo=timezone.utc).timestamp()
        with lock:
            st["count"] += 1
            st["rows"].append([self.headers.get("webhook-id", ""),
                               ev * 1000, now * 1000])
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def do_GET(self):
        global st
        with lock:
            out = json.dumps(st).encode()
            st = fresh()
        self.send_response(200)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.daemon_threads = True
print(srv.server_port, flush=True)
srv.serve_forever()
PY

# The pacer: N chat.conversation.created events of USER as KEY<TAB>JSON
# lines on stdout, RATE a second (0: as fast as the pipe takes them),
# each stamped with the time it is written; prints the wall time of the
# first and the last on stderr.
cat >"$work/pace.py" <<'PY'
import json, os, sys, time
user, n, rate = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
def uuid7(ms):
    r = bytearray(os.urandom(10))
    r[0] = (r[0] & 0x0f) | 0x70
    r[2] = (r[2] & 0x3f) | 0x80
    h = f"{ms:012x}" + r.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
out = sys.stdout
start = time.time()
i = 0
while i < n:
    now = time.time()
    due = n if not rate else min(n, int((now - start) * rate) + 1)
    if due <= i:
        time.sleep(max(0.0, start + i / rate - now))
        continue
    lines = []
    while i < due:
        t = time.time()
        ms = int(t * 1000)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06dZ" % int((t % 1) * 1e6)
        cid = uuid7(ms)
        ev = {"specversion": "1.0", "id": uuid7(ms), "source": "/chat/chatd",
              "type": "chat.conversation.created", "time": stamp,
              "subject": "conversations/" + cid,
              "datacontenttype": "application/json", "userid": user,
              "data": {"conversation_id": cid, "model": None,
                       "archived": False}}
        lines.append(user + "\t" + json.dumps(ev, separators=(",", ":")) + "\n")
        i += 1
        if not rate and len(lines) >= 500:
            break
    out.write("".join(lines))
    out.flush()
print("%.6f %.6f" % (start, time.time()), file=sys.stderr)
PY

# the mock cluster: 3 brokers, 4 partitions a topic (it keeps 5 MB a
# partition, the events are ~400 bytes)
mkdir -p "$work/kafka"
"$build/fixtures/kafka-mock" -n 4 -c "$work/kafka/ctl" >"$work/kafka/out" \
	2>"$work/kafka/log" 3>&- &
kafka_pid=$!
for _ in $(seq 200); do [[ -s $work/kafka/out ]] && break; sleep 0.05; done
brokers=$(head -n 1 "$work/kafka/out")
[[ $brokers == 127.0.0.1:* ]] ||
	{ echo "bench: kafka-mock did not start" >&2; cat "$work/kafka/log" >&2; exit 1; }

python3 "$work/recv.py" >"$work/recv.port" 2>"$work/recv.log" 3>&- &
recv_pid=$!
for ((i = 0; i < 100; i++)); do
	[[ -s $work/recv.port ]] && break
	sleep 0.05
done
recv_port=$(<"$work/recv.port")

# stack_up DIR [BROKERS]: a fresh stack in DIR (Kafka when BROKERS is
# given, else the embedded transport) with the bench user and its
# endpoint; sets base, user, pid (notifyd's)
stack_up() {
	local port token
	port=$(free_port)
	cat >"$1.conf" <<EOF2
port = $port
data_dir = $1
database = ${CHAT_BENCH_DATABASE:-sqlite}
log_level = warn
[kafka]
$kafka_conf
[auth]
argon2_ops = 1
argon2_mem_kib = 8
[notifyd]
webhook_allow = 127.0.0.1/32
webhook_idle_ms = 1000
${WEBHOOKS_BENCH_CONF:-}
EOF2
	CHAT_CONFIG=$1.conf CHAT_DATA_DIR=$1 CHAT_KAFKA_BROKERS=${2:-} \
		"$here/scripts/stack" start >/dev/null 3>&-
	base=http://127.0.0.1:$port
	curl -sf -o /dev/null -X POST "$base/v1/auth/register" -H 'Content-Type: application/json' \
		-d '{"username":"bench","password":"password-bench"}'
	token=$(curl -sf -X POST "$base/v1/auth/login" -H 'Content-Type: application/json' \
		-d '{"username":"bench","password":"password-bench"}' | jq -r .access_token)
	user=$(curl -sf "$base/v1/users/me" -H "Authorization: Bearer $token" | jq -r .id)
	tok=$token
	curl -sf -o /dev/null -X POST "$base/v1/webhooks" -H "Authorization: Bearer $token" \
		-H 'Content-Type: application/json' \
		-d "{\"url\":\"http://127.0.0.1:$recv_port/hook\",\"events\":[\"chat.conversation.created\"]}"
	pid=$(<"$1/run/notifyd.pid")
}
kib() { awk -v k="$1" '$1 == k ":" { printf "%.1f", $2 / 1024 }' "/proc/$pid/status"; }

# idle RSS on the embedded transport (the default), then on Kafka
stack_up "$work/embedded"
emb_tok=$tok
sleep 2
idle_rss=$(kib VmRSS)
embedded_pending=1
stack_up "$work/data" "$brokers"
sleep 2
idle_kafka_rss=$(kib VmRSS)
idle_threads=$(awk '/^Threads:/ { print $2 }' "/proc/$pid/status")

stats() { curl -sf "http://127.0.0.1:$recv_port/stats"; }
# wait_count N: polls the receiver (each poll resets it) until it
# counted N deliveries or none came for 30 s; leaves "webhook-id
# event_ms arrival_ms" lines in $work/rows; prints the count
wait_count() {
	local total=0 quiet=0 s c
	: >"$work/rows"
	while ((total < $1 && quiet < 120)); do
		sleep 0.25
		s=$(stats)
		c=$(jq .count <<<"$s")
		if ((c == 0)); then ((++quiet)); continue; fi
		quiet=0
		total=$((total + c))
		jq -r '.rows[] | "\(.[0]) \(.[1]) \(.[2])"' <<<"$s" >>"$work/rows"
	done
	echo "$total"
}
# summary: "distinct per_s p50 p99 max sp50 sp99 dp50 dp99" of the last
# wait_count's rows: webhook-ids, deliveries a second from the first
# event to the last arrival, event to arrival in ms, and on SQLite its
# two halves: event to the message stored by notifyd's consumer batch
# (webhook_messages.created_ms: the backbone's share), stored to arrival
# (notifyd's queue and delivery); "-" where not known
summary() {
	if [[ ${CHAT_BENCH_DATABASE:-sqlite} == sqlite ]]; then
		sqlite3 "${notify_db:-$work/data/notifyd.db}" \
			"SELECT id, created_ms FROM webhook_messages" >"$work/stored"
	else
		: >"$work/stored"
	fi
	python3 - "$work/rows" "$work/stored" <<'PY2'
import sys
rows = [l.split() for l in open(sys.argv[1])]
stored = dict(l.strip().split("|") for l in open(sys.argv[2]) if "|" in l)
def pct(v, q):
    v = sorted(v)
    return "%.1f" % v[min(len(v) - 1, int(q * len(v)))] if v else "-"
lat = [float(a) - float(e) for _, e, a in rows]
first = min(float(e) for _, e, _ in rows)
last = max(float(a) for _, _, a in rows)
s1 = [float(stored[i]) - float(e) for i, e, _ in rows if i in stored]
s2 = [float(a) - float(stored[i]) for i, _, a in rows if i in stored]
print(len(set(r[0] for r in rows)), "%.0f" % (len(rows) / ((last - first) / 1000)),
      pct(lat, .5), pct(lat, .99), "%.1f" % max(lat),
      pct(s1, .5), pct(s1, .99), pct(s2, .5), pct(s2, .99))
PY2
}
# produce N RATE: the pacer into kcat
produce() {
	python3 "$work/pace.py" "$user" "$1" "$2" 2>"$work/pace.times" |
		kcat -P -q -b "$brokers" -t chat-events -K $'\t' \
			-X enable.idempotence=true -X linger.ms=1
}

# 3. the embedded transport (no Kafka, the default): chatd's own
# chat.conversation.created events, made through the API (N
# conversations at RATE a second, chatbench on one keep-alive
# connection), each stamped by chatd at its emit; notifyd long-polls
# chatd's outbox.  Run first, on the stack made for the idle RSS.
if [[ -n ${embedded_pending:-} ]]; then
	emb_base=$(grep '^port' "$work/embedded.conf" | awk '{print "http://127.0.0.1:" $3}')
	for ((i = 0; i < 20; i++)); do
		curl -sf -o /dev/null -X POST "$emb_base/v1/conversations" \
			-H "Authorization: Bearer $emb_tok" -H 'Content-Type: application/json' -d '{}'
	done
	ewarm=$(wait_count 20)
	((ewarm == 20)) || { echo "bench: embedded warm-up delivered $ewarm of 20" >&2; exit 1; }
	"$build/bench/chatbench" latency -n "$n" -r "$rate" \
		-H "Authorization: Bearer $emb_tok" -d '{}' \
		"$emb_base/v1/conversations" >"$work/emb.bench"
	egot=$(wait_count "$n")
	read -r euniq _ e50 e99 emax es50 es99 ed50 ed99 < <(notify_db=$work/embedded/notifyd.db summary)
	eper_s=$(jq -r '.per_s | floor' "$work/emb.bench")
	CHAT_DATA_DIR=$work/embedded "$here/scripts/stack" stop >/dev/null
fi

# warm-up: until notifyd's consumer has its partitions and the receiver
# its connections
produce 20 0
warm=$(wait_count 20)
((warm == 20)) || { echo "bench: warm-up delivered $warm of 20" >&2; exit 1; }

produce "$n" 0
got=$(wait_count "$n")
read -r uniq tput t50 t99 tmax ts50 ts99 td50 td99 < <(summary)
read -r p0 p1 <"$work/pace.times"
send_rate=$(python3 -c "print('%.0f' % ($n / ($p1 - $p0)))")

# the mock cluster's own share, on the same events: a plain kcat consumer
# (the same fetch.wait.max.ms as notifyd's) notes when each one reached
# it
kcat -C -q -u -b "$brokers" -t chat-events -o end -f '%s\n' \
	-X "fetch.wait.max.ms=${fetch_wait:-500}" 2>/dev/null |
	python3 -c '
import json, sys, time
from datetime import datetime, timezone
n, lat = int(sys.argv[1]), []
for line in sys.stdin:
    now = time.time()
    t = json.loads(line)["time"]
    ev = datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ")
    lat.append((now - ev.replace(tzinfo=timezone.utc).timestamp()) * 1000)
    if len(lat) >= n:
        break
lat.sort()
print("%.1f %.1f" % (lat[len(lat) // 2], lat[int(len(lat) * 0.99)]) if lat else "- -")
' "$n" >"$work/mock.lat" 3>&- &
mock_pid=$!
sleep 2
produce "$n" "$rate"
lgot=$(wait_count "$n")
for ((i = 0; i < 100; i++)); do
	[[ -s $work/mock.lat ]] && break
	sleep 0.1
done
read -r m50 m99 <"$work/mock.lat" || { m50=-; m99=-; }
kill "$mock_pid" 2>/dev/null || true
read -r luniq _ p50 p99 pmax s50 s99 d50 d99 < <(summary)
read -r l0 l1 <"$work/pace.times"
achieved=$(python3 -c "print('%.0f' % ($n / ($l1 - $l0)))")
peak_rss=$(kib VmHWM)
for ((i = 0; i < 100; i++)); do
	[[ $(awk '/^Threads:/ { print $2 }' "/proc/$pid/status") -le $idle_threads ]] && break
	sleep 0.1
done
after_rss=$(kib VmRSS)
load1=$(cut -d' ' -f1-3 /proc/loadavg)

((got == n && uniq == n && lgot == n && luniq == n && egot == n &&
  euniq == n)) ||
	echo "bench: NOT EXACTLY ONCE: $got/$uniq, $lgot/$luniq and" \
		"$egot/$euniq (embedded) of $n" >&2

fw_label=${fetch_wait:-"500 (librdkafka's default)"}
cat <<EOF3
### notifyd webhook fan-out from Kafka ($(date -u '+%Y-%m-%d %H:%M'), $(nproc) cores, load $load0 at the start, $load1 at the end; fetch.wait.max.ms $fw_label)

| measure | value | target |
|---|---|---|
| notifyd idle RSS (2 s after start, endpoint made): embedded transport / Kafka | $idle_rss / $idle_kafka_rss MiB | <= 8 MiB |
| deliveries per second ($n events as fast as kcat takes them: $send_rate/s produced) | $tput ($got delivered, $uniq distinct webhook-ids) | |
| (that run: event to delivery p50 / p99 / max; event to stored p50 / p99; stored to delivery p50 / p99) | $t50 / $t99 / $tmax; $ts50 / $ts99; $td50 / $td99 ms | |
| event to delivery at $rate/s ($achieved/s produced): p50 / p99 / max | $p50 / $p99 / $pmax ms ($lgot delivered, $luniq distinct) | p99 <= 100 ms |
| of which event to stored (the backbone and the consumer's batch): p50 / p99 | $s50 / $s99 ms | |
| (the mock cluster alone, the same events to a kcat consumer: p50 / p99) | $m50 / $m99 ms | |
| of which stored to delivery (notifyd's queue and delivery): p50 / p99 | $d50 / $d99 ms | |
| notifyd peak RSS (VmHWM) / idle again (threads ended) | $peak_rss / $after_rss MiB | |
| embedded transport: event to delivery at $rate/s ($eper_s/s made through the API): p50 / p99 / max | $e50 / $e99 / $emax ms ($egot delivered, $euniq distinct) | p99 <= 100 ms |
| of which event to stored (chatd's outbox, the long-poll, the batch): p50 / p99; stored to delivery p50 / p99 | $es50 / $es99; $ed50 / $ed99 ms | |
EOF3
