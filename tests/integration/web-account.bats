#!/usr/bin/env bats
# bats file_tags=store:any
# The web page's settings and admin screens (issue 14) where they meet bad
# input, in a real browser (tests/web/account.test.mjs): a wrong current
# password is said plainly, sent once, and leaves the page signed in; a
# hostile display name, API key name and user agent show as text in the
# settings, the admin table and the event tail, running nothing; focus
# goes back where it was after a secret shown once; a guest is told that
# API keys are not for guests instead of meeting an error; the account's
# data downloads; an admin sets a password and the user is signed out;
# overlapping searches of the admin table leave its paging usable.

setup_file() {
	load test_helper
	load web-common
	start_stack || return 1
	# the first account is the admin
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

@test "web: settings and admin: bad input, focus, guests, export, set password" {
	web_group account
}
