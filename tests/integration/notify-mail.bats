#!/usr/bin/env bats
# notifyd's email channel (issue 15) against a real SMTP server on
# loopback (tests/fixtures/smtp-sink): STARTTLS required and verified
# with the sink's certificate, AUTH with a password from a file.  The
# new-device alert mailed to a verified address only, multipart with
# the hostile user agent escaped; account mails switched off by a
# preference while security ones still come; List-Unsubscribe working
# once and for its user and category only; userd's code mails with the
# code alone on a line and erased once sent; a sink without STARTTLS, a
# refused password and a sink that is down: each mail retried and
# delivered once the sink is back, the password in no log; notifyd
# killed with a mail queued: delivered after its restart; smtps:// from
# CHAT_SMTP_URL, and no mail at all without a URL.  The sender thread
# ends after 300 ms without a stored mail here, so most tests start it
# again.
#
# Mails go out one at a time in the order they were stored, so a mail
# that arrived proves that every mail stored before it was dealt with:
# mail_barrier is how a test knows a mail did not come.

SMTP_USER=mailer
SMTP_SECRET=pw-Zq8mT4-never-logged

setup_file() {
	load test_helper
	load smtp_helper
	smtp_sink_start --auth "$SMTP_USER:$SMTP_SECRET"
	printf '%s\n' "$SMTP_SECRET" >"$BATS_FILE_TMPDIR/smtp-password"
	start_stack "[smtp]" "url = smtp://127.0.0.1:$SMTP_SINK_PORT" \
		"ca_file = $SMTP_SINK_CA" "user = $SMTP_USER" \
		"password_file = $BATS_FILE_TMPDIR/smtp-password" \
		"retry_ms = 100" "timeout_ms = 10000" "from = chat@chat.test" \
		"idle_ms = 300"
	register_user root
}

teardown_file() {
	load test_helper
	load smtp_helper
	stop_stack
	smtp_sink_stop
}

setup() {
	load test_helper
	load smtp_helper
	load notify-common
}

# verified_user NAME: registers NAME with NAME@mail.test, reads the
# verification mail's code and verifies the address; logged in (the
# account's first device, "first/1.0") with user_id and access_token.
verified_user() {
	local f code
	api POST /v1/auth/register "$(jq -nc --arg u "$1" --arg p "password-$1" \
		--arg e "$1@mail.test" '{username: $u, password: $p, email: $e}')"
	expect_status 201 || return 1
	user_id=$(jb '.user.id')
	f=$(mail_wait "$1@mail.test" 1) || return 1
	code=$(mail_code "$f") || return 1
	login_as "$1" first/1.0 || return 1
	api POST /v1/users/me/email/verify "$(jq -nc --arg c "$code" '{code: $c}')" \
		"$access_token"
	expect_status 200
}

# mail_barrier: a code mail to a fresh address, waited for: every mail
# stored before it has been sent or dropped.
mail_barrier() {
	local key to
	to=barrier-$RANDOM$RANDOM@mail.test
	key=$(<"$CHAT_DATA_DIR/internal.key")
	notify_caught_up || return 1
	curl -sf --max-time 10 -H "X-Chat-Internal: $key" -H 'Content-Type: application/json' \
		--data-binary "$(jq -nc --arg u "$user_id" --arg t "$to" \
			'{user_id: $u, to: $t, kind: "email_verify", code: "B4RR13R"}')" \
		"http://127.0.0.1:$(notify_port notifyd)/internal/mail" >/dev/null || return 1
	mail_wait "$to" 1 60 >/dev/null
}

# internal_mail USER TO KIND CODE: POST /internal/mail as userd does;
# status_code and body set.
internal_mail() {
	local key
	key=$(<"$CHAT_DATA_DIR/internal.key")
	body=$(curl -s --max-time 10 -w '\n%{http_code}' -H "X-Chat-Internal: $key" \
		-H 'Content-Type: application/json' --data-binary "$(jq -nc --arg u "$1" \
			--arg t "$2" --arg k "$3" --arg c "$4" \
			'{user_id: $u, to: $t, kind: $k, code: $c}')" \
		"http://127.0.0.1:$(notify_port notifyd)/internal/mail") || return 1
	status_code=${body##*$'\n'}
	body=${body%$'\n'*}
}

# log_count PATTERN: how many lines of notifyd's log match PATTERN.
log_count() {
	grep -c -- "$1" "$CHAT_DATA_DIR/log/notifyd.log" || true
}

# log_wait PATTERN COUNT: waits until more than COUNT lines of notifyd's
# log match PATTERN (a new failure of that kind).
log_wait() {
	local i
	for ((i = 0; i < 600; i++)); do
		(($(log_count "$1") > $2)) && return 0
		sleep 0.1
	done
	echo "no new '$1' in notifyd's log" >&2
	return 1
}

# no_secret_in_logs: the SMTP password is in no log of the stack.
no_secret_in_logs() {
	if grep -rlF -- "$SMTP_SECRET" "$CHAT_DATA_DIR/log/"; then
		echo "the SMTP password is in a log" >&2
		return 1
	fi
}

@test "a new device's sign-in mails the verified address: multipart, escaped, no code" {
	local f ua='<script>alert("x")</script> Evil & Co/1.0'
	verified_user ada
	login_as ada "$ua"
	f=$(mail_wait ada@mail.test 2)
	[[ $(mail_header "$f" Subject) == "New sign-in to your account" ]] || false
	[[ $(mail_header_raw "$f" Content-Type) == multipart/alternative* ]] || false
	[[ $(mail_header_raw "$f" X-Sink-TLS) == yes ]] || false
	[[ $(mail_header_raw "$f" X-Sink-Auth) == yes ]] || false
	[[ $(mail_header_raw "$f" From) == "<chat@chat.test>" ]] || false
	mail_header_raw "$f" Message-ID | grep -qE '^<[0-9a-f-]{36}@chat\.test>$'
	mail_header_raw "$f" Date >/dev/null
	# security: nothing to unsubscribe from
	run ! mail_header_raw "$f" List-Unsubscribe
	run -0 mail_text "$f"
	[[ $output == *"Device: $ua"* ]] || false
	run -0 mail_html "$f"
	[[ $output == *'&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; Evil &amp; Co/1.0'* ]] || false
	[[ $output != *'<script>'* ]] || false
	run ! mail_code "$f"
}

# mail_threads_wait COUNT: until notifyd runs COUNT sender threads (they
# are named mail-send), 20 s at most.
mail_threads_wait() {
	local i n pid
	pid=$(daemon_pid notifyd)
	for ((i = 0; i < 200; i++)); do
		n=$(cat /proc/"$pid"/task/*/comm 2>/dev/null | grep -cx mail-send || true)
		[[ $n == "$1" ]] && return 0
		sleep 0.1
	done
	echo "notifyd runs $n mail sender threads, not $1" >&2
	return 1
}

@test "the sender thread ends when idle and starts again for the next mail" {
	mail_threads_wait 0
	# a code mail (POST /internal/mail) starts it
	verified_user ida
	mail_threads_wait 0
	# and so does a notice's mail stored by the consumer's batch
	login_as ida second/2.0
	mail_wait ida@mail.test 2 >/dev/null
	mail_threads_wait 0
}

@test "no verified address, no mail: unverified or none at all" {
	local uid
	api POST /v1/auth/register '{"username":"bob","password":"password-bob","email":"bob@mail.test"}'
	expect_status 201
	mail_wait bob@mail.test 1 >/dev/null
	login_as bob first/1.0
	login_as bob second/2.0
	uid=$(jb '.user.id')
	new_user cid
	login_as cid other/1.0
	kinds "$access_token" new_device 1
	mail_barrier
	[[ $(mail_count bob@mail.test) == 1 ]] || false
	# the dropped jobs are gone from the store
	run -0 db_query notifyd "SELECT COUNT(*) FROM mail_jobs WHERE kind = 'new_device'"
	[[ $output == 0 ]] || false
}

@test "email switched off stops account mails, never security ones" {
	local f
	verified_user cat
	api PUT /v1/notifications/preferences '{"account":{"email":true}}' "$access_token"
	expect_status 200
	api POST /v1/apikeys '{"name":"<k1>"}' "$access_token"
	expect_status 201
	f=$(mail_wait cat@mail.test 2)
	[[ $(mail_header "$f" Subject) == "An API key was created: <k1>" ]] || false
	run -0 mail_html "$f"
	[[ $output == *'&lt;k1&gt;'* ]] || false
	api PUT /v1/notifications/preferences '{"account":{"email":false}}' "$access_token"
	expect_status 200
	api POST /v1/apikeys '{"name":"k2"}' "$access_token"
	expect_status 201
	mail_barrier
	[[ $(mail_count cat@mail.test) == 2 ]] || false
	# security cannot lose its email channel
	api PUT /v1/notifications/preferences '{"security":{"email":false}}' "$access_token"
	expect_error 400 invalid_field
	login_as cat second/2.0
	f=$(mail_wait cat@mail.test 3)
	[[ $(mail_header "$f" Subject) == "New sign-in to your account" ]] || false
}

@test "List-Unsubscribe: one click, once, for its user and category only" {
	local f url token other
	verified_user dan
	other=$user_id
	verified_user eve
	api PUT /v1/notifications/preferences '{"account":{"email":true}}' "$access_token"
	api POST /v1/apikeys '{"name":"k"}' "$access_token"
	expect_status 201
	f=$(mail_wait eve@mail.test 2)
	[[ $(mail_header_raw "$f" List-Unsubscribe-Post) == "List-Unsubscribe=One-Click" ]] || false
	url=$(mail_header_raw "$f" List-Unsubscribe)
	url=${url#<}
	url=${url%>}
	[[ $url == "http://localhost:$CHAT_PORT/v1/notifications/unsubscribe?token="* ]] || false
	token=${url#*token=}
	mail_text "$f" | grep -qxF "$url"
	# another user's id or another category under the same MAC: refused
	api POST "/v1/notifications/unsubscribe?token=$other.${token#*.}"
	expect_error 400 invalid_token
	api POST "/v1/notifications/unsubscribe?token=${token%%.*}.security.${token#*.*.}"
	expect_error 400 invalid_token
	# a MAC with one character changed (not the last: base64url's last
	# character may carry padding bits, so changing it may change nothing)
	local i=$((${#token} - 5)) c
	c=${token:i:1}
	[[ $c == A ]] && c=B || c=A
	api POST "/v1/notifications/unsubscribe?token=${token:0:i}$c${token:i+1}"
	expect_error 400 invalid_token
	# a GET (a link scanner) changes nothing: it shows the button
	api GET "/v1/notifications/unsubscribe?token=$token"
	expect_status 200
	[[ $body == *'<form method="post"'* ]] || false
	api GET /v1/notifications/preferences "" "$access_token"
	jq -e '.preferences.account.email == true' <<<"$body" >/dev/null
	# RFC 8058's POST, without a sign-in
	api_args=(-H 'Content-Type: application/x-www-form-urlencoded')
	api POST "/v1/notifications/unsubscribe?token=$token" "List-Unsubscribe=One-Click"
	expect_status 200
	jq -e '.category == "account" and .email == false' <<<"$body" >/dev/null
	api GET /v1/notifications/preferences "" "$access_token"
	jq -e '.preferences.account == {in_app: true, email: false, webhook: false, locked: false}' \
		<<<"$body" >/dev/null
	api POST "/v1/notifications/unsubscribe?token=$token"
	expect_error 410 token_used
	# the other user's preferences are untouched
	login_user dan
	api GET /v1/notifications/preferences "" "$access_token"
	jq -e '.preferences.account.email == false and .preferences.security.email == true' \
		<<<"$body" >/dev/null
}

@test "an erased account's unsubscribe link stores nothing" {
	local f url uid
	verified_user jay
	uid=$user_id
	api PUT /v1/notifications/preferences '{"account":{"email":true}}' "$access_token"
	api POST /v1/apikeys '{"name":"k"}' "$access_token"
	expect_status 201
	f=$(mail_wait jay@mail.test 2)
	url=$(mail_header_raw "$f" List-Unsubscribe)
	url=${url#<}
	url=${url%>}
	login_user root
	api DELETE /v1/admin/users/jay "" "$access_token"
	expect_status 204
	notify_caught_up
	[[ $(db_query notifyd "SELECT COUNT(*) FROM erased WHERE user_id = '$uid'") == 1 ]] || false
	api POST "/v1/notifications/unsubscribe?token=${url#*token=}"
	expect_error 400 invalid_token
	run -0 db_query notifyd "SELECT (SELECT COUNT(*) FROM preferences WHERE user_id = '$uid')
		+ (SELECT COUNT(*) FROM mail_unsubscribed WHERE user_id = '$uid')
		+ (SELECT COUNT(*) FROM mail_jobs WHERE user_id = '$uid')"
	[[ $output == 0 ]] || { echo "rows left: $output" >&2; false; }
}

@test "code mails: the code alone on a line, erased once sent" {
	local f
	verified_user fay
	internal_mail "$user_id" fay-new@mail.test password_reset Q7-RESET-0042
	[[ $status_code == 202 ]] || false
	f=$(mail_wait fay-new@mail.test 1)
	[[ $(mail_code "$f") == Q7-RESET-0042 ]] || false
	[[ $(mail_header "$f" Subject) == "Your password reset code" ]] || false
	run ! mail_header_raw "$f" List-Unsubscribe
	run -0 db_query notifyd "SELECT COUNT(*) FROM mail_jobs WHERE code IS NOT NULL"
	[[ $output == 0 ]] || false
	# what it refuses
	internal_mail "$user_id" 'x@y.test>\r\nBcc: z@y.test' email_verify 123456
	[[ $status_code == 400 ]] || false
	internal_mail "$user_id" fay@mail.test newsletter 123456
	[[ $status_code == 400 ]] || false
	internal_mail "$user_id" fay@mail.test email_verify $'12\n34'
	[[ $status_code == 400 ]] || false
}

@test "no STARTTLS, then a refused password, then down: retried until sent, no secret logged" {
	local f n
	verified_user gus
	smtp_sink_stop
	smtp_sink_start --no-tls --auth "$SMTP_USER:$SMTP_SECRET"
	n=$(log_count "STARTTLS not supported")
	internal_mail "$user_id" gus@mail.test email_verify TLS-0001
	[[ $status_code == 202 ]] || false
	# STARTTLS is required: nothing goes out in the clear
	log_wait "STARTTLS not supported" "$n"
	[[ $(mail_count gus@mail.test) == 1 ]] || false
	# TLS, but the server refuses the password
	smtp_sink_stop
	n=$(log_count "Login denied")
	smtp_sink_start --auth "$SMTP_USER:another-password"
	log_wait "Login denied" "$n"
	[[ $(mail_count gus@mail.test) == 1 ]] || false
	# down
	smtp_sink_stop
	n=$(log_count "not sent.*connect")
	log_wait "not sent.*connect" "$n"
	smtp_sink_start --auth "$SMTP_USER:$SMTP_SECRET"
	f=$(mail_wait gus@mail.test 2 60)
	[[ $(mail_code "$f") == TLS-0001 ]] || false
	[[ $(mail_header_raw "$f" X-Sink-TLS) == yes ]] || false
	[[ $(mail_count gus@mail.test) == 2 ]] || false
	no_secret_in_logs
}

@test "notifyd killed with a mail queued: sent after its restart" {
	local pid f
	verified_user hal
	smtp_sink_stop
	internal_mail "$user_id" hal@mail.test password_reset KILL-0009
	[[ $status_code == 202 ]] || false
	pid=$(daemon_pid notifyd)
	kill -9 "$pid"
	while process_alive "$pid"; do sleep 0.05; done
	smtp_sink_start --auth "$SMTP_USER:$SMTP_SECRET"
	start_daemon notifyd
	f=$(mail_wait hal@mail.test 2 60)
	[[ $(mail_code "$f") == KILL-0009 ]] || false
	no_secret_in_logs
}

@test "smtps:// from CHAT_SMTP_URL; with an empty URL mail is off" {
	local f
	verified_user ivy
	stop_daemon notifyd
	smtp_sink_stop
	smtp_sink_start --smtps --auth "$SMTP_USER:$SMTP_SECRET"
	CHAT_SMTP_URL=smtps://127.0.0.1:$SMTP_SINK_PORT start_daemon notifyd
	internal_mail "$user_id" ivy@mail.test password_reset SMTPS-0007
	[[ $status_code == 202 ]] || false
	f=$(mail_wait ivy@mail.test 2)
	[[ $(mail_code "$f") == SMTPS-0007 ]] || false
	[[ $(mail_header_raw "$f" X-Sink-TLS) == yes ]] || false
	stop_daemon notifyd
	CHAT_SMTP_URL= start_daemon notifyd
	grep -q "email is off" "$CHAT_DATA_DIR/log/notifyd.log"
	internal_mail "$user_id" ivy@mail.test password_reset OFF-0001
	[[ $status_code == 503 ]] || false
	[[ $(jq -r .error.code <<<"$body") == email_disabled ]] || false
	# back as the other tests had it
	stop_daemon notifyd
	smtp_sink_stop
	smtp_sink_start --auth "$SMTP_USER:$SMTP_SECRET"
	start_daemon notifyd
	no_secret_in_logs
}
