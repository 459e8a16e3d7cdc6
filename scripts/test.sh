#!/usr/bin/env bash
# test.sh - runs the test suites and prints one closing line
# "N passed, N failed".
#
#   scripts/test.sh        unit tests (every build/tests/test-*, cmocka),
#                          short runs of the fuzz targets (scripts/fuzz
#                          --suite, one test each), then the bats suites
#                          of tests/integration twice: on SQLite and on a
#                          throwaway PostgreSQL server
#   scripts/test.sh unit   only the unit tests
#   scripts/test.sh fuzz   only the fuzz targets' short runs
#
# CHAT_TEST_STORES lists the stores the bats suites run on ("sqlite
# postgresql", the default; "sqlite" alone for a second build whose
# store code the first run already covered, as .ci/run's sanitizer part
# does).  CHAT_TEST_FUZZ=0 leaves the fuzz targets out (they are built
# with their own sanitizers, so one of CI's two parts runs them).
#
# A bats test that runs longer than BATS_TEST_TIMEOUT seconds (300 unless
# set) is stopped and fails: a test that hangs must not hold CI up.
#
# Bats files tagged store:any (they drive a client, the browser or
# chatui, or serve static files) run on PostgreSQL only with
# CHAT_TEST_ALL_STORES=1: the store under them is the API's, which the
# other files cover on both stores.
#
# CHAT_TEST_JOBS: how many bats files run at once (2 unless
# set; needs GNU parallel, else one at a time).  The tests of a file
# always run in order, on the file's one stack.
#
# A PostgreSQL server is started with scripts/pg-test for the run and
# stopped on exit; unit tests find it in CHAT_TEST_PG_URI, the bats
# helper in CHAT_TEST_DATABASE.  Exits non-zero when anything failed.
# Build first (make all units fuzz): this script builds nothing.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
mode=${1:-all}
# A private build (make B=... BIN=...) is tested with CHAT_BUILD and
# CHAT_BIN pointing at it.
build=${CHAT_BUILD:-build}
[[ $build == /* ]] || build=$root/$build
export CHAT_BIN=${CHAT_BIN:-$root/bin}
export CHAT_FIXTURES=${CHAT_FIXTURES:-$build/fixtures}
# the unit tests load the run-time modules (chat-pg.so, chat-curl.so)
# that the build put beside the daemons (the daemons find them there by
# themselves)
module_dir=${CHAT_MODULE_DIR:-$CHAT_BIN}
case $mode in
all | unit | fuzz) ;;
*)
	echo "usage: scripts/test.sh [unit | fuzz]" >&2
	exit 2
	;;
esac
stores=${CHAT_TEST_STORES:-sqlite postgresql}
bats_sqlite=0
bats_pg=0
for s in $stores; do
	case $s in
	sqlite) bats_sqlite=1 ;;
	postgresql) bats_pg=1 ;;
	*)
		echo "test.sh: CHAT_TEST_STORES: no store '$s' (sqlite, postgresql)" >&2
		exit 2
		;;
	esac
done
with_fuzz=1
[[ ${CHAT_TEST_FUZZ:-1} == 0 ]] && with_fuzz=0
jobs=${CHAT_TEST_JOBS:-2}
[[ $jobs =~ ^[1-9][0-9]*$ ]] || {
	echo "test.sh: CHAT_TEST_JOBS: '$jobs' is not a number of files" >&2
	exit 2
}
# a waiting loop whose end never comes (a token that does not expire, a
# frame that never arrives) would otherwise stall the run for good
export BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-300}

passed=0
failed=0
skipped=0
work=$(mktemp -d "${TMPDIR:-/tmp}/chat-test.XXXXXX")
pg_dir=$work/pg

cleanup() {
	if [[ -f $pg_dir/pid ]]; then
		scripts/pg-test stop "$pg_dir" >/dev/null 2>&1 ||
			echo "test.sh: could not stop the PostgreSQL test server" >&2
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_pg: starts the test server, sets pg_uri; nonzero on failure.
pg_uri=
start_pg() {
	local log=$work/pg-start.log
	if pg_uri=$(scripts/pg-test start "$pg_dir" 2>"$log"); then
		export CHAT_TEST_PG_URI=$pg_uri
		return 0
	fi
	echo "test.sh: cannot start PostgreSQL for the tests:" >&2
	cat "$log" >&2
	pg_uri=
	return 1
}

# Unit tests: cmocka prints "[  PASSED  ] N test(s)." and, on failures,
# "[  FAILED  ] N test(s)..." per group.  A binary that exits non-zero
# without such a line (a crash, a sanitizer report) counts as one failure.
run_units() {
	local t log p f rc ran=0
	for t in "$build"/tests/test-*; do
		[[ -f $t && -x $t ]] || continue
		ran=1
		log=$work/${t##*/}.log
		echo "== ${t##*/}"
		CHAT_MODULE_DIR=$module_dir "$t" 2>&1 </dev/null | tee "$log"
		rc=${PIPESTATUS[0]}
		p=$(sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test.*/\1/p' "$log" |
			awk '{s += $1} END {print s + 0}')
		f=$(sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test.*/\1/p' "$log" |
			awk '{s += $1} END {print s + 0}')
		if ((rc != 0 && f == 0)); then
			echo "test.sh: ${t##*/} exited with status $rc" >&2
			f=1
		fi
		passed=$((passed + p))
		failed=$((failed + f))
	done
	if ((!ran)); then
		echo "test.sh: no unit test binaries in $build/tests (run make units)" >&2
		failed=$((failed + 1))
	fi
}

# Fuzz targets: scripts/fuzz --suite runs every corpus file once and
# each target for a few seconds (CHAT_FUZZ_BUILD: a private make fuzz
# FB=...), and prints "ok fuzz-NAME" or "not ok fuzz-NAME" per target:
# one test each.
run_fuzz() {
	local log=$work/fuzz.log rc p f
	echo "== fuzz targets (short runs)"
	scripts/fuzz --suite 2>&1 </dev/null | tee "$log"
	rc=${PIPESTATUS[0]}
	p=$(grep -Ec '^ok fuzz-' "$log")
	f=$(grep -Ec '^not ok fuzz-' "$log")
	if ((rc != 0 && f == 0)); then
		echo "test.sh: scripts/fuzz exited with status $rc" >&2
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
}

# run_bats LABEL DATABASE: the bats suites against one store.
# Bats: TAP on stdout ("ok N ...", "ok N ... # skip", "not ok N ...").
# Tests of a file share one stack, so files run in parallel ($jobs at
# most, when GNU parallel is there) but the tests inside a file in order.
run_bats() {
	local label=$1 log=$work/bats-$1.tap rc p f s
	export CHAT_TEST_DATABASE=$2
	# --timing: each test's time on its line ("in N ms"), so that a
	# CI log shows where the suite's minutes go
	local -a args=(--formatter tap --timing)
	local -a files=(tests/integration/*.bats)
	[[ -f ${files[0]} ]] || {
		echo "test.sh: no bats files in tests/integration" >&2
		failed=$((failed + 1))
		return
	}
	if command -v parallel >/dev/null; then
		args+=(--jobs "$jobs" --no-parallelize-within-files)
	fi
	[[ $label == sqlite ]] && args+=(--filter-tags '!needs:pg')
	# files tagged store:any drive a client (the browser, chatui) or
	# serve static files: the store under them is the API's, which the
	# other files test on both stores, so on PostgreSQL they are left
	# out unless CHAT_TEST_ALL_STORES=1 (CI's 30 minutes)
	[[ $label == postgresql && ${CHAT_TEST_ALL_STORES:-0} != 1 ]] &&
		args+=(--filter-tags '!store:any')
	echo "== integration tests on $label"
	bats "${args[@]}" "${files[@]}" 3>&- </dev/null 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	echo "== the slowest tests on $label"
	sed -nE 's/^(not )?ok [0-9]+ (.*) in ([0-9]+)ms( # .*)?$/\3 \2\4/p' "$log" |
		sort -rn | awk 'NR <= 15 { t = $1; $1 = ""; printf "%7.1f s%s\n", t / 1000, $0 }'
	p=$(grep -E '^ok ' "$log" | grep -vEc '# skip( |$)')
	s=$(grep -E '^ok ' "$log" | grep -Ec '# skip( |$)')
	f=$(grep -Ec '^not ok ' "$log")
	if ((rc != 0 && f == 0)); then
		echo "test.sh: bats ($label) exited with status $rc" >&2
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
}

if [[ $mode == fuzz ]]; then
	run_fuzz
	echo "$passed passed, $failed failed"
	((failed == 0))
	exit
fi

have_pg=0
if [[ $mode == all ]] && ((bats_pg)); then
	if start_pg; then
		have_pg=1
	else
		failed=$((failed + 1))
	fi
else
	# unit tests of the PostgreSQL backend run when a server can start
	start_pg && have_pg=1
fi

run_units
if [[ $mode == all ]]; then
	((with_fuzz)) && run_fuzz
	for d in userd sessiond chatd aid gatewayd chatctl chat-pg.so chat-curl.so; do
		[[ -f $CHAT_BIN/$d ]] || {
			echo "test.sh: $CHAT_BIN/$d is missing (run make)" >&2
			failed=$((failed + 1))
		}
	done
	((bats_sqlite)) && run_bats sqlite sqlite
	if ((bats_pg && have_pg)); then
		run_bats postgresql "$pg_uri"
	fi
fi

if ((skipped > 0)); then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
((failed == 0))
