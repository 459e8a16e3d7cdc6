#!/usr/bin/env bats
# The parts .ci/run is made of, checked without building anything: what
# make asan, make test and make run would do (make -n into a scratch
# B and BIN), and which suites scripts/test.sh runs for CHAT_TEST_STORES
# and CHAT_TEST_FUZZ, on a tree of stand-ins (unit test, fuzz runner,
# PostgreSQL server, bats file) that record what ran.

setup() {
	load test_helper
	D=$BATS_TEST_TMPDIR
}

# mk ARGS...: make in the checkout, apart from any make that runs bats
# (and from .ci/run's CHAT_TEST_FUZZ=0 make test)
mk() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u CHAT_TEST_FUZZ \
		make -C "$CHAT_ROOT" --no-print-directory "$@"
}

# outputs: the files the commands in $output write with -o, one a line
outputs() {
	grep -oE ' -o [^ ]+' <<<"$output" | cut -c5-
}

@test "make asan builds in B/asan, the programs beside their modules" {
	run -0 mk -n -B B="$D/b" BIN="$D/bin" asan
	grep -E ' -o ' <<<"$output" >"$D/cmds" || false
	outputs >"$D/outs"
	# no mode file left behind for a later make to pick up
	[[ $output != *"/sanitize"* ]] || false
	# nothing outside B/asan: neither B's nor BIN's normal build changes
	run -1 grep -v "^$D/b/asan/" "$D/outs"
	for f in gatewayd userd chatctl chat-pg.so chat-curl.so; do
		grep -qx "$D/b/asan/bin/$f" "$D/outs" || false
	done
	grep -qx "$D/b/asan/tests/test-buf" "$D/outs" || false
	# every compile and link carries the sanitizers
	run -1 grep -v -- '-fsanitize=address,undefined' "$D/cmds"
}

@test "a plain make is never a sanitizer build, even after make asan" {
	# a checkout of links where the old sticky mode's build/sanitize is
	# left over, as an earlier make asan wrote it
	mkdir -p "$D/co/build"
	for f in Makefile shared daemons cli tui tests bench scripts; do
		ln -s "$CHAT_ROOT/$f" "$D/co/$f"
	done
	echo address,undefined >"$D/co/build/sanitize"
	run -0 env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
		make -C "$D/co" --no-print-directory -n -B B="$D/b" BIN="$D/bin"
	[[ $output != *fsanitize* ]] || false
	outputs >"$D/outs"
	grep -qx "$D/bin/gatewayd" "$D/outs" || false
	run -1 grep "^$D/b/asan/" "$D/outs"
}

@test "make test and make run install what is missing before they build" {
	# deps.sh first; the build in a second make, which reads pkg-config's
	# flags after the packages are there; the tests on this B and BIN
	run -0 --separate-stderr mk -n B="$D/b" BIN="$D/bin" test
	[[ ${lines[0]} == scripts/deps.sh ]] || false
	# the first recursive make (what a make around this one prints, a
	# jobserver warning say, is on stderr)
	[[ $(grep -m1 '^make' <<<"$output") == make*" all units fuzz" ]] ||
		{ printf '%s\n' "$output" "--- stderr" "$stderr" | head -n 20 >&2; false; }
	[[ ${lines[-1]} == "CHAT_BUILD=$D/b CHAT_BIN=$D/bin "*scripts/test.sh ]] || false
	run -0 --separate-stderr mk -n B="$D/b" BIN="$D/bin" CHAT_TEST_FUZZ=0 test
	[[ $(grep -m1 '^make' <<<"$output") == make*" all units " ]] || false
	run -0 mk -n B="$D/b" BIN="$D/bin" run
	[[ ${lines[0]} == scripts/deps.sh ]] || false
	[[ ${lines[1]} == make*" all" ]] || false
	[[ ${lines[-1]} == "CHAT_BIN=$D/bin scripts/run.sh" ]] || false
	run -0 mk -n B="$D/b" BIN="$D/bin" test-asan
	[[ ${lines[0]} == scripts/deps.sh ]] || false
	[[ ${lines[-1]} == "CHAT_BUILD=$D/b/asan CHAT_BIN=$D/b/asan/bin "*scripts/test.sh ]] || false
}

# fake_tree: scripts/test.sh in $D/t with stand-ins for what it runs,
# each appending what it did to $D/t/ran.
fake_tree() {
	local t=$D/t
	mkdir -p "$t/scripts" "$t/build/tests" "$t/bin" "$t/tests/integration"
	cp "$CHAT_ROOT/scripts/test.sh" "$t/scripts/"
	cat >"$t/scripts/pg-test" <<-'SH'
	#!/bin/sh
	case $1 in
	start) mkdir -p "$2" && echo 1 >"$2/pid" && echo postgresql://fake/db ;;
	stop) rm -f "$2/pid" ;;
	esac
	SH
	cat >"$t/scripts/fuzz" <<-SH
	#!/bin/sh
	echo fuzz >>"$t/ran"
	echo ok fuzz-x
	SH
	cat >"$t/build/tests/test-x" <<-SH
	#!/bin/sh
	echo unit >>"$t/ran"
	echo '[  PASSED  ] 2 test(s).'
	SH
	# %test: bats would take an @test line for its own, even here
	sed 's/^%test/@test/' >"$t/tests/integration/x.bats" <<-SH
	%test "x" {
		echo "bats \$CHAT_TEST_DATABASE" >>"$t/ran"
		echo "\${BATS_TEST_TIMEOUT:-}" >"$t/timeout"
		[[ -z \${HANG:-} ]] || sleep "\$HANG"
	}
	SH
	chmod +x "$t/scripts/"* "$t/build/tests/test-x"
	for f in userd sessiond chatd aid gatewayd chatctl chat-pg.so chat-curl.so; do
		: >"$t/bin/$f"
	done
}

# t_run ENV...: scripts/test.sh of the fake tree with ENV
t_run() {
	run env -u CHAT_TEST_DATABASE -u CHAT_TEST_STORES -u CHAT_TEST_FUZZ \
		-u BATS_TEST_TIMEOUT \
		CHAT_BUILD="$D/t/build" CHAT_BIN="$D/t/bin" "$@" \
		"$D/t/scripts/test.sh"
}

@test "test.sh: both stores and the fuzz runs unless told otherwise" {
	fake_tree
	t_run
	[[ $status == 0 ]] || false
	[[ ${lines[-1]} == "5 passed, 0 failed" ]] || false
	printf 'unit\nfuzz\nbats sqlite\nbats postgresql://fake/db\n' >"$D/expect"
	diff -u "$D/expect" "$D/t/ran"
	# a test that hangs fails after 300 s
	[[ $(cat "$D/t/timeout") == 300 ]] || false
}

@test "test.sh: a store:any file runs on SQLite only, unless CHAT_TEST_ALL_STORES=1" {
	fake_tree
	sed 's/^%test/@test/' >"$D/t/tests/integration/y.bats" <<-SH
	# bats file_tags=store:any
	%test "y" {
		echo "any \$CHAT_TEST_DATABASE" >>"$D/t/ran"
	}
	SH
	t_run CHAT_TEST_FUZZ=0
	[[ $status == 0 ]] || false
	[[ $(grep '^any' "$D/t/ran") == "any sqlite" ]] || false
	: >"$D/t/ran"
	t_run CHAT_TEST_FUZZ=0 CHAT_TEST_ALL_STORES=1
	[[ $status == 0 ]] || false
	[[ $(grep -c '^any' "$D/t/ran") == 2 ]] || false
}

@test "test.sh: CHAT_TEST_STORES=sqlite and CHAT_TEST_FUZZ=0 leave out the rest" {
	fake_tree
	t_run CHAT_TEST_STORES=sqlite CHAT_TEST_FUZZ=0
	[[ $status == 0 ]] || false
	[[ ${lines[-1]} == "3 passed, 0 failed" ]] || false
	printf 'unit\nbats sqlite\n' >"$D/expect"
	diff -u "$D/expect" "$D/t/ran"
	rm "$D/t/ran"
	t_run CHAT_TEST_STORES=postgresql
	[[ ${lines[-1]} == "4 passed, 0 failed" ]] || false
	printf 'unit\nfuzz\nbats postgresql://fake/db\n' >"$D/expect"
	diff -u "$D/expect" "$D/t/ran"
	t_run CHAT_TEST_STORES=mysql
	[[ $status == 2 ]] || false
	[[ $output == *"no store 'mysql'"* ]] || false
}

@test "test.sh: CHAT_TEST_JOBS bats files run at once" {
	command -v parallel >/dev/null || skip "GNU parallel is not installed"
	fake_tree
	local f
	# three files that each wait for all three to have started: they
	# pass only when three run at the same time
	for f in j1 j2 j3; do
		sed 's/^%test/@test/' >"$D/t/tests/integration/$f.bats" <<-SH
		%test "$f" {
			touch "$D/t/started.$f"
			for ((i = 0; i < 200; i++)); do
				(( \$(ls "$D/t"/started.* | wc -l) == 3 )) && return 0
				sleep 0.1
			done
			false
		}
		SH
	done
	t_run CHAT_TEST_STORES=sqlite CHAT_TEST_FUZZ=0 CHAT_TEST_JOBS=3
	[[ $status == 0 ]] || { printf '%s\n' "$output" >&2; false; }
	[[ ${lines[-1]} == "6 passed, 0 failed" ]] || false
	t_run CHAT_TEST_STORES=sqlite CHAT_TEST_FUZZ=0 CHAT_TEST_JOBS=two
	[[ $status == 2 ]] || false
	[[ $output == *"CHAT_TEST_JOBS: 'two'"* ]] || false
}

@test "test.sh: a bats test that hangs fails after BATS_TEST_TIMEOUT" {
	fake_tree
	SECONDS=0
	t_run CHAT_TEST_STORES=sqlite CHAT_TEST_FUZZ=0 HANG=60 BATS_TEST_TIMEOUT=2
	((SECONDS < 30)) || false
	[[ $status == 1 ]] || false
	# (--timing puts the time before the reason)
	[[ $output =~ "not ok 1 x in "[0-9]+"ms # timeout after 2s" ]] || false
	# the slowest tests are named after the pass, the hung one first
	[[ $output =~ "== the slowest tests on sqlite"$'\n'" "+"2."[0-9]" s x # timeout" ]] || false
	[[ ${lines[-1]} == "2 passed, 1 failed" ]] || false
}

@test ".ci/run: two bats passes, SQLite under the sanitizers, PostgreSQL on the normal build" {
	local line target stores passes=() s
	# each make test or test-asan line of .ci/run with the stores it
	# names (both, as scripts/test.sh does, when it names none)
	while IFS= read -r line; do
		[[ $line =~ (^|[[:space:]])make[[:space:]].*[[:space:]](test|test-asan)$ ]] || continue
		target=${BASH_REMATCH[2]}
		stores="sqlite postgresql"
		if [[ $line =~ CHAT_TEST_STORES=(\"[a-z ]*\"|\'[a-z ]*\'|[a-z]+) ]]; then
			stores=${BASH_REMATCH[1]//[\"\']/}
		fi
		for s in $stores; do
			passes+=("$target:$s")
		done
	done <"$CHAT_ROOT/.ci/run"
	[[ ${passes[*]} == "test-asan:sqlite test:postgresql" ]] ||
		{ echo "bats passes: ${passes[*]}" >&2; false; }
}
