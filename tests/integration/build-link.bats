#!/usr/bin/env bats
# What the Makefile links: each unit test its own object and the objects
# of its tests/unit/deps.mk line (a parser's test, not the database), the
# programs and fixtures their objects rather than their sources.  Read
# from make -n into a scratch B and BIN, nothing built; the last test
# checks deps.mk against the objects of the build under test.

setup() {
	load test_helper
	D=$BATS_TEST_TMPDIR
}

# mk ARGS...: make in the checkout, apart from any make that runs bats
mk() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
		make -C "$CHAT_ROOT" --no-print-directory "$@"
}

# link_line OUTPUT: the command of make -n -B that links OUTPUT (in $D),
# its continued lines joined
link_line() {
	mk -n -B B="$D/b" BIN="$D/bin" "$1" 2>/dev/null |
		sed -e ':a' -e '/\\$/N; s/\\\n//; ta' | grep -F -- " -o $1 "
}

# link_inputs LINE: the files a link command reads (objects, archives,
# sources), one a line
link_inputs() {
	tr ' ' '\n' <<<"$1" | grep -E '\.(o|a|c)$' || true
}

# deps_of TEST: the objects deps.mk names for TEST, then its libs line
deps_of() {
	printf 'include tests/unit/deps.mk\n$(info $(deps.%s))\n$(info $(libs.%s))\nx:;@:\n' "$1" "$1" |
		make -C "$CHAT_ROOT" --no-print-directory -s -f -
}

@test "the JSON parser's unit test links the parser, not the database" {
	local line want
	line=$(link_line "$D/b/tests/test-json")
	[[ -n $line ]] || false
	want=$(deps_of test-json | head -n 1 | tr ' ' '\n' | sed "/^\$/d; s|^|$D/b/|")
	printf '%s\n' "$D/b/tests/unit/test-json.o" "$want" >"$D/expect"
	link_inputs "$line" >"$D/actual"
	diff -u "$D/expect" "$D/actual"
	grep -qx "$D/b/shared/json.o" "$D/actual" || false
	[[ $line != *libchat.a* && $line != *db-sqlite.o* && $line != *" -lpq"* ]] || false
}

@test "a daemon's unit test links the daemon objects it uses, not their siblings" {
	local line want
	line=$(link_line "$D/b/tests/test-userd-throttle")
	want=$(deps_of test-userd-throttle | head -n 1 | tr ' ' '\n' | sed "/^\$/d; s|^|$D/b/|")
	printf '%s\n' "$D/b/tests/unit/test-userd-throttle.o" "$want" >"$D/expect"
	link_inputs "$line" >"$D/actual"
	diff -u "$D/expect" "$D/actual"
	grep -qx "$D/b/daemons/userd/throttle.o" "$D/actual" || false
	run -1 grep -E '/(auth|users|main)\.(o|c)$' "$D/actual"
}

# has TEXT PART: yes or no
has() {
	[[ $1 == *"$2"* ]] && echo yes || echo no
}

@test "unit tests link libcurl, the terminal libraries and librdkafka only when deps.mk says, never libpq" {
	local f t l line libs n=0
	for f in "$CHAT_ROOT"/tests/unit/test-*.c; do
		t=$(basename "$f" .c)
		libs=$(deps_of "$t" | tail -n 1)
		# (without librdkafka the Makefile leaves the Kafka test out)
		[[ $libs != *rdkafka* ]] || pkg-config --exists rdkafka || continue
		line=$(link_line "$D/b/tests/$t")
		[[ -n $line ]] || { echo "no link of $t" >&2; false; }
		[[ $line != *" -lpq"* ]] || { echo "$t links libpq" >&2; false; }
		for l in curl ncursesw readline rdkafka; do
			[[ $(has "$line" " -l$l") == $(has "$libs" "$l") ]] ||
				{ echo "$t: -l$l, deps.mk says '$libs'" >&2; false; }
		done
		n=$((n + 1))
	done
	((n > 30)) || false
}

@test "a unit test without a deps.mk line stops make, naming the line to add" {
	local f
	# a checkout of links, with one more unit test
	mkdir -p "$D/co/tests/unit"
	for f in Makefile VERSION shared daemons cli tui bench scripts; do
		[[ -e $CHAT_ROOT/$f ]] && ln -s "$CHAT_ROOT/$f" "$D/co/$f"
	done
	for f in "$CHAT_ROOT"/tests/*; do
		[[ ${f##*/} == unit ]] || ln -s "$f" "$D/co/tests/${f##*/}"
	done
	for f in "$CHAT_ROOT"/tests/unit/*; do
		ln -s "$f" "$D/co/tests/unit/${f##*/}"
	done
	printf 'int main(void) { return 0; }\n' >"$D/co/tests/unit/test-zz.c"
	run -2 env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$D/co" \
		--no-print-directory -n B="$D/b" BIN="$D/bin" units
	[[ $output == *"tests/unit/deps.mk has no deps.test-zz (scripts/unit-deps test-zz prints it)"* ]] || false
}

@test "programs and fixtures link their objects, not their sources" {
	local line
	line=$(link_line "$D/bin/userd")
	link_inputs "$line" >"$D/actual"
	grep -qx "$D/b/daemons/userd/main.o" "$D/actual" || false
	run -1 grep '\.c$' "$D/actual"
	line=$(link_line "$D/b/fixtures/fakellm")
	link_inputs "$line" >"$D/actual"
	grep -qx "$D/b/tests/fixtures/fakellm/fakellm.o" "$D/actual" || false
	run -1 grep '\.c$' "$D/actual"
}

# entries: a deps.mk's assignments on stdin, one a line, sorted
entries() {
	grep -v -e '^#' -e '^$' | sed -e ':a' -e '/\\$/N; s/ *\\\n[[:space:]]*/ /; ta' |
		tr -s ' ' | sort
}

@test "deps.mk lists what scripts/unit-deps finds in the build under test" {
	local build=${CHAT_BUILD:-$(dirname "$FIXTURES")} line t
	[[ -f $build/libchat.a ]] || skip "no build at $build"
	run -0 --separate-stderr "$CHAT_ROOT/scripts/unit-deps" -B "$build"
	entries <<<"$output" >"$D/actual"
	# the lines of the tests this build made (without librdkafka, say,
	# the Kafka module's test is left out)
	entries <"$CHAT_ROOT/tests/unit/deps.mk" | while read -r line; do
		t=${line%% *}
		t=${t#*.}
		[[ ! -f $build/tests/unit/$t.o ]] || echo "$line"
	done >"$D/expect"
	diff -u "$D/expect" "$D/actual"
	(($(wc -l <"$D/actual") > 30)) || false
}
