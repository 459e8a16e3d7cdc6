#!/usr/bin/env bats
# bats file_tags=store:any
# In-app notifications on the web page (issue 15) in a real browser
# (tests/web/notifications.test.mjs): a notification made through the
# API shows live with the unread count on two pages of its user and not
# on another user's; reading one and "Mark all read" lower the count and
# the server agrees; an admin's broadcast reaches every page; "Show
# older" pages back; a socket that was down catches up; a long answer
# that ended with no client there opens its conversation; hostile data
# shows as text; the channels per category round-trip through the
# settings and security's in-app channel stays on; axe-core over the
# panel and the section.

setup_file() {
	load test_helper
	load web-common
	# an answer of 120 echo words takes 2.4 s: "long" to notifyd here
	start_stack "[aid]" "echo_delay_ms = 20" \
		"[notifyd]" "long_generation_ms = 1500" || return 1
	# the first account is the admin (it sends the broadcast)
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

@test "web: notifications live on two pages, read, mark all, paging, settings" {
	web_group notifications
}
