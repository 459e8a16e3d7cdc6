# smtp_helper.bash - the SMTP sink of the tests (tests/fixtures/smtp-sink)
# and what a test reads of the mails it received.  Load after test_helper:
#
#   setup_file() {
#       load test_helper; load smtp_helper
#       smtp_sink_start                 # before start_stack: it has a port
#       start_stack "[smtp]" "url = smtp://127.0.0.1:$SMTP_SINK_PORT" ...
#   }
#   teardown_file() { load test_helper; load smtp_helper; stop_stack;
#       smtp_sink_stop; }
#
# Each mail is one file in $SMTP_SINK_DIR/mail/, named so that the names
# sort in the order the mails arrived; X-Sink-Envelope-To lines say who
# it was for, X-Sink-TLS whether the session was encrypted.

SMTP_SINK=$CHAT_ROOT/tests/fixtures/smtp-sink
SMTP_PY=/usr/bin/python3

# smtp_sink_start [OPTION...]: starts the file's sink (options as
# smtp-sink's: --no-tls, --smtps, --auth USER:PASS).  Sets and exports
# SMTP_SINK_DIR, SMTP_SINK_PORT (kept when set: a restart listens where
# the stack expects it) and SMTP_SINK_CA (its certificate, when TLS).
smtp_sink_start() {
	local used port attempt
	export SMTP_SINK_DIR=${SMTP_SINK_DIR:-$BATS_FILE_TMPDIR/smtp}
	mkdir -p "$SMTP_SINK_DIR"
	if [[ -z ${SMTP_SINK_PORT:-} ]]; then
		used=" $(ss -Htan 2>/dev/null | awk '{n = split($4, a, ":"); printf "%s ", a[n]}') "
		for ((attempt = 0; attempt < 200; attempt++)); do
			port=$((20000 + (RANDOM * 32768 + RANDOM) % 8000))
			[[ $used == *" $port "* ]] || break
		done
		export SMTP_SINK_PORT=$port
	fi
	export SMTP_SINK_CA=$SMTP_SINK_DIR/cert.pem
	"$SMTP_SINK" start "$SMTP_SINK_DIR" "$SMTP_SINK_PORT" "$@" 3>&-
}

# smtp_sink_stop: stops the sink (its mails stay).
smtp_sink_stop() {
	[[ -n ${SMTP_SINK_DIR:-} ]] || return 0
	"$SMTP_SINK" stop "$SMTP_SINK_DIR"
}

# mail_files ADDR: the mails to ADDR, oldest first, one path a line.
mail_files() {
	local f
	for f in "$SMTP_SINK_DIR"/mail/*.eml; do
		[[ -f $f ]] || continue
		grep -qixF "X-Sink-Envelope-To: $1" <(head -n 20 "$f" | tr -d '\r') &&
			echo "$f"
	done
	return 0
}

# mail_count ADDR: how many mails ADDR received.
mail_count() {
	local files
	files=$(mail_files "$1")
	[[ -z $files ]] && { echo 0; return 0; }
	wc -l <<<"$files"
}

# mail_wait ADDR [N [SECONDS]]: prints the path of the Nth mail (1, the
# first, by default) to ADDR once it is there; fails after SECONDS (30).
mail_wait() {
	local i n=${2:-1} files
	for ((i = 0; i < ${3:-30} * 10; i++)); do
		files=$(mail_files "$1")
		if [[ -n $files ]] && (($(wc -l <<<"$files") >= n)); then
			sed -n "${n}p" <<<"$files"
			return 0
		fi
		sleep 0.1
	done
	echo "mail_wait: no mail $n to $1 after ${3:-30} s" >&2
	ls -l "$SMTP_SINK_DIR/mail" >&2
	return 1
}

# _mail_py FILE WHAT [ARG]: the python (stdlib email) reader behind the
# functions below.
_mail_py() {
	"$SMTP_PY" - "$@" <<'EOF'
import email, email.header, email.policy, re, sys
path, what = sys.argv[1], sys.argv[2]
msg = email.message_from_binary_file(open(path, "rb"),
                                     policy=email.policy.compat32)
def part(ctype):
    for p in msg.walk():
        if p.get_content_type() == ctype and not p.is_multipart():
            raw = p.get_payload(decode=True) or b""
            # lines as a reader sees them: LF, not the wire's CRLF
            return raw.decode(p.get_content_charset() or
                              "utf-8").replace("\r\n", "\n")
    sys.exit("no %s part" % ctype)
if what == "header":
    v = msg.get(sys.argv[3])
    if v is None:
        sys.exit("no %s header" % sys.argv[3])
    print(str(email.header.make_header(email.header.decode_header(v))))
elif what == "raw":
    v = msg.get(sys.argv[3])
    if v is None:
        sys.exit("no %s header" % sys.argv[3])
    print(v)
elif what in ("text", "html"):
    sys.stdout.write(part("text/" + ("plain" if what == "text" else what)))
elif what == "code":
    for line in part("text/plain").splitlines():
        t = line.strip()
        if re.fullmatch(r"[A-Z0-9_-]{4,128}", t) and re.search(r"[A-Z0-9]", t):
            print(t)
            sys.exit(0)
    sys.exit("no code alone on a line")
EOF
}

# mail_header FILE NAME: the header's value, RFC 2047 words decoded.
mail_header() { _mail_py "$1" header "$2"; }
# mail_header_raw FILE NAME: the header's value as it came, unfolded
# by nothing.
mail_header_raw() { _mail_py "$1" raw "$2"; }
# mail_text FILE: the text/plain part, decoded, LF line ends.
mail_text() { _mail_py "$1" text; }
# mail_html FILE: the text/html part, decoded, LF line ends.
mail_html() { _mail_py "$1" html; }
# mail_code FILE: the code alone on a line of the text part: the first
# line of 4 or more upper-case letters, digits, - and _ (blanks around
# it ignored); prose never has such a line, codes always are one.
mail_code() { _mail_py "$1" code; }
