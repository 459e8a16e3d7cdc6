#!/usr/bin/env bats
# bats file_tags=store:any
# The web page (issue 14) in a real browser: Debian's headless chromium
# driven by playwright-core (tests/web/, pinned in its package-lock.json)
# against this file's stack, which serves web/ and the browser's cookie
# login. Each test runs one node:test file of tests/web/ (the journey of
# a person: log in, chat, the sidebar and the keyboard, live delivery,
# settings, admin, hostile content), and axe-core checks each screen.
#
# Screenshots: every step saves <step>-light.png and <step>-dark.png in
# $CHAT_TEST_WEB_SHOTS/<store>/<group>/ when CHAT_TEST_WEB_SHOTS is set,
# else in the test's $BATS_TEST_TMPDIR/shots/ (kept with bats
# --no-tempdir-cleanup); web-common.bash runs the groups.
#
# chromium and tests/web/node_modules are installed by scripts/deps.sh;
# without them a test fails saying so (it does not skip: CI has them).

setup_file() {
	load test_helper
	load web-common
	# echo answers at 10 ms a word: slow enough to see a stream, to
	# stop one, fast enough to keep the file short; the fake upstream
	# behind aid's OpenAI provider fails on demand (openai/fake:error_at=N)
	start_fakellm || return 1
	start_stack "[openai]" "base_url = $FAKELLM_URL/v1" \
		"[aid]" "echo_delay_ms = 10" "retries = 0" || return 1
	# the first account is the admin
	register_user "$WEB_ADMIN_USER" "$WEB_ADMIN_PASSWORD" || return 1
}

teardown_file() {
	load test_helper
	stop_stack
	local rc=$?
	stop_fakellm
	return $rc
}

setup() {
	load test_helper
	load web-common
}

@test "web: security headers, log in, register, reload, no token stored, log out" {
	web_group auth
}

@test "web: send, stream, stop, regenerate, edit, branches, reload, error states" {
	web_group chat
}

@test "web: sidebar rename, archive, delete; model, system prompt, keys, copy" {
	web_group conversations
}

@test "web: a second device sees the stream live; a dropped socket resumes" {
	web_group live
}

@test "web: settings: API key shown once and revoked, a session revoked, password" {
	web_group settings
}

@test "web: admin: users, usage, events; a disabled user's open page logs out" {
	web_group admin
}

@test "web: hostile messages and titles run nothing and inject nothing" {
	web_group xss
}
