#!/usr/bin/env bats
# bats file_tags=store:any
# The web page's chat pane in chromium (tests/web/stream.test.mjs): a
# conversation opened, or the page reloaded, mid-answer shows only
# prefixes of the answer; a long answer is rendered piecewise while it
# streams and shows its last words with its end; a regenerated answer
# replaces the old one without a blank; code is highlighted once its
# grammar loads; the view follows the answer unless the reader scrolled
# up; a long conversation opens at its newest messages and pages back
# with no gap and no duplicate. web-common.bash runs the group.

setup_file() {
	load test_helper
	load web-common
	# 10 ms a word: long answers take a few seconds, time to open them
	start_stack "[aid]" "echo_delay_ms = 10" || return 1
	register_user "$WEB_ADMIN_USER" "$WEB_ADMIN_PASSWORD" || return 1
}

teardown_file() {
	load test_helper
	stop_stack
}

setup() {
	load test_helper
	load web-common
}

@test "web: mid-answer opening, piecewise rendering, long conversation paging" {
	web_group stream
}
