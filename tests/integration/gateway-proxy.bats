#!/usr/bin/env bats
# The gateway's HTTP/1.1 client on its loop (shared/http-loop.c) against
# an upstream that answers in every framing HTTP/1.1 has and in a few
# broken ways: the oddup fixture (tests/fixtures/oddup), routed at /v1/t.
#
# CHAT_FIXTURES: where the fixtures are built (build/fixtures).

setup_file() {
	load test_helper
	local pf=$BATS_FILE_TMPDIR/oddup.port i
	[[ -x $FIXTURES/oddup ]] || {
		echo "fixture not built in '$FIXTURES' (make)" >&2
		return 1
	}
	"$FIXTURES/oddup" -p 0 -f "$pf" >"$BATS_FILE_TMPDIR/oddup.log" 2>&1 3>&- &
	echo $! >"$BATS_FILE_TMPDIR/oddup.pid"
	for ((i = 0; i < 100; i++)); do
		[[ -s $pf ]] && break
		sleep 0.05
	done
	[[ -s $pf ]] || {
		echo "oddup did not start:" >&2
		cat "$BATS_FILE_TMPDIR/oddup.log" >&2
		return 1
	}
	start_stack "[routes]" "/v1/t = oddup" \
		"[oddup]" "url = http://127.0.0.1:$(<"$pf")" \
		"[gatewayd]" "idle_timeout_s = 1" "metrics_token = scrape-secret"
}

teardown_file() {
	load test_helper
	stop_stack
	[[ -s $BATS_FILE_TMPDIR/oddup.pid ]] && kill "$(<"$BATS_FILE_TMPDIR/oddup.pid")" 2>/dev/null
	true
}

setup() {
	load test_helper
}

# oddup_stat NAME: a counter of the fixture.
oddup_stat() {
	api GET /v1/t/stats
	expect_status 200
	jb ".$1"
}

@test "a request reaches the upstream with its body, the path encoded again, and only the gateway's trust headers" {
	api_args=(-H 'X-Chat-User-Id: evil' -H 'X-Forwarded-For: 10.9.9.9' -H 'Idempotency-Key: kept')
	api POST '/v1/t/echo/a%20b?x=1&y=%2F' '{"k":"v"}'
	expect_status 200
	[[ $body == "POST /v1/t/echo/a%20b?x=1&y=%2F HTTP/1.1"$'\r\n'* ]] || false
	[[ $body == *$'\r\nbody={"k":"v"}' ]] || false
	grep -qi '^content-length: 9' <<<"$body"
	grep -qi '^idempotency-key: kept' <<<"$body"
	grep -qi '^x-forwarded-for: 127.0.0.1' <<<"$body"
	grep -qi '^x-chat-internal: ' <<<"$body"
	! grep -qi 'evil\|10\.9\.9\.9' <<<"$body" || false
	[[ $(header content-type) == text/plain ]] || false
}

@test "a 100-continue head is skipped; a chunked answer with extensions and a trailer streams through" {
	api GET /v1/t/chunked
	expect_status 201
	[[ $body == $'data: 0\n\ndata: 1\n\ndata: 2' ]] || false
	[[ $(header content-type) == text/event-stream ]] || false
}

@test "an answer that ends with its connection arrives whole" {
	api GET /v1/t/close
	expect_status 200
	[[ ${#body} == 70012 && $body == until-close-x* ]] || false
}

@test "a 3 MB answer with a length arrives whole" {
	local n
	n=$(curl -s --max-time 10 "$(base_url)/v1/t/big" | wc -c)
	[[ $n == 3000000 ]] || false
}

@test "HEAD gives the head and no body" {
	local out
	out=$(curl -s -I --max-time 5 "$(base_url)/v1/t/echo" | tr -d '\r')
	[[ $out == "HTTP/1.1 200 OK"* ]] || false
	grep -qi '^content-type: text/plain' <<<"$out"
	# and the connection it used still serves the next call
	api GET /v1/t/echo
	expect_status 200
}

@test "an answer cut short ends as an error for the client, and the next call works" {
	# the upstream promised 100 bytes and closed after five: the client
	# gets the five and a connection closed early, never a whole answer
	run curl -s --max-time 10 "$(base_url)/v1/t/cut"
	[ "$status" -eq 18 ] || { echo "curl $status: $output"; false; }
	[ "$output" = short ]
	api GET /v1/t/echo
	expect_status 200
}

@test "an upstream that closes without an answer gives 503 at once" {
	api GET /v1/t/drop
	expect_error 503 upstream_unavailable
}

@test "a head over 64 KiB gives 502" {
	api GET /v1/t/bighead
	expect_error 502 bad_gateway
}

@test "a silent upstream gives 504 after the idle timeout" {
	local t0=$SECONDS
	api GET /v1/t/silent
	expect_error 504 upstream_timeout
	((SECONDS - t0 <= 3)) || false
}

@test "calls one after another share one upstream connection" {
	local before after
	before=$(oddup_stat accepted)
	for _ in 1 2 3 4 5; do
		api POST /v1/t/echo '{"n":1}'
		expect_status 200
	done
	after=$(oddup_stat accepted)
	[[ $after == "$before" ]] || {
		echo "new upstream connections: $before -> $after" >&2
		false
	}
}

@test "a client that leaves mid-stream closes the upstream connection" {
	local before i
	before=$(oddup_stat aborted)
	curl -s -N --max-time 0.4 "$(base_url)/v1/t/slow" >/dev/null || true
	for ((i = 0; i < 40; i++)); do
		[[ $(oddup_stat aborted) -gt $before ]] && return 0
		sleep 0.1
	done
	echo "the upstream kept streaming to nobody" >&2
	false
}

@test "/metrics answers only a scraper with gatewayd.metrics_token" {
	api GET /metrics
	expect_error 401 unauthorized
	grep -qi '^www-authenticate: Bearer' <<<"$headers"
	api GET /metrics "" wrong-secret
	expect_error 401 unauthorized
	api GET /metrics "" scrape-secret
	expect_status 200
	[[ $body == *gatewayd_requests_total* ]] || false
}
