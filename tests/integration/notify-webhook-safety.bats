#!/usr/bin/env bats
# notifyd's webhook deliveries without an allowlist (issue 15): every
# address a delivery would connect to is checked when it connects, so
# an endpoint at 127.0.0.1, at a name that resolves to loopback
# (localhost), at the metadata address 169.254.169.254, or at an IPv6
# form of loopback is refused, the receiver (listening on 127.0.0.1)
# never hears of it, and the log says only the address's class.  With
# notifyd.webhook_disable_after_s at 1, an endpoint whose attempts all
# failed for a second is disabled and its owner told.

bats_require_minimum_version 1.5.0

setup_file() {
	load test_helper
	load webhook_helper
	wh_receiver_start
	start_stack "[notifyd]" "webhook_retry_schedule = 1" \
		"webhook_timeout_ms = 2000" "webhook_disable_after_s = 1"
	new_user alice
	echo "alice_token=$access_token" >"$BATS_FILE_TMPDIR/vars"
}

teardown_file() {
	load test_helper
	load webhook_helper
	stop_stack
	wh_receiver_stop
}

setup() {
	load test_helper
	load webhook_helper
	source "$BATS_FILE_TMPDIR/vars"
}

# refused URL CLASS: an endpoint at URL gets its test refused, twice (the
# schedule's retry too), with CLASS in the log, and the receiver nothing.
refused() {
	api POST /v1/webhooks "$(jq -nc --arg u "$1" '{url: $u, events: ["webhook.test"]}')" "$alice_token"
	expect_status 201 || return 1
	ep=$(jb .id)
	wh_test "$alice_token" "$ep" || return 1
	wh_deliveries_wait "$alice_token" "$ep" 2 || return 1
	[[ $(jq -c '[.data[] | [.status, .outcome, .response]] | unique' <<<"$body") == "[[0,\"refused\",\"address not allowed ($2)\"]]" ]] || {
		echo "$1: $body" >&2
		return 1
	}
	[[ $(jq length <<<"$(wh_requests "$msg")") == 0 ]] || {
		echo "$1: the receiver got it" >&2
		return 1
	}
}

@test "loopback by address, by name and in IPv6 forms is refused" {
	local port=${WH_URL##*:}
	refused "http://127.0.0.1:$port/ok" loopback
	refused "http://localhost:$port/ok" loopback
	refused "http://[::ffff:127.0.0.1]:$port/ok" loopback
	refused "http://127.1.2.3:$port/ok" loopback
}

@test "the metadata address and private ranges are refused" {
	refused "http://169.254.169.254/latest/meta-data/" metadata
	refused "http://10.0.0.1:9/ok" private
	refused "http://0.0.0.0:9/ok" unspecified
}

@test "an endpoint failing every attempt that long is disabled, owner told" {
	refused "http://127.0.0.1:${WH_URL##*:}/ok" loopback
	api GET "/v1/webhooks/$ep" "" "$alice_token"
	[[ $(jq -c '[.enabled, .disabled_reason]' <<<"$body") == '[false,"failing"]' ]] || false
	api GET /v1/notifications "" "$alice_token"
	[[ $(jq --arg ep "$ep" '[.data[] | select(.kind == "webhook_disabled" and .data.reason == "failing" and .data.endpoint_id == $ep)] | length' <<<"$body") == 1 ]] || false
}
