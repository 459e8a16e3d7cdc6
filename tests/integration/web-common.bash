# web-common.bash - the helper of the web-*.bats files that run a node:test
# file of tests/web/ (playwright-core driving Debian's headless chromium)
# against the file's stack, loaded after test_helper:
#
#   setup() { load test_helper; load web-common; }
#   @test "..." { web_group NAME; }     # runs tests/web/NAME.test.mjs
#
# The stack's first account is the admin the tests use:
# register_user "$WEB_ADMIN_USER" "$WEB_ADMIN_PASSWORD" in setup_file.
#
# Screenshots: every step saves <step>-light.png and <step>-dark.png in
# $CHAT_TEST_WEB_SHOTS/<store>/<group>/ when CHAT_TEST_WEB_SHOTS is set,
# else in the test's $BATS_TEST_TMPDIR/shots/ (kept with bats
# --no-tempdir-cleanup). chromium and tests/web/node_modules come from
# scripts/deps.sh; without them a test fails saying so (CI has them).

WEB_ADMIN_USER=webadmin
WEB_ADMIN_PASSWORD=password-webadmin

# web_group NAME: runs tests/web/NAME.test.mjs against the stack.
web_group() {
	local shots store
	if [[ ! -x ${CHAT_TEST_CHROMIUM:-/usr/bin/chromium} ]]; then
		echo "no chromium at ${CHAT_TEST_CHROMIUM:-/usr/bin/chromium}:" \
			"scripts/deps.sh installs it" >&2
		return 1
	fi
	if [[ ! -d $CHAT_ROOT/tests/web/node_modules/playwright-core ]]; then
		echo "tests/web/node_modules is missing: scripts/deps.sh runs" \
			"npm ci there" >&2
		return 1
	fi
	store=sqlite
	[[ $CHAT_DATABASE == postgres* ]] && store=postgresql
	if [[ -n ${CHAT_TEST_WEB_SHOTS:-} ]]; then
		shots=$CHAT_TEST_WEB_SHOTS/$store/$1
	else
		shots=$BATS_TEST_TMPDIR/shots
	fi
	CHAT_TEST_WEB_URL=$(base_url) CHAT_TEST_WEB_SHOTS=$shots \
		CHAT_TEST_WEB_ADMIN=$WEB_ADMIN_USER:$WEB_ADMIN_PASSWORD \
		node --test-reporter=spec --test-timeout=60000 \
		"$CHAT_ROOT/tests/web/$1.test.mjs" 3>&-
}
