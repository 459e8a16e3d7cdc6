#!/usr/bin/env bats
# scripts/check (make check): the checkout passes it, and each check
# names the offences it is there for, byte for byte, in small trees made
# for the purpose, while leaving alone what the convention allows.

setup() {
	load test_helper
	CHECK=$CHAT_ROOT/scripts/check
	T=$BATS_TEST_TMPDIR/tree
	mkdir -p "$T"
}

# put FILE: writes stdin to $T/FILE.
put() {
	mkdir -p "$(dirname "$T/$1")"
	cat >"$T/$1"
}

# expect: compares $output with stdin, showing the difference.
expect() {
	cat >"$BATS_TEST_TMPDIR/expect"
	printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/actual"
	diff -u "$BATS_TEST_TMPDIR/expect" "$BATS_TEST_TMPDIR/actual"
}

@test "the checkout passes every check" {
	run -0 "$CHECK"
	[[ -z $output ]] || false
}

@test "banned-h: a program's C file without banned.h last is named" {
	printf '/* ok */\n#include <stdio.h>\n#include "banned.h"\n' | put shared/ok.c
	printf '/* none */\n#include <stdio.h>\n' | put shared/none.c
	printf '/* late */\n#include "banned.h"\n#include <string.h>\n' | put daemons/x/late.c
	printf '/* none */\nint f(void);\n' | put tui/bare.c
	printf '/* none */\n#include <stdio.h>\n' | put cli/cmd.c
	# tests are not programs: no banned.h needed
	printf '/* t */\n#include <stdio.h>\n' | put tests/unit/test-x.c
	run -1 "$CHECK" -C "$T" banned-h
	expect <<-'OUT'
	shared/none.c: no #include "banned.h" (add it after the other includes) [banned-h]
	daemons/x/late.c:3: #include after "banned.h" (it goes last) [banned-h]
	cli/cmd.c: no #include "banned.h" (add it after the other includes) [banned-h]
	tui/bare.c: no #include "banned.h" (add it after the other includes) [banned-h]
	OUT
}

@test "bats-negation: '!' before a body's end is named, the forms that fail are not" {
	# %test: bats would take @test lines for its own, even in a heredoc
	sed 's/^%test/@test/' <<'EOF' | put tests/integration/x.bats
%test "mid" {
	! true
	true
}
%test "allowed" {
	! true || false
	! grep -q x \
		y || false
	run ! true
	[[ ! -e x ]] || false
	grep -q x <<<word || false
	! true
	cat <<-END
	! text of a heredoc
	END
	# a comment
	! true
	# comments and blanks after the last command

}
%test "continued" {
	! grep -q x \
		y
	true
}
%test "in a loop" {
	for i in 1; do
		! true
	done
}
%test "one line" { ! true; }
EOF
	put tests/integration/helpers.bash <<'EOF'
# a predicate may end in a negation
absent() {
	! grep -q "$1" file
}
# but not have one before its end
check() {
	! grep -q "$1" file
	echo checked
}
EOF
	run -1 "$CHECK" -C "$T" bats-negation
	expect <<-'OUT'
	tests/integration/x.bats:2: '!' before the end of a test or function never fails it: use 'run !' or end the line in '|| false' [bats-negation]
	tests/integration/x.bats:12: '!' before the end of a test or function never fails it: use 'run !' or end the line in '|| false' [bats-negation]
	tests/integration/x.bats:22: '!' before the end of a test or function never fails it: use 'run !' or end the line in '|| false' [bats-negation]
	tests/integration/x.bats:28: '!' before the end of a test or function never fails it: use 'run !' or end the line in '|| false' [bats-negation]
	tests/integration/helpers.bash:7: '!' before the end of a test or function never fails it: use 'run !' or end the line in '|| false' [bats-negation]
	OUT
}

@test "bats-wait: a bare wait is named, waits by pid and comments are not" {
	# (printf, not a heredoc: bats would take its @test line for a test)
	printf '%s\n' '#!/usr/bin/env bats' '@test "x" {' '	sleep 1 &' \
		'	wait' '	# a bare wait in a comment' '	sleep 1 &' \
		'	wait "$!"' '	true && wait' '}' | put tests/integration/w.bats
	run -1 "$CHECK" -C "$T" bats-wait
	expect <<-'OUT'
	tests/integration/w.bats:4: a bare 'wait' also waits for bats' timeout sleeper: wait for the pids [bats-wait]
	tests/integration/w.bats:8: a bare 'wait' also waits for bats' timeout sleeper: wait for the pids [bats-wait]
	OUT
}

@test "file-comment, whitespace, shell-syntax: one offence each" {
	printf '#include "a.h"\n' | put shared/a.c
	printf '/* b */\nint b(void)\n{\n    return 0;\n}\n' | put tests/unit/b.c
	printf '#!/usr/bin/env bash\necho hi \n' | put scripts/trail
	printf '#!/usr/bin/env bash\nif true; then\n' | put scripts/broken
	printf '/* ok */\n#include "banned.h"\n' | put shared/ok.c
	run -1 "$CHECK" -C "$T" file-comment whitespace shell-syntax
	expect <<-'OUT'
	shared/a.c:1: does not open with a comment saying what it is for [file-comment]
	scripts/trail:2: blanks at the end of the line [whitespace]
	tests/unit/b.c:4: indented with spaces, not tabs [whitespace]
	scripts/broken: scripts/broken: line 3: syntax error: unexpected end of file [shell-syntax]
	OUT
}

@test "program-names: a name two programs define is named, static and prefixed ones are not" {
	put daemons/a/gen.c <<'EOF'
/* a */
struct gen {
	int x;
};
int gen_start(struct gen *g)
{
	return g->x;
}
const char *migrations_table[] = { "a" };
static int helper(void)
{
	return 0;
}
int a_only(void);
int main(void)
{
	return 0;
}
EOF
	put daemons/b/gen.h <<'EOF'
/* b */
struct gen {
	long y;
};
int gen_start(void);
EOF
	put daemons/b/main.c <<'EOF'
/* b */
const char *migrations_table[] = { "b" };
static int helper(void)
{
	return 1;
}
struct gen *b_gen_new(void)
{
	return 0;
}
int main(void)
{
	return 0;
}
EOF
	put shared/lib.c <<'EOF'
/* shared */
int gen_start(void)
{
	return 0;
}
EOF
	run -1 "$CHECK" -C "$T" program-names
	expect <<-'OUT'
	daemons/a/gen.c:5: 'gen_start' is defined by more than one program: daemons/a shared [program-names]
	shared/lib.c:2: 'gen_start' is defined by more than one program: daemons/a shared [program-names]
	daemons/a/gen.c:9: 'migrations_table' is defined by more than one program: daemons/a daemons/b [program-names]
	daemons/b/main.c:2: 'migrations_table' is defined by more than one program: daemons/a daemons/b [program-names]
	daemons/a/gen.c:2: 'struct gen' is defined by more than one program: daemons/a daemons/b [program-names]
	daemons/b/gen.h:2: 'struct gen' is defined by more than one program: daemons/a daemons/b [program-names]
	OUT
}

@test "a clean tree passes; an unknown check is a usage error" {
	printf '/* ok */\n#include <stdio.h>\n#include "banned.h"\n' | put shared/ok.c
	run -0 "$CHECK" -C "$T"
	[[ -z $output ]] || false
	run -2 "$CHECK" -C "$T" no-such-check
	[[ $output == *"no such check"* ]] || false
}
