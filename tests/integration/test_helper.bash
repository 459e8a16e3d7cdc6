# test_helper.bash - shared helpers of the bats integration tests.
#
# A test file starts its own stack in setup_file and stops it in
# teardown_file:
#
#   setup_file() { load test_helper; start_stack; }
#   teardown_file() { load test_helper; stop_stack; }
#   setup() { load test_helper; }
#
# The stack gets a data dir under $BATS_FILE_TMPDIR, a free port, cheap
# argon2id settings, no registration limit to speak of and the store
# named by CHAT_TEST_DATABASE ("sqlite", the default, or a postgresql://
# URI of a test server: each file then gets a database of its own).
# `api` calls the gateway and leaves the answer in $status_code, $body and
# $headers.

bats_require_minimum_version 1.5.0

CHAT_ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
STACK=$CHAT_ROOT/scripts/stack

# A random port P where P..P+8 are all free (the gateway takes P, the
# daemons P+1, P+2, ...).  Below the kernel's ephemeral range, so that no
# outgoing connection can hold one of them by the time the daemons bind.
free_port() {
	local used port i attempt low=32768 hi
	read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
	hi=$((low - 10))
	((hi > 11000)) || hi=32000
	used=" $(ss -Htan 2>/dev/null | awk '{n = split($4, a, ":"); printf "%s ", a[n]}') "
	for ((attempt = 0; attempt < 200; attempt++)); do
		port=$((10000 + (RANDOM * 32768 + RANDOM) % (hi - 10000)))
		for ((i = 0; i <= 8; i++)); do
			[[ $used == *" $((port + i)) "* ]] && continue 2
		done
		echo "$port"
		return 0
	done
	echo "free_port: no free port range found" >&2
	return 1
}

# psql against the test server, as its superuser.
pg_admin() {
	psql -X -q -v ON_ERROR_STOP=1 "$CHAT_TEST_DATABASE" "$@"
}

# start_stack [CONFIG-LINE...]: starts the stack for this file; extra lines
# go at the end of the config file ("[userd]", "registration = closed").
start_stack() {
	local line dbname
	export CHAT_DATA_DIR=$BATS_FILE_TMPDIR/data
	export CHAT_CONFIG=$BATS_FILE_TMPDIR/chat.conf
	CHAT_PORT=$(free_port) || return 1
	export CHAT_PORT
	{
		echo "# written by test_helper.bash"
		# every test registers from 127.0.0.1: no hourly limit to
		# speak of (auth-throttle.bats sets its own)
		echo "[userd]"
		echo "register_per_hour = 1000000"
		echo "[auth]"
		echo "argon2_ops = 1"
		echo "argon2_mem_kib = 8"
		for line in "$@"; do
			echo "$line"
		done
	} >"$CHAT_CONFIG"

	case ${CHAT_TEST_DATABASE:-sqlite} in
	postgres://* | postgresql://*)
		# a database per file, so that files never see each other's rows
		dbname=t_$(basename "$BATS_TEST_FILENAME" .bats | tr -c 'a-zA-Z0-9\n' _)_${RANDOM}${RANDOM}
		pg_admin -c "CREATE DATABASE $dbname" || return 1
		export CHAT_DATABASE=${CHAT_TEST_DATABASE%/*}/$dbname
		echo "$dbname" >"$BATS_FILE_TMPDIR/pg-dbname"
		;;
	*)
		export CHAT_DATABASE=${CHAT_TEST_DATABASE:-sqlite}
		;;
	esac
	"$STACK" start 3>&-
}

# stop_stack: stops the file's stack; fails when a daemon's log holds a
# sanitizer report (the leak check runs when a daemon exits), so that a
# `make asan` run catches them.
stop_stack() {
	local dbname reports f
	[[ -n ${CHAT_DATA_DIR:-} ]] || return 0
	"$STACK" stop 3>&- || true
	if [[ -s $BATS_FILE_TMPDIR/pg-dbname ]]; then
		dbname=$(<"$BATS_FILE_TMPDIR/pg-dbname")
		pg_admin -c "DROP DATABASE IF EXISTS $dbname" || true
	fi
	reports=$(grep -l -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' \
		"$CHAT_DATA_DIR"/log/*.log 2>/dev/null || true)
	[[ -z $reports ]] && return 0
	for f in $reports; do
		echo "--- sanitizer report in $f" >&2
		grep -E -A30 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$f" |
			head -n 60 >&2
	done
	return 1
}

# The gateway's base URL.
base_url() {
	echo "http://127.0.0.1:$CHAT_PORT"
}

# api METHOD PATH [BODY [TOKEN]]: a request through the gateway.  BODY is
# JSON text, or @FILE for a file's bytes; TOKEN goes in a Bearer header.
# Extra curl arguments (headers) may be put in the array api_args, which
# is emptied afterwards.  Sets status_code, body (the answer's body) and
# headers (the answer's header lines, CR removed).
api() {
	local method=$1 path=$2 data=${3-} token=${4-} out
	local tmp=${BATS_TEST_TMPDIR:-$BATS_FILE_TMPDIR}	# also in setup_file
	local -a args=(-s -X "$method" --max-time 10 -o "$tmp/api.body"
		-D "$tmp/api.headers" -w '%{http_code}')
	[[ -n $token ]] && args+=(-H "Authorization: Bearer $token")
	[[ -n $data ]] && args+=(-H 'Content-Type: application/json' --data-binary "$data")
	args+=("${api_args[@]}")
	api_args=()
	out=$(curl "${args[@]}" "$(base_url)$path") || out=000
	status_code=$out
	# $(<FILE), not cat and tr: the same text (trailing newlines
	# dropped) without two programs per call, which every test makes
	# by the dozen
	body= headers=
	[[ -r $tmp/api.body ]] && body=$(<"$tmp/api.body")
	if [[ -r $tmp/api.headers ]]; then
		headers=$(<"$tmp/api.headers")
		headers=${headers//$'\r'/}
		headers=${headers%"${headers##*[!$'\n']}"}
	fi
	return 0
}
api_args=()

# A value from the last answer's body: jb '.error.code'.
jb() {
	jq -r "$1" <<<"$body"
}

# A header of the last answer (case-insensitive name).
header() {
	awk -v n="${1,,}" -F': ' \
		'tolower($1) == n { sub(/^[^:]*: /, ""); print; exit }' <<<"$headers"
}

# expect_error STATUS CODE: the last answer is the error envelope.  One
# jq for the code and whether message and request_id are there (not
# three: this runs after most requests of the suite).
expect_error() {
	local got=
	got=$(jq -r '"\(.error.code) \((.error.message // "") != "")" +
		" \((.error.request_id // "") != "")"' <<<"$body" 2>/dev/null) || got=
	if [[ $status_code != "$1" || ${got%% *} != "$2" ]]; then
		echo "expected $1 '$2', got $status_code: $body" >&2
		return 1
	fi
	[[ ${got#* } == "true true" ]] || {
		echo "not an error envelope: $body" >&2
		return 1
	}
}

# expect_status STATUS: the last answer had that status.
expect_status() {
	[[ $status_code == "$1" ]] || {
		echo "expected status $1, got $status_code: $body" >&2
		return 1
	}
}

# register_user NAME [PASSWORD]: sets user_id.
register_user() {
	api POST /v1/auth/register "$(jq -nc --arg u "$1" --arg p "${2:-password-$1}" \
		'{username: $u, password: $p}')"
	expect_status 201 || return 1
	user_id=$(jb '.user.id')
}

# login_user NAME [PASSWORD]: sets access_token, refresh_token and
# session_id (the access token's sid).
login_user() {
	api POST /v1/auth/login "$(jq -nc --arg u "$1" --arg p "${2:-password-$1}" \
		'{username: $u, password: $p}')"
	expect_status 200 || return 1
	# one jq for the three (jwt_claim's decoding, in jq): logins come
	# in every test
	access_token= refresh_token= session_id=
	{ read -r access_token && read -r refresh_token &&
		read -r session_id; } < <(jq -r '.access_token, .refresh_token,
		(.access_token | split(".")[1] | gsub("-"; "+") | gsub("_"; "/") |
		@base64d | fromjson | .sid // "")' <<<"$body" 2>/dev/null) || true
}

# new_user NAME: register and log in.
new_user() {
	register_user "$1" && login_user "$1"
}

# jwt_claim TOKEN NAME: a claim of a JWT's payload (not verified).
jwt_claim() {
	local p
	p=$(cut -d. -f2 <<<"$1" | tr '_-' '/+')
	while ((${#p} % 4)); do p+='='; done
	base64 -d <<<"$p" 2>/dev/null | jq -r ".$2 // empty"
}

# Stopping and starting one daemon of the running stack, by its pid file.
stop_daemon() {
	"$STACK" stop "$1" 3>&-
}

start_daemon() {
	"$STACK" start "$1" 3>&-
}

# True while process PID runs (a zombie waiting for its reaper does not).
process_alive() {
	kill -0 "$1" 2>/dev/null || return 1
	[[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]
}

# The pid of a running daemon (from its pid file).
daemon_pid() {
	cat "$CHAT_DATA_DIR/run/$1.pid"
}

# db_query SERVICE SQL: runs SQL on a service's store (its SQLite file, or
# its schema on PostgreSQL); rows as text, columns separated by '|'.
db_query() {
	local service=$1 sql=$2
	case $CHAT_DATABASE in
	postgres://* | postgresql://*)
		psql -X -q -t -A -v ON_ERROR_STOP=1 "$CHAT_DATABASE" \
			-c "SET search_path TO $service" -c "$sql"
		;;
	*)
		sqlite3 -cmd '.timeout 5000' "$CHAT_DATA_DIR/$service.db" "$sql"
		;;
	esac
}

# A file of N bytes of JSON: {"x":"aaaa..."}.
big_json_file() {
	local n=$1 file=$BATS_TEST_TMPDIR/big.json
	{
		printf '{"x":"'
		head -c "$((n - 8))" /dev/zero | tr '\0' a
		printf '"}'
	} >"$file"
	echo "$file"
}

# Test fixtures (fake LLM upstream, WebSocket client): built by make into
# build/fixtures, or CHAT_FIXTURES for a private build.
FIXTURES=${CHAT_FIXTURES:-$CHAT_ROOT/build/fixtures}

# start_fakellm: starts the fake LLM upstream (tests/fixtures/fakellm) on
# a free port for this file; sets and exports FAKELLM_PORT and FAKELLM_URL.
# Call it before start_stack so the stack's config can point at it.
start_fakellm() {
	local pf=$BATS_FILE_TMPDIR/fakellm.port i
	rm -f "$pf"
	"$FIXTURES/fakellm" -p 0 -f "$pf" >"$BATS_FILE_TMPDIR/fakellm.log" 2>&1 3>&- &
	echo $! >"$BATS_FILE_TMPDIR/fakellm.pid"
	for ((i = 0; i < 100; i++)); do
		[[ -s $pf ]] && break
		sleep 0.05
	done
	[[ -s $pf ]] || {
		echo "fakellm did not start:" >&2
		cat "$BATS_FILE_TMPDIR/fakellm.log" >&2
		return 1
	}
	FAKELLM_PORT=$(<"$pf")
	FAKELLM_URL=http://127.0.0.1:$FAKELLM_PORT
	export FAKELLM_PORT FAKELLM_URL
}

# stop_fakellm: stops it by its recorded pid.
stop_fakellm() {
	local pf=$BATS_FILE_TMPDIR/fakellm.pid pid
	[[ -s $pf ]] || return 0
	pid=$(<"$pf")
	kill "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	rm -f "$pf"
}

# fakellm_stats: the fake upstream's counters (GET /_stats) into $body.
fakellm_stats() {
	body=$(curl -s --max-time 5 "$FAKELLM_URL/_stats")
}

# fake_words N: the fake upstream's answer of N words, "w1 w2 ... wN".
fake_words() {
	local i out=""
	for ((i = 1; i <= $1; i++)); do
		out+="${out:+ }w$i"
	done
	echo "$out"
}

# fake_stat NAME: one counter of the fake upstream, on stdout.
fake_stat() {
	curl -s --max-time 5 "$FAKELLM_URL/_stats" | jq -r ".$1"
}

# wait_stat NAME MIN: waits up to 3 s for the counter to reach MIN.
wait_stat() {
	local i v
	for ((i = 0; i < 60; i++)); do
		v=$(fake_stat "$1")
		((v >= $2)) && return 0
		sleep 0.05
	done
	echo "fakellm $1 is $v, expected at least $2" >&2
	return 1
}
