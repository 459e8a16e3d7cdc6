#!/usr/bin/env bash
# bench/syscalls.sh - the system calls each daemon makes over one
# bench/chat.sh run (issue 13's send path): `strace -c -f` attached to
# every daemon of chat.sh's stack once it is up, until the stack stops.
# Counts of fdatasync (one per commit with synchronous=FULL, plus
# checkpoints), pwrite64, pread64 and clock_nanosleep (one per wait of
# SQLite's busy handler) do not depend on the machine's load the way
# times do, so two builds compare on a busy machine.
#
# usage: bench/syscalls.sh CHECKOUT [CHAT.SH ARGUMENTS]
# CHECKOUT: a checkout built with make (its build/, bin/ and its own
# bench/chat.sh are used; an older one, such as the build from before
# the events, runs its own stack).  Default arguments "1000 300 10".
# Prints a Markdown table on stdout; the strace summaries stay in a
# temporary directory whose name goes to stderr.
set -euo pipefail

root=$(cd "${1:?usage: bench/syscalls.sh CHECKOUT [CHAT.SH ARGUMENTS]}" && pwd)
shift
(($#)) || set -- 1000 300 10
command -v strace >/dev/null || { echo "bench: strace is not installed" >&2; exit 1; }
out=$(mktemp -d /tmp/syscalls-bench.XXXXXX)
echo "bench: strace summaries in $out" >&2

known=$(ls -d /tmp/chat-bench.* 2>/dev/null || true)
CHAT_BUILD=$root/build CHAT_BIN=$root/bin "$root/bench/chat.sh" "$@" \
	>"$out/chat.md" 2>"$out/chat.err" &
bench=$!

# chat.sh's data directory: the chat-bench.* that was not there before
work=
for _ in $(seq 600); do
	for d in /tmp/chat-bench.*; do
		[[ -d $d ]] && ! grep -qxF "$d" <<<"$known" && work=$d
	done
	[[ -n $work && -e $work/data/run/gatewayd.pid ]] && break
	sleep 0.05
done
[[ -n $work ]] || { echo "bench: chat.sh's stack did not start" >&2; exit 1; }
# the stack is whole once its pid files stop coming
prev=-1
for _ in $(seq 100); do
	n=$(find "$work/data/run" -name '*.pid' | wc -l)
	[[ $n == "$prev" ]] && break
	prev=$n
	sleep 1
done
tracers=()
for f in "$work"/data/run/*.pid; do
	strace -c -f -p "$(<"$f")" -o "$out/$(basename "$f" .pid).txt" \
		2>/dev/null &
	tracers+=($!)
done
wait "$bench"
for pid in "${tracers[@]}"; do
	wait "$pid" || true
done

echo "| daemon | fdatasync | pwrite64 | pread64 | clock_nanosleep (s) |"
echo "|---|---|---|---|---|"
for f in "$out"/*.txt; do
	awk -v n="$(basename "$f" .txt)" '
		$NF ~ /^(fdatasync|pwrite64|pread64|clock_nanosleep)$/ {
			c[$NF] = $4; s[$NF] = $2
		}
		END {
			printf "| %s | %d | %d | %d | %d (%.2f) |\n", n,
				c["fdatasync"], c["pwrite64"], c["pread64"],
				c["clock_nanosleep"], s["clock_nanosleep"]
		}' "$f"
done
