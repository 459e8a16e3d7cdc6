#!/usr/bin/env bash
# bench/chatui.sh - chatui's benchmarks (issue 4), rerunnable by anyone
# on one machine.  Starts a stack on SQLite in a temporary data dir (the
# echo model at 5 ms a word, i.e. 200 tokens/s), logs a user in with
# chatctl, and runs the real chatui in a private tmux server (100x30,
# tmux-256color) with CHATUI_TRACE, measuring:
#
#  1. start to first frame: first_frame_ms of the trace (from main() to
#     the first paint written out), plus the cost of starting the binary
#     before main (exec, the dynamic loader; measured as the wall time of
#     `chatui --version`, an upper bound since it includes exiting);
#     R runs (default 20);
#  2. opening a 10,000-message conversation (rows put straight into
#     chatd's SQLite store: user and assistant turns, Markdown with lists
#     and code blocks in the answers): open_ms of the trace, from the
#     request to chatd to the paint that shows the conversation (chatui
#     asks for the newest 200 messages and pages back on demand); R runs
#     with -c, and R opens from the list (Ctrl-O, Enter);
#  3. the memory of chatui with that conversation open (VmRSS, VmHWM):
#     after opening, after paging up 50 times (earlier pages load in the
#     background), after Home (every page loaded: the wall time from the
#     key to the first message on the screen is measured too) and End;
#  4. keystroke to screen: key_to_paint_ms of the trace (from reading a
#     key to the paint that shows it), K keys one at a time (default 60),
#     with the 10,000-message conversation open, idle and while an answer
#     streams at 200 tokens/s; and from outside, tmux send-keys until
#     capture-pane shows the character (an upper bound: tmux's own
#     parsing and redraw, and the polling, are in it);
#  5. CPU of chatui while a 200 tokens/s answer streams into the pane
#     (W words, default 2000: 10 s), from /proc/PID/stat utime+stime
#     between the first and last streamed word.
#
# usage: bench/chatui.sh [R [K [W]]]
# CHAT_BIN: measure a private build (make B=DIR/build BIN=DIR/bin).
# Prints a Markdown report on stdout; docs/PERFORMANCE.md keeps numbers.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${1:-20}
nkeys=${2:-60}
nwords=${3:-2000}
nmsgs=10000
bin=${CHAT_BIN:-$here/bin}
[[ -n ${CHAT_BIN:-} ]] || make -s -C "$here" all >/dev/null
export CHAT_BIN=$bin
command -v tmux >/dev/null || { echo "chatui.sh: needs tmux" >&2; exit 1; }

work=$(mktemp -d /tmp/chatui-bench.XXXXXX)
sock=chatui-bench-$$
tm() { tmux -L "$sock" -f /dev/null "$@"; }
cleanup() {
	tm kill-server 2>/dev/null || true
	CHAT_DATA_DIR=$work/data "$here/scripts/stack" stop >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

# shellcheck source=bench/lib.sh
source "$here/bench/lib.sh"

port=$(free_port)
cat >"$work/chat.conf" <<CONF
log_level = warn
[auth]
argon2_ops = 1
argon2_mem_kib = 8
[userd]
access_ttl_s = 86400
[aid]
echo_delay_ms = 5
CONF
export CHAT_CONFIG=$work/chat.conf CHAT_DATA_DIR=$work/data CHAT_PORT=$port
export XDG_CONFIG_HOME=$work/xdg LC_ALL=C.UTF-8
"$here/scripts/stack" start >/dev/null
base=http://127.0.0.1:$port
curl -fsS -o /dev/null -H 'Content-Type: application/json' \
	-d '{"username":"bench","password":"bench-password-1"}' "$base/v1/auth/register"
echo bench-password-1 | "$bin/chatctl" --server "$base" login bench \
	--password-stdin >/dev/null 2>&1
token=$(jq -r .access_token "$XDG_CONFIG_HOME/chat/credentials")
auth="Authorization: Bearer $token"
user_id=$(curl -fsS -H "$auth" "$base/v1/users/me" | jq -r '.id // .user.id')

# ---- helpers ----

trace=$work/trace
# ui_start NAME [CHATUI-ARG...]: chatui in a new 100x30 session; the
# pane's process is chatui itself (exec), so pane_pid is its pid.
ui_start() {
	local name=$1
	shift
	tm new-session -d -s "$name" -x 100 -y 30 \
		"exec env TERM=tmux-256color CHATUI_TRACE=$trace $(printf '%q ' "$bin/chatui" -s "$base" "$@") 2>>$work/chatui.err"
}
# a session that lives as long as the server: killing the last chatui
# session would make the server exit under the next new-session
tm new-session -d -s keep -x 100 -y 30 'sleep 86400'
ui_pid() { tm display-message -p -t "$1" '#{pane_pid}'; }
screen() { tm capture-pane -p -t "$1"; }
wait_for() {	# NAME ERE [SECONDS]
	local i
	for ((i = 0; i < ${3:-20} * 200; i++)); do
		screen "$1" | grep -Eq -- "$2" && return 0
		sleep 0.005
	done
	echo "chatui.sh: timed out waiting for /$2/ in $1:" >&2
	screen "$1" >&2
	return 1
}
wait_gone() {	# NAME ERE [SECONDS]
	local i
	for ((i = 0; i < ${3:-30} * 200; i++)); do
		screen "$1" | grep -Eq -- "$2" || return 0
		sleep 0.005
	done
	echo "chatui.sh: timed out waiting for /$2/ to go in $1" >&2
	return 1
}
# wait_trace KEY N: until the trace has N lines of KEY.
wait_trace() {
	local i
	for ((i = 0; i < 4000; i++)); do
		(($(grep -c "^$1 " "$trace" 2>/dev/null || true) >= $2)) && return 0
		sleep 0.005
	done
	echo "chatui.sh: the trace has no $1 line" >&2
	return 1
}
# stats: "p50 p95 max" (3 decimals) of the numbers on stdin.
stats() {
	sort -g | awk '{ v[NR] = $1 } END {
		if (!NR) { print "- - -"; exit }
		i50 = int((NR + 1) * 0.50); i95 = int(NR * 0.95 + 0.999)
		if (i50 < 1) i50 = 1; if (i95 > NR) i95 = NR
		printf "%.2f %.2f %.2f\n", v[i50], v[i95], v[NR] }'
}
trace_vals() { awk -v k="$1" '$1 == k { print $2 }' "$trace"; }
ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
kill_ui() { tm kill-session -t "$1" 2>/dev/null || true; }

# ---- 1. start to first frame ----
: >"$trace"
for ((i = 0; i < runs; i++)); do
	ui_start s$i
	wait_trace first_frame_ms $((i + 1))
	kill_ui s$i
done
read -r ff50 ff95 ffmax < <(trace_vals first_frame_ms | stats)
# wall time of a command in ms, from bash's clock (no fork to read it)
wall() {
	local i s e
	for ((i = 0; i < runs; i++)); do
		s=${EPOCHREALTIME/./}
		"$@" >/dev/null
		e=${EPOCHREALTIME/./}
		echo "$((e - s))"
	done | awk '{ print $1 / 1000 }' | stats
}
read -r pre50 pre95 premax < <(wall "$bin/chatui" --version)
read -r true50 true95 truemax < <(wall /bin/true)

# ---- 2. a 10,000-message conversation ----
conv=$(curl -fsS -H "$auth" -H 'Content-Type: application/json' \
	-d '{"title":"ten thousand"}' "$base/v1/conversations" | jq -r .id)
sqlite3 -cmd '.timeout 5000' "$CHAT_DATA_DIR/chatd.db" <<SQL
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $nmsgs)
INSERT INTO messages (id, conversation_id, user_id, parent_id, role, content,
	model, status, created_at, updated_at)
SELECT printf('01900000-0000-7000-8000-%012x', i), '$conv', '$user_id',
	CASE WHEN i = 1 THEN NULL ELSE printf('01900000-0000-7000-8000-%012x', i - 1) END,
	CASE WHEN i % 2 = 1 THEN 'user' ELSE 'assistant' END,
	CASE WHEN i % 2 = 1 THEN printf('Question %d: how does the part number %d work, and why?', i, i)
	WHEN i % 10 = 0 THEN printf('Answer %d, with **emphasis** and a list:%c%c- one item%c- two \`code\`%c%c\`\`\`c%cint f(int x) { return x * %d; } /* %d */%c\`\`\`%c',
		i, 10, 10, 10, 10, 10, 10, i, i, 10, 10)
	ELSE printf('Answer %d: a paragraph of prose long enough to wrap over two or three rows of the pane, with *some* emphasis, \`inline code\` and a [link](https://example.com/%d).', i, i) END,
	CASE WHEN i % 2 = 1 THEN NULL ELSE 'echo' END,
	'complete', 1700000000000 + i, 1700000000000 + i
FROM n;
UPDATE conversations SET current_leaf_id = printf('01900000-0000-7000-8000-%012x', $nmsgs),
	updated_at = 1700000000000 + $nmsgs WHERE id = '$conv';
COMMIT;
SQL
got=$(curl -fsS -H "$auth" "$base/v1/conversations/$conv" | jq '.messages | length')
[[ $got == "$nmsgs" ]] || { echo "chatui.sh: the conversation has $got messages" >&2; exit 1; }
size=$(curl -fsS -H "$auth" "$base/v1/conversations/$conv" | wc -c)
api_ms=$(for ((i = 0; i < 5; i++)); do
	curl -fsS -o /dev/null -w '%{time_total}\n' -H "$auth" "$base/v1/conversations/$conv"
done | awk '{ print $1 * 1000 }' | stats)
# what chatui asks for: the newest 200
page_size=$(curl -fsS -H "$auth" "$base/v1/conversations/$conv?messages=200" | wc -c)
page_ms=$(for ((i = 0; i < 5; i++)); do
	curl -fsS -o /dev/null -w '%{time_total}\n' -H "$auth" "$base/v1/conversations/$conv?messages=200"
done | awk '{ print $1 * 1000 }' | stats)

: >"$trace"
for ((i = 0; i < runs; i++)); do
	ui_start o$i -c "$conv"
	wait_trace open_ms $((i + 1))
	kill_ui o$i
done
read -r op50 op95 opmax < <(trace_vals open_ms | stats)
read -r off50 off95 offmax < <(trace_vals first_frame_ms | stats)

# from the list: an empty new conversation, then Ctrl-O, Enter (the
# list's first row is the big one)
: >"$trace"
ui_start L
wait_for L '^ten thousand'
for ((i = 0; i < runs; i++)); do
	tm send-keys -t L C-n
	wait_for L '│ new conversation'
	tm send-keys -t L C-o Enter
	wait_trace open_ms $((i + 1))
	wait_for L '│ ten thousand'
done
read -r ol50 ol95 olmax < <(trace_vals open_ms | stats)

# ---- 3. memory with it open ----
pid=$(ui_pid L)
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$pid/status"; }
loaded() { awk '$1 == "msgs_loaded" { n = $2 } END { print n }' "$trace"; }
rss_open=$(rss)
loaded_open=$(loaded)
tm send-keys -t L Tab
for ((i = 0; i < 50; i++)); do tm send-keys -t L PPage; done
sleep 0.5
rss_paged=$(rss)
loaded_paged=$(loaded)
s=${EPOCHREALTIME/./}
tm send-keys -t L Home
wait_for L 'Question 1: how does'
e=${EPOCHREALTIME/./}
home_ms=$(((e - s) / 1000))
for ((i = 0; i < 4000; i++)); do
	grep -q '^msgs_loaded [0-9]* complete$' "$trace" && break
	sleep 0.005
done
rss_home=$(rss)
read -r old50 old95 oldmax < <(trace_vals older_ms | stats)
nolder=$(grep -c '^older_ms' "$trace" || true)
tm send-keys -t L End
wait_for L "Answer $nmsgs"
sleep 0.2
rss_after=$(rss)
hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status")
tm send-keys -t L Escape Escape

# ---- 4. keystroke to screen, idle, with the big conversation open ----
# the keys go one at a time, each after the last is on the screen
: >"$trace"
typed=""
ext=()
lines=0
for ((i = 0; i < nkeys; i++)); do
	if ((${#typed} >= 40)); then	# within one row of the input
		tm send-keys -t L C-u
		wait_trace key_to_paint_ms $((++lines))
		typed=""
	fi
	c=$(printf "\\x$(printf %x $((97 + i % 26)))")
	typed+=$c
	s=${EPOCHREALTIME/./}
	tm send-keys -t L -l "$c"
	wait_for L "│ $typed *\$" 5
	e=${EPOCHREALTIME/./}
	ext+=($((e - s)))
	wait_trace key_to_paint_ms $((++lines))
done
read -r k50 k95 kmax < <(trace_vals key_to_paint_ms | stats)
read -r e50 e95 emax < <(printf '%s\n' "${ext[@]}" | awk '{ print $1 / 1000 }' | stats)
tm send-keys -t L C-u

# ---- 5. CPU while a 200 tokens/s answer streams (a new conversation) ----
seq -f 'w%g' -s ' ' 1 "$nwords" | tr -d '\n' >"$work/words"
stream_cpu() {	# NAME: fills cpu_pct, stream_s, tps
	local name=$1 t0 t1 c0 c1 p
	p=$(ui_pid "$name")
	tm send-keys -t "$name" C-n
	tm load-buffer -b w "$work/words"
	tm paste-buffer -p -b w -t "$name"
	wait_for "$name" "w$nwords *\$"
	tm send-keys -t "$name" Enter
	# the status line's "streaming" (the message's header scrolls away)
	wait_for "$name" '@http.*│ streaming' 10
	c0=$(ticks "$p")
	t0=$(now_ms)
	wait_gone "$name" '@http.*│ streaming' 60
	t1=$(now_ms)
	c1=$(ticks "$p")
	stream_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1000 }')
	cpu_pct=$(awk -v c="$((c1 - c0))" -v hz="$hz" -v s="$stream_s" \
		'BEGIN { printf "%.1f", 100 * c / hz / s }')
	tps=$(awk -v n="$nwords" -v s="$stream_s" 'BEGIN { printf "%.0f", n / s }')
}
ui_start S
wait_for S 'bench@.*connected'
stream_cpu S
cpu1=$cpu_pct s1=$stream_s tps1=$tps
# and once more, for the spread
stream_cpu S
cpu2=$cpu_pct s2=$stream_s tps2=$tps
sleep 1
idle0=$(ticks "$(ui_pid S)")
sleep 10
idle1=$(ticks "$(ui_pid S)")
idle_pct=$(awk -v c="$((idle1 - idle0))" -v hz="$hz" 'BEGIN { printf "%.1f", 100 * c / hz / 10 }')

# keys while it streams: one every 50 ms, each waited for in the trace
tm send-keys -t S C-n
tm load-buffer -b w "$work/words"
tm paste-buffer -p -b w -t S
wait_for S "w$nwords *\$"
tm send-keys -t S Enter
wait_for S '@http.*│ streaming' 10
: >"$trace"
for ((i = 0; i < nkeys; i++)); do
	tm send-keys -t S -l x
	wait_trace key_to_paint_ms $((i + 1))
	sleep 0.05
done
streaming_at_end=$(screen S | grep -c '@http.*│ streaming' || true)
read -r ks50 ks95 ksmax < <(trace_vals key_to_paint_ms | stats)

ok() { awk -v v="$1" -v t="$2" 'BEGIN { print (v <= t) ? "met" : "NOT met" }'; }
cat <<EOF
## chatui (issue 4): $(date -u +%Y-%m-%d), $(nproc) CPUs, $(uname -r)

Command: \`bench/chatui.sh $runs $nkeys $nwords\`; chatui in tmux $(tmux -V | cut -d' ' -f2), 100x30, TERM=tmux-256color; stack on SQLite, echo model at 5 ms a word.

| measure | p50 | p95 | max | target | |
|---|---|---|---|---|---|
| start to first frame: main() to first paint (trace, $runs runs) | $ff50 ms | $ff95 ms | $ffmax ms | | |
| ... plus starting the binary (\`chatui --version\` wall time) | $pre50 ms | $pre95 ms | $premax ms | | |
| ... (for scale: \`/bin/true\` wall time) | $true50 ms | $true95 ms | $truemax ms | | |
| start to first frame, sum of p95s | | $(awk -v a="$ff95" -v b="$pre95" 'BEGIN { printf "%.2f", a + b }') ms | | ≤ 50 ms | $(ok "$(awk -v a="$ff95" -v b="$pre95" 'BEGIN { print a + b }')" 50) |
| open $nmsgs messages with -c (open_ms: request to paint, $runs runs) | $op50 ms | $op95 ms | $opmax ms | ≤ 100 ms | $(ok "$op95" 100) |
| ... first frame of those runs | $off50 ms | $off95 ms | $offmax ms | | |
| open $nmsgs messages from the list (Ctrl-O Enter, $runs runs) | $ol50 ms | $ol95 ms | $olmax ms | ≤ 100 ms | $(ok "$ol95" 100) |
| ... the GET chatui makes (\`?messages=200\`, curl, $page_size bytes, 5 runs) | ${page_ms%% *} ms | | | | |
| ... for scale, the whole branch's GET (curl, $size bytes, 5 runs) | ${api_ms%% *} ms | | | | |
| a page of earlier messages (older_ms: request to paint, $nolder pages) | $old50 ms | $old95 ms | $oldmax ms | | |
| keystroke to paint, idle, $nmsgs messages open (trace, $nkeys keys) | $k50 ms | $k95 ms | $kmax ms | ≤ 16 ms | $(ok "$k95" 16) |
| keystroke to tmux's screen, idle (send-keys to capture-pane, upper bound) | $e50 ms | $e95 ms | $emax ms | | |
| keystroke to paint while 200 tokens/s stream (trace, $nkeys keys) | $ks50 ms | $ks95 ms | $ksmax ms | ≤ 16 ms | $(ok "$ks95" 16) |

- CPU of chatui while a $nwords-word answer streamed: **$cpu1%** of a core over $s1 s ($tps1 tokens/s measured); again (a second new conversation): **$cpu2%** over $s2 s ($tps2 tokens/s). Target ≤ 5%: $(ok "$(awk -v a="$cpu1" -v b="$cpu2" 'BEGIN { print (a > b ? a : b) }')" 5). Idle afterwards (10 s): $idle_pct%.
- Home in the $nmsgs-message conversation: the first message on the screen $home_ms ms after the key (send-keys to capture-pane; every earlier page loaded on the way).
- Memory of chatui with the $nmsgs-message conversation open: VmRSS $((rss_open / 1024)) MiB ($rss_open KiB) after opening ($loaded_open messages loaded), $((rss_paged / 1024)) MiB ($rss_paged KiB) after paging up 50 times ($loaded_paged loaded), $((rss_home / 1024)) MiB ($rss_home KiB) after Home (all $nmsgs), $((rss_after / 1024)) MiB after End; VmHWM $((hwm / 1024)) MiB.
- The answer was still streaming when the last key of the streaming run was painted: $([[ $streaming_at_end -gt 0 ]] && echo yes || echo "no (the stream ended first: fewer keys fell inside it)").
EOF
