#!/usr/bin/env bats
# bats file_tags=store:any
# gatewayd's file server for the web page (daemons/gatewayd/web.c): types,
# ETag and 304, caching, gzip, HEAD, Range, the page for client-side
# routes and JSON for API paths, the security headers, and every path
# that tries to leave the directory (raw and encoded dot segments,
# encoded slashes and backslashes, double encoding, NUL, huge paths,
# symbolic links out).  The page is a directory of this file's own.

setup_file() {
	load test_helper
	local web=$BATS_FILE_TMPDIR/web out=$BATS_FILE_TMPDIR/outside i
	mkdir -p "$web/js" "$web/vendor" "$web/img" "$out"
	{
		echo '<!doctype html><html><head><title>chat</title>'
		echo '<script type="module" src="/js/app.js"></script></head>'
		for ((i = 0; i < 40; i++)); do
			echo "<p>the page, line $i, repeated so that gzip pays</p>"
		done
		echo '</html>'
	} >"$web/index.html"
	for ((i = 0; i < 40; i++)); do
		echo "export const line$i = 'some javascript, line $i';"
	done >"$web/js/app.js"
	echo 'body { color: black; }' >"$web/app.css"
	echo 'export const lib = 1;' >"$web/vendor/lib-0123abcd.js"
	echo 'export const lib = 2;' >"$web/vendor/lib-0123abc.js"
	printf '\x89PNG\r\n\x1a\n%0200d' 0 >"$web/img/logo.png"
	printf 'wOF2%0200d' 0 >"$web/font.woff2"
	printf '%0200d' 0 >"$web/favicon.ico"
	echo '<svg xmlns="http://www.w3.org/2000/svg"></svg>' >"$web/icon.svg"
	echo '{"a":1}' >"$web/data.json"
	echo '{"version":3}' >"$web/js/app.js.map"
	echo 'plain notes' >"$web/notes.txt"
	echo 'no type of ours' >"$web/blob.bin"
	echo 'a dot file' >"$web/.secret"
	echo 'outside the directory' >"$out/secret.txt"
	ln -s "$out/secret.txt" "$web/out.txt"
	ln -s "$out" "$web/outdir"
	ln -s ../../outside/secret.txt "$web/js/rel.txt"
	ln -s notes.txt "$web/in.txt"
	# a prefix of the route map is the API's, whatever its name
	start_stack "[web]" "dir = $web" "[routes]" "/custom = userd"
}

teardown_file() {
	load test_helper
	stop_stack
}

setup() {
	load test_helper
	WEB=$BATS_FILE_TMPDIR/web
}

# page PATH [CURL-ARG...]: GET (or what the args say) of PATH sent as it
# is; sets status_code, headers and body (the file $tmp/page.body holds
# the bytes as they came).
page() {
	local path=$1 tmp=$BATS_TEST_TMPDIR
	shift
	rm -f "$tmp/page.body"	# curl writes no file for an empty body
	status_code=$(curl -s --path-as-is --max-time 10 -o "$tmp/page.body" \
		-D "$tmp/page.headers" -w '%{http_code}' "$@" \
		"$(base_url)$path") || status_code=000
	headers=$(tr -d '\r' <"$tmp/page.headers" 2>/dev/null || true)
	body=$(cat "$tmp/page.body" 2>/dev/null || true)
}

# The contract's headers on the last answer, exactly.
expect_security_headers() {
	local csp="default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
	[[ $(header Content-Security-Policy) == "$csp" ]] || {
		echo "bad CSP in: $headers" >&2
		return 1
	}
	[[ $(header X-Content-Type-Options) == nosniff ]] || false
	[[ $(header Referrer-Policy) == no-referrer ]] || false
	[[ $(header Cross-Origin-Opener-Policy) == same-origin ]] || false
}

# The last answer is the file's bytes, served as itself.
expect_file() {
	expect_status 200
	cmp "$BATS_TEST_TMPDIR/page.body" "$WEB/$1"
}

# The last answer is a 404 of the page: the envelope, not the page.
expect_page_404() {
	expect_error 404 not_found
	expect_security_headers
	[[ $body != *'<!doctype html>'* ]] || false
	[[ $body != *'outside the directory'* ]] || false
}

@test "/ is index.html with the security headers and no-cache" {
	page /
	expect_file index.html
	[[ $(header Content-Type) == 'text/html; charset=utf-8' ]] || false
	[[ $(header Cache-Control) == no-cache ]] || false
	[[ $(header ETag) =~ ^\"[0-9a-f]{16}\"$ ]] || false
	[[ $(header Accept-Ranges) == none ]] || false
	expect_security_headers
	page /index.html
	expect_file index.html
}

@test "each extension gets its type" {
	local f want
	while read -r f want; do
		page "/$f"
		expect_file "$f"
		[[ $(header Content-Type) == "$want" ]] || {
			echo "$f: $(header Content-Type), want $want" >&2
			return 1
		}
		expect_security_headers
	done <<-'EOF'
		js/app.js text/javascript; charset=utf-8
		app.css text/css; charset=utf-8
		img/logo.png image/png
		font.woff2 font/woff2
		favicon.ico image/x-icon
		icon.svg image/svg+xml
		data.json application/json
		js/app.js.map application/json
		notes.txt text/plain; charset=utf-8
		blob.bin application/octet-stream
	EOF
}

@test "content-hashed names are immutable, the rest no-cache" {
	page /vendor/lib-0123abcd.js
	expect_file vendor/lib-0123abcd.js
	[[ $(header Cache-Control) == 'public, max-age=31536000, immutable' ]] || false
	# seven hex digits are not a content hash
	page /vendor/lib-0123abc.js
	expect_file vendor/lib-0123abc.js
	[[ $(header Cache-Control) == no-cache ]] || false
}

@test "If-None-Match with the ETag gives 304 without a body" {
	local etag
	page /js/app.js
	etag=$(header ETag)
	[[ -n $etag ]] || false
	page /js/app.js -H "If-None-Match: $etag"
	expect_status 304
	[[ -z $body ]] || false
	[[ $(header ETag) == "$etag" ]] || false
	[[ $(header Cache-Control) == no-cache ]] || false
	expect_security_headers
	page /js/app.js -H "If-None-Match: \"nope\", W/$etag"
	expect_status 304
	page /js/app.js -H 'If-None-Match: *'
	expect_status 304
	page /js/app.js -H 'If-None-Match: "0000000000000000"'
	expect_file js/app.js
	# the page of a client route is index.html, with its tag
	page /
	etag=$(header ETag)
	page /settings -H "If-None-Match: $etag"
	expect_status 304
}

@test "gzip when the client takes it, with Vary" {
	local etag
	page /index.html -H 'Accept-Encoding: gzip'
	expect_status 200
	[[ $(header Content-Encoding) == gzip ]] || false
	[[ $(header Vary) == Accept-Encoding ]] || false
	[[ $(header ETag) =~ ^\"[0-9a-f]{16}-gz\"$ ]] || false
	gunzip -c "$BATS_TEST_TMPDIR/page.body" | cmp - "$WEB/index.html"
	(($(stat -c %s "$BATS_TEST_TMPDIR/page.body") < $(stat -c %s "$WEB/index.html"))) || false
	etag=$(header ETag)
	page /index.html -H 'Accept-Encoding: gzip' -H "If-None-Match: $etag"
	expect_status 304
	[[ $(header ETag) == "$etag" ]] || false
	# curl decodes it itself
	page /js/app.js --compressed
	expect_file js/app.js
	# refused, or not asked for: identity, still with Vary
	page /index.html -H 'Accept-Encoding: gzip;q=0, br'
	expect_file index.html
	[[ -z $(header Content-Encoding) ]] || false
	[[ $(header Vary) == Accept-Encoding ]] || false
	page /index.html
	expect_file index.html
	[[ -z $(header Content-Encoding) ]] || false
	# PNG and fonts are compressed already
	page /img/logo.png -H 'Accept-Encoding: gzip'
	expect_file img/logo.png
	[[ -z $(header Content-Encoding) ]] || false
}

@test "HEAD gives the headers and length without the body" {
	# (curl -I writes the head where the body would go)
	page /js/app.js -I
	expect_status 200
	[[ $body != *'export const'* ]] || false
	[[ $(header Content-Length) == "$(stat -c %s "$WEB/js/app.js")" ]] || false
	[[ $(header Content-Type) == 'text/javascript; charset=utf-8' ]] || false
	expect_security_headers
	page /c/some-conversation -I
	expect_status 200
	[[ $body != *'<!doctype html>'* ]] || false
	[[ $(header Content-Length) == "$(stat -c %s "$WEB/index.html")" ]] || false
}

@test "a Range request gets the whole file with 200" {
	page /js/app.js -H 'Range: bytes=0-3'
	expect_file js/app.js
	[[ $(header Accept-Ranges) == none ]] || false
	[[ -z $(header Content-Range) ]] || false
}

@test "client-side routes get the page, missing files a 404" {
	local p
	for p in /c/01900000-0000-7000-8000-000000000001 /settings /admin \
		/login /c; do
		page "$p"
		expect_file index.html
		[[ $(header Cache-Control) == no-cache ]] || false
		expect_security_headers
	done
	# a name with an extension is a file or nothing: never HTML for a
	# script that is not there
	page /js/missing.js
	expect_page_404
	page /missing.css
	expect_page_404
}

@test "API paths keep their JSON answers" {
	local p
	for p in /v1/no-such-thing /v1 /internal/x /.well-known/nothing; do
		page "$p"
		[[ $status_code == 404 || $status_code == 403 ]] || false
		[[ -n $(jb .error.code) ]] || false
		[[ $(header Content-Type) == application/json* ]] || false
		[[ -z $(header Content-Security-Policy) ]] || false
	done
	page /custom/thing
	expect_error 404 not_found
	[[ -z $(header Content-Security-Policy) ]] || false
	page /healthz
	expect_status 200
	[[ $(jb .status) == ok ]] || false
	page /metrics
	expect_error 404 not_found
	# an API POST is the API's, not the page's 405
	page /v1/auth/login -X POST -H 'Content-Type: application/json' -d '{}'
	[[ $status_code == 400 ]] || false
}

@test "methods other than GET and HEAD get 405 with Allow" {
	local m
	for m in POST PUT DELETE PATCH OPTIONS; do
		page /settings -X "$m"
		expect_error 405 method_not_allowed
		[[ $(header Allow) == 'GET, HEAD' ]] || false
		expect_security_headers
	done
	page / -X POST -d x
	expect_error 405 method_not_allowed
}

@test "dot segments, raw and encoded, never leave the directory" {
	local p
	for p in /../../../../etc/passwd /js/../index.html /./index.html \
		/js/./app.js /.. /%2e%2e/%2e%2e/etc/passwd \
		/%2E%2E/%2E%2E/etc/passwd /js/%2e%2e/index.html \
		/..%2f..%2f..%2fetc%2fpasswd /js%2f..%2f..%2foutside%2fsecret.txt \
		/%2e/index.html /.%2e/etc/passwd /js/.%2E/index.html; do
		page "$p"
		expect_page_404
	done
}

@test "backslashes, double encoding and empty segments are refused" {
	local p
	for p in '/..%5c..%5cetc%5cpasswd' '/js%5capp.js' '/%5c' \
		'/%252e%252e/%252e%252e/etc/passwd' '/%252e%252e%252findex.html' \
		'/js%252fapp.js' '//index.html' '/js//app.js' '/js/' \
		'/settings/' '/%2f%2findex.html'; do
		page "$p"
		expect_page_404
	done
	# an encoded '/' is a '/': the same file, inside the directory
	page /js%2fapp.js
	expect_file js/app.js
}

@test "NUL and control bytes are a bad request" {
	local p
	for p in '/index.html%00' '/index.html%00.txt' '/%00' '/js%00/app.js' \
		'/a%0d%0aSet-Cookie:%20x=1' '/%1f' '/%7f'; do
		page "$p"
		expect_error 400 bad_request
		[[ -z $(header Set-Cookie) ]] || false
	done
}

@test "huge paths get 414" {
	local long
	long=/$(printf 'a%.0s' {1..2000})
	page "$long"
	expect_error 414 uri_too_long
	expect_security_headers
	long=/$(printf 'a%.0s' {1..9000})
	page "$long"
	expect_status 414
	# the gateway still answers
	page /
	expect_file index.html
}

@test "dot files and directories are not served, nor listed" {
	page /.secret
	expect_page_404
	page /js
	expect_page_404
	page /vendor
	expect_page_404
	page /img/
	expect_page_404
}

@test "symbolic links out of the directory are refused, links inside served" {
	page /out.txt
	expect_page_404
	page /outdir/secret.txt
	expect_page_404
	page /js/rel.txt
	expect_page_404
	page /in.txt
	expect_file notes.txt
	[[ $(header Content-Type) == 'text/plain; charset=utf-8' ]] || false
}

@test "a changed, added or removed file is served anew" {
	local etag i
	page /notes.txt
	expect_file notes.txt
	etag=$(header ETag)
	echo 'notes, second version' >"$WEB/notes.txt.new"
	mv "$WEB/notes.txt.new" "$WEB/notes.txt"
	echo 'a new file' >"$WEB/added.txt"
	rm "$WEB/data.json"
	for ((i = 0; i < 50; i++)); do
		page /notes.txt
		[[ $body == 'notes, second version' ]] && break
		sleep 0.1
	done
	expect_file notes.txt
	[[ $(header ETag) != "$etag" ]] || false
	page /notes.txt -H "If-None-Match: $etag"
	expect_status 200
	page /added.txt
	expect_file added.txt
	page /data.json
	expect_page_404
	# a file changed in place, same size
	echo 'notes, third version!' >"$WEB/notes.txt"
	for ((i = 0; i < 50; i++)); do
		page /notes.txt
		[[ $body == 'notes, third version!' ]] && break
		sleep 0.1
	done
	expect_file notes.txt
}

@test "web.dir off: / is the JSON 404 again; a missing web.dir stops gatewayd" {
	stop_daemon gatewayd
	CHAT_WEB_DIR=off start_daemon gatewayd
	page /
	expect_error 404 not_found
	[[ -z $(header Content-Security-Policy) ]] || false
	page /settings
	expect_error 404 not_found
	stop_daemon gatewayd
	# (the timeout's 124 would be a gatewayd that started after all)
	run -1 --separate-stderr env CHAT_WEB_DIR="$BATS_FILE_TMPDIR/no-such-dir" \
		timeout 10 "${CHAT_BIN:-$CHAT_ROOT/bin}/gatewayd"
	[[ $stderr == *"web.dir '$BATS_FILE_TMPDIR/no-such-dir'"* ]] || {
		echo "stderr: $stderr" >&2
		return 1
	}
	start_daemon gatewayd
	page /
	expect_file index.html
}

@test "by default an installed gatewayd serves PREFIX/share/chat/web" {
	local build=${CHAT_BUILD:-build} bin=${CHAT_BIN:-$CHAT_ROOT/bin}
	local root=$BATS_TEST_TMPDIR/root port pid i
	[[ $build == /* ]] || build=$CHAT_ROOT/$build
	[[ -f $CHAT_ROOT/web/index.html ]] || skip "no web/index.html in the tree"
	# -o all: install what this build made, build nothing
	run -0 env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$CHAT_ROOT" \
		--no-print-directory -o all B="$build" BIN="$bin" \
		DESTDIR="$root" PREFIX=/usr install
	cmp "$root/usr/share/chat/web/index.html" "$CHAT_ROOT/web/index.html"
	# the installed copy changed, so that the answer tells which one
	# was served
	echo '<!-- installed -->' >>"$root/usr/share/chat/web/index.html"
	port=$(free_port)
	echo "port = $port" >"$BATS_TEST_TMPDIR/chat.conf"
	env -u CHAT_WEB_DIR CHAT_CONFIG="$BATS_TEST_TMPDIR/chat.conf" \
		CHAT_PORT="$port" CHAT_DATA_DIR="$BATS_TEST_TMPDIR/data" \
		CHAT_MODULE_DIR="$bin" "$root/usr/bin/gatewayd" \
		>"$BATS_TEST_TMPDIR/gatewayd.log" 2>&1 3>&- &
	pid=$!
	for ((i = 0; i < 100; i++)); do
		curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" && break
		sleep 0.1
	done
	status_code=$(curl -s -o "$BATS_TEST_TMPDIR/index" -w '%{http_code}' \
		"http://127.0.0.1:$port/settings") || status_code=000
	kill "$pid"
	wait "$pid" || true
	[[ $status_code == 200 ]] || {
		cat "$BATS_TEST_TMPDIR/gatewayd.log" >&2
		return 1
	}
	cmp "$BATS_TEST_TMPDIR/index" "$root/usr/share/chat/web/index.html"
}
