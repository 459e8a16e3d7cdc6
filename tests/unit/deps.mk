# deps.mk - the objects each unit test links besides its own, as paths
# under the build directory, read by the Makefile (deps.test-NAME), and
# the front-end libraries it needs beyond a daemon's (libs.test-NAME:
# curl, ncursesw, readline; rdkafka for the Kafka module's test, which
# runs librdkafka's mock cluster).  Only what the test uses: an object
# missing here fails the test's link, and scripts/unit-deps prints a
# test's lines as the linker finds them (for a new test, or when a module
# starts calling another).

deps.test-aid-models := shared/b64url.o shared/buf.o shared/config.o \
	shared/crypto.o shared/daemon-keys.o shared/daemon.o shared/db-sqlite.o \
	shared/db.o shared/err.o shared/events-relay.o shared/events.o \
	shared/http-client.o shared/http-fetch.o shared/http-loop.o \
	shared/http-out.o shared/http-route.o shared/http-server.o \
	shared/http-ws.o shared/http1-request.o shared/http1-response.o \
	shared/http1.o shared/json.o shared/log.o shared/module.o shared/pool.o \
	shared/sse-parse.o shared/url.o shared/utf8.o shared/util.o \
	shared/uuid.o shared/ws-frame.o daemons/aid/engine.o \
	daemons/aid/models.o daemons/aid/provider-anthropic.o \
	daemons/aid/provider-ollama.o daemons/aid/provider-openai.o \
	daemons/aid/provider.o daemons/aid/usage.o daemons/aid/wire.o
deps.test-aid-providers := shared/buf.o shared/err.o shared/json.o \
	shared/sse-parse.o shared/utf8.o daemons/aid/provider-anthropic.o \
	daemons/aid/provider-ollama.o daemons/aid/provider-openai.o \
	daemons/aid/provider.o
deps.test-alloc-fail := shared/b64url.o shared/buf.o shared/crypto.o \
	shared/db-sqlite.o shared/db.o shared/err.o shared/http-client.o \
	shared/http-fetch.o shared/http-loop.o shared/http-route.o \
	shared/http-server.o shared/http-ws.o shared/http1-request.o \
	shared/http1-response.o shared/http1.o shared/json.o shared/log.o \
	shared/module.o shared/pool.o shared/sse-parse.o shared/text.o \
	shared/url.o shared/utf8.o shared/util.o shared/uuid.o \
	shared/ws-frame.o
deps.test-analyticsd-rollup := shared/b64url.o shared/buf.o \
	shared/crypto.o shared/db-sqlite.o shared/db.o shared/err.o \
	shared/http-route.o shared/http-server.o shared/http-ws.o \
	shared/http1.o shared/json.o shared/log.o shared/module.o shared/pool.o \
	shared/url.o shared/utf8.o shared/util.o shared/uuid.o \
	shared/ws-frame.o daemons/analyticsd/agg.o daemons/analyticsd/erase.o \
	daemons/analyticsd/range.o daemons/analyticsd/rollup.o \
	daemons/analyticsd/sketch.o
deps.test-analyticsd-sketch := daemons/analyticsd/sketch.o
deps.test-b64url := shared/b64url.o
deps.test-buf := shared/buf.o
deps.test-chatd-gen := shared/b64url.o shared/buf.o shared/config.o \
	shared/crypto.o shared/daemon-keys.o shared/daemon.o shared/db-sqlite.o \
	shared/db.o shared/err.o shared/events-relay.o shared/events.o \
	shared/http-client.o shared/http-fetch.o shared/http-loop.o \
	shared/http-out.o shared/http-route.o shared/http-server.o \
	shared/http-ws.o shared/http1-request.o shared/http1-response.o \
	shared/http1.o shared/json.o shared/log.o shared/module.o shared/pool.o \
	shared/sse-parse.o shared/sse.o shared/url.o shared/utf8.o \
	shared/util.o shared/uuid.o shared/ws-frame.o daemons/chatd/gen.o \
	daemons/chatd/hub.o daemons/chatd/store-events.o \
	daemons/chatd/store-idem.o daemons/chatd/store-json.o \
	daemons/chatd/store.o
deps.test-cli-conv-io := shared/b64url.o shared/buf.o shared/client.o \
	shared/creds.o shared/crypto.o shared/err.o shared/json.o shared/utf8.o \
	shared/util.o shared/width.o cli/api.o cli/conv-io.o cli/idprefix.o \
	cli/out.o
libs.test-cli-conv-io := curl
deps.test-cli-out := shared/buf.o shared/err.o shared/utf8.o \
	shared/width.o cli/out.o
deps.test-cli-usage := shared/buf.o shared/err.o shared/json.o \
	shared/utf8.o shared/width.o cli/out.o cli/usage.o
deps.test-client := shared/b64url.o shared/buf.o shared/client.o \
	shared/creds.o shared/crypto.o shared/util.o
libs.test-client := curl
deps.test-config := shared/b64url.o shared/config.o shared/crypto.o \
	shared/daemon-keys.o shared/err.o shared/util.o
deps.test-cookie := shared/cookie.o
deps.test-creds := shared/b64url.o shared/creds.o shared/crypto.o \
	shared/util.o
deps.test-crypto := shared/b64url.o shared/crypto.o
deps.test-daemon-keys := shared/daemon-keys.o
deps.test-db := shared/b64url.o shared/buf.o shared/crypto.o \
	shared/db-sqlite.o shared/db.o shared/err.o shared/json.o shared/log.o \
	shared/module.o shared/utf8.o shared/util.o
deps.test-events := shared/b64url.o shared/buf.o shared/config.o \
	shared/crypto.o shared/daemon-keys.o shared/daemon.o shared/db-sqlite.o \
	shared/db.o shared/err.o shared/events-relay.o shared/events.o \
	shared/http-client.o shared/http-fetch.o shared/http-loop.o \
	shared/http-out.o shared/http-route.o shared/http-server.o \
	shared/http-ws.o shared/http1-request.o shared/http1-response.o \
	shared/http1.o shared/json.o shared/log.o shared/module.o shared/pool.o \
	shared/url.o shared/utf8.o shared/util.o shared/uuid.o \
	shared/ws-frame.o
deps.test-events-kafka := shared/b64url.o shared/buf.o shared/crypto.o \
	shared/db-sqlite.o shared/db.o shared/err.o shared/json.o shared/log.o \
	shared/module.o shared/utf8.o shared/util.o
libs.test-events-kafka := rdkafka
deps.test-gatewayd-web-path := daemons/gatewayd/web-path.o
deps.test-http-answer := shared/b64url.o shared/buf.o shared/crypto.o \
	shared/db-sqlite.o shared/db.o shared/err.o shared/http-client.o \
	shared/http-fetch.o shared/http-loop.o shared/http-route.o \
	shared/http-server.o shared/http-ws.o shared/http1-request.o \
	shared/http1-response.o shared/http1.o shared/json.o shared/log.o \
	shared/module.o shared/pool.o shared/url.o shared/utf8.o shared/util.o \
	shared/uuid.o shared/ws-frame.o
deps.test-http-client := shared/b64url.o shared/buf.o shared/crypto.o \
	shared/db-sqlite.o shared/db.o shared/err.o shared/http-client.o \
	shared/http-fetch.o shared/http1-request.o shared/http1-response.o \
	shared/http1.o shared/json.o shared/log.o shared/module.o shared/url.o \
	shared/utf8.o shared/util.o
deps.test-http-loop := shared/b64url.o shared/buf.o shared/crypto.o \
	shared/db-sqlite.o shared/db.o shared/err.o shared/http-client.o \
	shared/http-fetch.o shared/http-loop.o shared/http-route.o \
	shared/http-server.o shared/http-ws.o shared/http1-request.o \
	shared/http1-response.o shared/http1.o shared/json.o shared/log.o \
	shared/module.o shared/pool.o shared/url.o shared/utf8.o shared/util.o \
	shared/uuid.o shared/ws-frame.o
deps.test-http-out := shared/b64url.o shared/buf.o shared/crypto.o \
	shared/db-sqlite.o shared/db.o shared/err.o shared/http-client.o \
	shared/http-fetch.o shared/http-loop.o shared/http-out.o \
	shared/http-route.o shared/http-server.o shared/http-ws.o \
	shared/http1-request.o shared/http1-response.o shared/http1.o \
	shared/json.o shared/log.o shared/module.o shared/pool.o shared/url.o \
	shared/utf8.o shared/util.o shared/uuid.o shared/ws-frame.o
deps.test-http-response := shared/b64url.o shared/buf.o shared/crypto.o \
	shared/http1-response.o shared/http1.o shared/util.o
deps.test-http-route := shared/http-route.o
deps.test-http-server := shared/b64url.o shared/buf.o shared/crypto.o \
	shared/err.o shared/http-route.o shared/http-server.o shared/http-ws.o \
	shared/http1.o shared/json.o shared/log.o shared/pool.o shared/url.o \
	shared/utf8.o shared/util.o shared/uuid.o shared/ws-frame.o
libs.test-http-server := curl
deps.test-http-ws := shared/b64url.o shared/buf.o shared/crypto.o \
	shared/err.o shared/http-route.o shared/http-server.o shared/http-ws.o \
	shared/http1.o shared/json.o shared/log.o shared/pool.o shared/url.o \
	shared/utf8.o shared/util.o shared/uuid.o shared/ws-frame.o
deps.test-http1 := shared/b64url.o shared/crypto.o shared/http1.o \
	shared/util.o
deps.test-json := shared/err.o shared/json.o shared/utf8.o
deps.test-jwt := shared/b64url.o shared/crypto.o shared/err.o \
	shared/json.o shared/jwt.o shared/utf8.o
deps.test-module := shared/b64url.o shared/buf.o shared/crypto.o \
	shared/db-sqlite.o shared/db.o shared/err.o shared/json.o shared/log.o \
	shared/module.o shared/utf8.o shared/util.o
deps.test-notifyd-mail := shared/b64url.o shared/buf.o shared/crypto.o \
	shared/utf8.o shared/util.o daemons/notifyd/mail-msg.o \
	daemons/notifyd/mail-tmpl.o
deps.test-notifyd-queue-amqp := daemons/notifyd/queue-amqp-job.o
deps.test-notifyd-queue-store := shared/b64url.o shared/buf.o \
	shared/config.o shared/crypto.o shared/db-sqlite.o shared/db.o \
	shared/err.o shared/json.o shared/log.o shared/module.o shared/url.o \
	shared/utf8.o shared/util.o daemons/notifyd/queue-amqp-job.o \
	daemons/notifyd/queue-amqp.o daemons/notifyd/queue-store.o \
	daemons/notifyd/queue.o daemons/notifyd/webhook-retry.o
deps.test-notifyd-rules := shared/b64url.o shared/crypto.o shared/err.o \
	shared/json.o shared/utf8.o shared/util.o shared/uuid.o \
	daemons/notifyd/rules.o
deps.test-notifyd-webhook := shared/b64url.o shared/crypto.o \
	shared/url.o shared/utf8.o daemons/notifyd/webhook-addr.o \
	daemons/notifyd/webhook-retry.o daemons/notifyd/webhook-sign.o
deps.test-page := shared/b64url.o shared/buf.o shared/crypto.o \
	shared/err.o shared/http-route.o shared/http-server.o shared/http-ws.o \
	shared/http1.o shared/json.o shared/log.o shared/page.o shared/pool.o \
	shared/url.o shared/utf8.o shared/util.o shared/uuid.o \
	shared/ws-frame.o
deps.test-pool := shared/pool.o
deps.test-sse-parse := shared/buf.o shared/sse-parse.o
deps.test-sse := shared/buf.o shared/sse.o
deps.test-text := shared/text.o shared/utf8.o
deps.test-tui-editor := shared/buf.o shared/utf8.o shared/width.o \
	tui/editor.o
deps.test-tui-keys := shared/b64url.o shared/buf.o shared/client.o \
	shared/creds.o shared/crypto.o shared/err.o shared/sse-parse.o \
	shared/utf8.o shared/util.o shared/width.o shared/ws-frame.o \
	tui/actions.o tui/app.o tui/auth.o tui/chat-layout.o tui/editor.o \
	tui/evq.o tui/frames.o tui/highlight.o tui/keys.o tui/markdown.o \
	tui/md-blocks.o tui/md-inlines.o tui/md-wrap.o tui/osc52.o \
	tui/pane-chat.o tui/pane-help.o tui/pane-input.o tui/pane-list.o \
	tui/pane-login.o tui/pane-notes.o tui/pane-picker.o tui/pane-prompt.o \
	tui/pane-usage.o tui/rest.o tui/state.o tui/term.o tui/usage-bar.o \
	tui/view.o tui/ws.o
libs.test-tui-keys := curl ncursesw
deps.test-tui-markdown := shared/buf.o shared/utf8.o shared/width.o \
	tui/highlight.o tui/markdown.o tui/md-blocks.o tui/md-inlines.o \
	tui/md-wrap.o
deps.test-tui-state := shared/b64url.o shared/buf.o shared/crypto.o \
	shared/utf8.o shared/util.o shared/width.o tui/highlight.o \
	tui/markdown.o tui/md-blocks.o tui/md-inlines.o tui/md-wrap.o \
	tui/state.o
deps.test-tui-usage := tui/usage-bar.o
deps.test-tui-ws := shared/b64url.o shared/buf.o shared/client.o \
	shared/creds.o shared/crypto.o shared/err.o shared/util.o \
	shared/ws-frame.o tui/auth.o tui/evq.o tui/ws.o
libs.test-tui-ws := curl
deps.test-url := shared/url.o
deps.test-userd-me-cache := daemons/userd/me-cache.o
deps.test-userd-email-rules := shared/b64url.o shared/crypto.o \
	shared/utf8.o daemons/userd/email-rules.o
deps.test-userd-throttle := daemons/userd/throttle.o
deps.test-utf8 := shared/utf8.o
deps.test-uuid := shared/b64url.o shared/crypto.o shared/util.o \
	shared/uuid.o
deps.test-width := shared/utf8.o shared/width.o
deps.test-ws-frame := shared/ws-frame.o
