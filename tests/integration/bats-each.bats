#!/usr/bin/env bats
# scripts/bats-each on a scratch bats file: every test runs alone by its
# name, names with escapes included, and a test that needs an earlier
# one is named.

setup() {
	load test_helper
	D=$BATS_TEST_TMPDIR
	# (printf, not a heredoc: bats would take its @test lines for tests)
	printf '%s\n' '#!/usr/bin/env bats' \
		'@test "writes the \"mark\" file" {' \
		"	touch \"\$BATS_FILE_TMPDIR/mark\"" '}' \
		'@test "reads it: \$HOME and \\\\ stay as written" {' \
		"	[[ -f \$BATS_FILE_TMPDIR/mark ]]" '}' \
		'@test "plain, and (parens) [brackets] a.b+c*" {' \
		'	true' '}' >"$D/x.bats"
}

@test "each test runs alone; the one that needs an earlier test is named" {
	# the file itself passes as a whole
	run -0 bats "$D/x.bats"
	run -1 "$CHAT_ROOT/scripts/bats-each" "$D/x.bats"
	grep -qxF "ok alone: $D/x.bats: writes the \\\"mark\\\" file" <<<"$output" || false
	grep -qxF "ok alone: $D/x.bats: plain, and (parens) [brackets] a.b+c*" <<<"$output" || false
	grep -qxF "alone: $D/x.bats: reads it: \\\$HOME and \\\\\\\\ stay as written" <<<"$output" ||
		{ printf '%s\n' "$output" >&2; false; }
	[[ ${lines[-1]} == "2 passed alone, 1 failed alone" ]] || false
}
