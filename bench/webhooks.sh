#!/usr/bin/env bash
# bench/webhooks.sh - notifyd's webhook deliveries (issue 15): how many
# a second notifyd delivers to a local receiver, the p50/p99 from an
# event to its delivery at a steady 1,000 events a second (target p99
# <= 100 ms), and notifyd's idle RSS (target <= 8 MiB).
#
# A fresh stack on SQLite (CHAT_BENCH_DATABASE for another store) with
# notifyd.webhook_allow = 127.0.0.1/32; one user with one endpoint
# pointing at a Python receiver (ThreadingHTTPServer, HTTP/1.1
# keep-alive) that notes, for every delivery, its arrival and the
# CloudEvent's `time`.  The events are webhook.test messages
# (POST /v1/webhooks/{id}/test through the gateway, from a Python
# driver with keep-alive connections): each is a message and a job in
# notifyd's store like a backbone event's, so the time measured is the
# queue's and the delivery's, without the backbone's pull.
#   1. throughput: N events (default 10,000) sent as fast as 8
#      connections go; deliveries per second from the first send to
#      the last delivery;
#   2. latency: N events at RATE a second (default 1,000); p50, p99 and
#      max of arrival - event time.
# Idle RSS: notifyd's VmRSS after start, one endpoint made, 2 s quiet.
#
# usage: bench/webhooks.sh [N [RATE]]
# CHAT_BIN: a private build (make B=... BIN=...).
# Prints a Markdown report on stdout; docs/PERFORMANCE.md keeps numbers.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$here/bench/lib.sh"

n=${1:-10000}
rate=${2:-1000}
if [[ -z ${CHAT_BIN:-} ]]; then
	make -s -C "$here" all >/dev/null
	export CHAT_BIN=$here/bin
fi

work=$(mktemp -d /tmp/chat-webhooks.XXXXXX)
recv_pid=
cleanup() {
	[[ -z $recv_pid ]] || kill "$recv_pid" 2>/dev/null || true
	CHAT_DATA_DIR=$work/data CHAT_CONFIG=$work/chat.conf \
		"$here/scripts/stack" stop >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

# The receiver: POST counts a delivery (arrival - the event's time, in
# ms); GET /stats answers {count, first, last, lat:[...]} and resets.
cat >"$work/recv.py" <<'PY'
import json, sys, threading, time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
lock = threading.Lock()
st = {"count": 0, "first": 0.0, "last": 0.0, "lat": []}
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
        ev = (ev - datetime(1970, 1, 1)).total_seconds()
        with lock:
            st["count"] += 1
            st["first"] = st["first"] or now
            st["last"] = now
            st["lat"].append((now - ev) * 1000)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def do_GET(self):
        with lock:
            out = json.dumps(st).encode()
            st.update(count=0, first=0.0, last=0.0, lat=[])
        self.send_response(200)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.daemon_threads = True
print(srv.server_port, flush=True)
srv.serve_forever()
PY

# The driver: send N tests at RATE a second (0: as fast as possible)
# over 8 keep-alive connections; prints the wall time of the first send.
cat >"$work/drive.py" <<'PY'
import http.client, sys, threading, time
port, token, ep, n, rate = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
conns = 8
start = time.time() + 0.2
errors = [0]
def run(k):
    c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=30)
    for i in range(k, n, conns):
        if rate:
            d = start + i / rate - time.time()
            if d > 0:
                time.sleep(d)
        c.request("POST", "/v1/webhooks/%s/test" % ep, headers={"Authorization": "Bearer " + token})
        r = c.getresponse()
        r.read()
        if r.status != 202:
            errors[0] += 1
ts = [threading.Thread(target=run, args=(k,)) for k in range(conns)]
while time.time() < start:
    time.sleep(0.001)
for t in ts:
    t.start()
for t in ts:
    t.join()
print("%.6f %.6f %d" % (start, time.time(), errors[0]))
PY

python3 "$work/recv.py" >"$work/recv.port" 2>"$work/recv.log" &
recv_pid=$!
for ((i = 0; i < 100; i++)); do
	[[ -s $work/recv.port ]] && break
	sleep 0.05
done
recv_port=$(<"$work/recv.port")

port=$(free_port)
cat >"$work/chat.conf" <<EOF2
port = $port
data_dir = $work/data
database = ${CHAT_BENCH_DATABASE:-sqlite}
[auth]
argon2_ops = 1
argon2_mem_kib = 8
[notifyd]
webhook_allow = 127.0.0.1/32
EOF2
export CHAT_CONFIG=$work/chat.conf CHAT_DATA_DIR=$work/data
"$here/scripts/stack" start >/dev/null 3>&-
base=http://127.0.0.1:$port
curl -sf -o /dev/null -X POST "$base/v1/auth/register" -H 'Content-Type: application/json' \
	-d '{"username":"bench","password":"password-bench"}'
token=$(curl -sf -X POST "$base/v1/auth/login" -H 'Content-Type: application/json' \
	-d '{"username":"bench","password":"password-bench"}' | jq -r .access_token)
ep=$(curl -sf -X POST "$base/v1/webhooks" -H "Authorization: Bearer $token" \
	-H 'Content-Type: application/json' \
	-d "{\"url\":\"http://127.0.0.1:$recv_port/hook\",\"events\":[\"webhook.test\"]}" | jq -r .id)
sleep 2
pid=$(<"$work/data/run/notifyd.pid")
idle_kib=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")

# wait_all N: until the receiver counted N (polling its stats without
# resetting them: a GET resets, so it reads the log of counts instead)
stats() { curl -sf "http://127.0.0.1:$recv_port/stats"; }
wait_count() {
	local total=0 s i
	: >"$work/lat"
	for ((i = 0; i < 1200 && total < $1; i++)); do
		sleep 0.25
		s=$(stats)
		total=$((total + $(jq .count <<<"$s")))
		jq -r '.lat[]' <<<"$s" >>"$work/lat"
		[[ $(jq .last <<<"$s") != 0 ]] && jq .last <<<"$s" >"$work/last"
	done
	echo "$total"
}

stats >/dev/null
read -r t0 t1 errs < <(python3 "$work/drive.py" "$port" "$token" "$ep" "$n" 0)
got=$(wait_count "$n")
tput=$(python3 -c "print('%.0f' % ($got / ($(<"$work/last") - $t0)))")
send_rate=$(python3 -c "print('%.0f' % ($n / ($t1 - $t0)))")

read -r l0 l1 lerrs < <(python3 "$work/drive.py" "$port" "$token" "$ep" "$n" "$rate")
lgot=$(wait_count "$n")
read -r p50 p99 pmax < <(sort -n "$work/lat" | awk '{ v[NR] = $1 } END {
	printf "%.1f %.1f %.1f\n", v[int(NR * 0.5)], v[int(NR * 0.99)], v[NR] }')
achieved=$(python3 -c "print('%.0f' % ($n / ($l1 - $l0)))")

cat <<EOF3
### notifyd webhooks ($(date -u +%Y-%m-%d), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))

| measure | value | target |
|---|---|---|
| notifyd idle RSS | $((idle_kib / 1024)).$(((idle_kib % 1024) * 10 / 1024)) MiB | <= 8 MiB |
| deliveries per second ($n sent as fast as 8 connections go: $send_rate/s accepted, $errs errors) | $tput ($got delivered) | |
| event to delivery at $rate/s asked ($achieved/s sent, $lerrs errors): p50 / p99 / max | $p50 / $p99 / $pmax ms ($lgot delivered) | p99 <= 100 ms |
EOF3
