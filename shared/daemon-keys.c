/*
 * daemon-keys.c - the configuration keys of the whole stack (see
 * daemon-keys.h).  Sorted by section, then key; the help is one line, the
 * full story is in man/chat.conf.5.  A default of NULL is computed by the
 * daemon that reads the key, as the help says.
 */
#include "daemon-keys.h"

#include <stddef.h>

#include "banned.h"

/* Entries, kept to one or two lines each. */
#define KEY_INT(n, lo, hi, d, h) \
	{ .name = (n), .type = CONFIG_INT, .min = (lo), .max = (hi), \
	  .def = (d), .help = (h) }
#define KEY_BOOL(n, d, h) \
	{ .name = (n), .type = CONFIG_BOOL, .def = (d), .help = (h) }
#define KEY_ENUM(n, c, d, h) \
	{ .name = (n), .type = CONFIG_ENUM, .choices = (c), .def = (d), \
	  .help = (h) }
#define KEY_STR(n, d, h) \
	{ .name = (n), .type = CONFIG_STRING, .def = (d), .help = (h) }
#define KEY_URL(n, h) { .name = (n), .type = CONFIG_URL, .help = (h) }
#define KEY_END { .name = NULL }

static const char *const log_levels[] = {
	"debug", "info", "warn", "error", NULL,
};
static const char *const registration_modes[] = { "open", "closed", NULL };
static const char *const model_providers[] = {
	"echo", "openai", "ollama", "anthropic", NULL,
};

const char *const daemon_keys_daemons[] = {
	"gatewayd", "userd", "sessiond", "chatd", "aid", "analyticsd",
	"notifyd", NULL,
};

const char *const daemon_keys_not_keys[] = {
	"CHAT_API_KEY",		/* chatctl's credential */
	"CHAT_BIN",		/* scripts/stack: where the binaries are */
	"CHAT_BUILD",		/* scripts/test.sh: a private build */
	"CHAT_CONFIG",		/* the config file itself */
	"CHAT_FIXTURES",	/* tests: the fixtures' build */
	"CHAT_FUZZ_*",		/* scripts/fuzz */
	"CHAT_MODULE_DIR",	/* where chat-pg.so and chat-curl.so are */
	"CHAT_ROOT",		/* tests: the checkout */
	"CHAT_SERVER",		/* chatctl's and chatui's server */
	"CHAT_TEST_*",		/* scripts/test.sh and the tests */
	NULL,
};

const struct config_key daemon_keys_common[] = {
	KEY_STR("data_dir", NULL, "data directory ($XDG_DATA_HOME/chat, "
		"else ~/.local/share/chat, else /var/lib/chat)"),
	KEY_STR("database", "sqlite", "sqlite, sqlite:PATH or a "
		"postgresql:// URI"),
	/* every daemon that produces events (events.h) */
	KEY_BOOL("events.include_text", "false",
		 "put message text into events"),
	KEY_BOOL("events.relay_hold", "false",
		 "tests only: give outbox rows no position, relay nothing"),
	KEY_INT("events.retention_s", 60, 366L * 86400, "604800",
		"outbox rows older than this are pruned"),
	KEY_INT("kafka.batch_ms", 0, 60000, "50",
		"a lagging Kafka consumer's batch waits this long for more "
		"(caught up: none)"),
	KEY_STR("kafka.brokers", "", "Kafka bootstrap list host:port,... "
		"(empty: consumers pull the outboxes)"),
	KEY_INT("kafka.fetch_wait_ms", 1, 60000, "100",
		"a consumer's fetch.wait.max.ms: the longest a broker holds "
		"a fetch that found nothing"),
	KEY_ENUM("log_level", log_levels, "info", "log level"),
	KEY_INT("port", 1, 65535, "8080", "the stack's public port; daemon "
		"N listens on port + N"),
	/* <daemon>.KEY for every daemon */
	{ .name = "host", .type = CONFIG_STRING, .def = "127.0.0.1",
	  .flags = CONFIG_KEY_PER_DAEMON, .help = "listen address" },
	{ .name = "max_body", .type = CONFIG_INT, .min = 1024,
	  .max = 1L << 30, .flags = CONFIG_KEY_PER_DAEMON,
	  .help = "largest request body (1 MiB; aid 16 MiB)" },
	{ .name = "port", .type = CONFIG_INT, .min = 1, .max = 65535,
	  .flags = CONFIG_KEY_PER_DAEMON,
	  .help = "listen port (port + the daemon's offset)" },
	{ .name = "url", .type = CONFIG_URL, .flags = CONFIG_KEY_PER_DAEMON,
	  .help = "base URL the other daemons reach it at (http://host:port)" },
	{ .name = "workers", .type = CONFIG_INT, .min = 1, .max = 256,
	  .def = "4", .flags = CONFIG_KEY_PER_DAEMON,
	  .help = "worker threads" },
	/* userd makes access tokens; sessiond must know how long they live */
	KEY_INT("userd.access_ttl_s", 1, 86400, "900",
		"access token lifetime in seconds"),
	KEY_END,
};

const struct config_key daemon_keys_gatewayd[] = {
	KEY_INT("gatewayd.idle_timeout_s", 1, 86400, "300",
		"an upstream silent this long mid-answer is dropped"),
	KEY_STR("gatewayd.metrics_token", NULL,
		"bearer token of /metrics (unset: not served)"),
	KEY_STR("routes.*", NULL, "path prefix -> daemon"),
	KEY_STR("web.dir", NULL, "the web page's files, served at / "
		"(default: installed, else the source tree's web/; off: none)"),
	KEY_STR("web.origins", "", "other origins whose pages may use the "
		"browser session, separated by commas"),
	KEY_END,
};

const struct config_key daemon_keys_userd[] = {
	KEY_INT("auth.argon2_mem_kib", 8, 4L * 1024 * 1024, NULL,
		"argon2id memory in KiB (libsodium's interactive limit)"),
	KEY_INT("auth.argon2_ops", 1, 64, NULL,
		"argon2id passes (libsodium's interactive limit)"),
	KEY_INT("userd.code_attempts", 1, 100, "5",
		"tries of a mailed verification code before it ends"),
	KEY_INT("userd.code_ttl_s", 1, 86400, "1800",
		"how long a mailed code (verification, reset) is valid"),
	KEY_INT("userd.email_codes_per_hour", 1, 1000, "5",
		"verification mails per account and hour"),
	KEY_INT("userd.hash_queue", 1, 4096, "8",
		"logins waiting for the hash threads, then 503"),
	KEY_INT("userd.hash_workers", 1, 64, NULL,
		"password hash threads (half the cores, at least 1)"),
	KEY_INT("userd.login_address_free_failures", 1, 100000, "20",
		"failures of one address before logins wait"),
	KEY_INT("userd.login_delay_max_s", 1, 86400, "900",
		"the longest wait of a throttled login"),
	KEY_INT("userd.login_delay_ms", 1, 60000, "1000",
		"the first wait, doubled per failure"),
	KEY_INT("userd.login_free_failures", 1, 1000, "5",
		"failures of one (username, address) before logins wait"),
	KEY_INT("userd.register_per_hour", 1, 1000000, "10",
		"registrations per address and hour"),
	KEY_INT("userd.reset_per_hour", 1, 1000, "5",
		"password-reset requests per e-mail address and hour, and "
		"reset mails per account"),
	KEY_ENUM("userd.registration", registration_modes, "open",
		 "open or closed (the first account is always allowed)"),
	KEY_END,
};

const struct config_key daemon_keys_sessiond[] = {
	KEY_INT("sessiond.cleanup_interval_s", 1, 86400, "3600",
		"how often old rows are deleted"),
	KEY_INT("sessiond.refresh_grace_s", 0, 300, "10",
		"a used refresh token still gets its successor this long"),
	KEY_INT("sessiond.refresh_ttl_s", 60, 366L * 86400, "604800",
		"refresh token and idle session lifetime"),
	KEY_END,
};

const struct config_key daemon_keys_aid[] = {
	KEY_INT("aid.backoff_max_ms", 1, 600000, "8000",
		"ceiling of any wait before a retry"),
	KEY_INT("aid.backoff_ms", 1, 60000, "250",
		"first back-off ceiling, doubled per retry"),
	KEY_INT("aid.coalesce_ms", 0, 1000, "5",
		"text that comes within this many ms of the last delta sent "
		"to chatd waits and travels with it (0: every piece at once; "
		"the first always at once)"),
	KEY_INT("aid.connect_timeout_ms", 100, 60000, "3000",
		"connecting to an upstream"),
	KEY_INT("aid.context_window", 16, 100000000, "8192",
		"tokens of models without their own"),
	KEY_STR("aid.default_model", "echo",
		"model of requests that name none"),
	KEY_BOOL("aid.discover", "true",
		 "list the upstreams' models at start"),
	KEY_INT("aid.echo_delay_ms", 0, 60000, "20",
		"pause between the echo model's words"),
	KEY_INT("aid.idle_timeout_ms", 100, 3600000, "60000",
		"an upstream silent this long fails"),
	KEY_INT("aid.max_response", 1024, 1L << 30, "1048576",
		"bytes of answer text, then finish reason length"),
	KEY_STR("aid.models", "", "named models, separated by commas"),
	KEY_BOOL("aid.ollama_detect", "true",
		 "probe a local Ollama when ollama.url is unset"),
	KEY_INT("aid.retries", 0, 10, "2",
		"extra attempts on 429, 5xx or a connect failure"),
	KEY_STR("anthropic.api_key", NULL, "Anthropic API key"),
	KEY_URL("anthropic.base_url",
		"Anthropic base URL (https://api.anthropic.com)"),
	KEY_STR("model.*.aliases", NULL, "other names, separated by commas"),
	KEY_INT("model.*.context_window", 16, 100000000, NULL,
		"tokens (aid.context_window; echo 1000000)"),
	KEY_STR("model.*.fallback", NULL, "models tried when it is down"),
	KEY_ENUM("model.*.provider", model_providers, NULL,
		 "echo, openai, ollama or anthropic (required)"),
	KEY_STR("model.*.upstream", NULL, "its name at the upstream"),
	KEY_URL("ollama.url", "Ollama base URL (unset: see "
		"aid.ollama_detect)"),
	KEY_STR("openai.api_key", NULL, "OpenAI-compatible API key"),
	KEY_URL("openai.base_url", "OpenAI-compatible base URL, up to /v1 "
		"(https://api.openai.com/v1)"),
	KEY_END,
};

const struct config_key daemon_keys_analyticsd[] = {
	KEY_INT("analyticsd.inbox_retention_days", 0, 36600, "90",
		"days of consumed events kept for a rebuild (0: all)"),
	KEY_STR("price.*.input", NULL,
		"USD per million prompt tokens of a model (unset: unknown)"),
	KEY_STR("price.*.output", NULL,
		"USD per million completion tokens of a model"),
	KEY_END,
};

static const char *const smtp_starttls_modes[] = {
	"required", "opportunistic", NULL,
};

const struct config_key daemon_keys_notifyd[] = {
	KEY_INT("notifyd.long_generation_ms", 0, 86400000, "30000",
		"an answer this long that ends with no client connected "
		"makes an in-app notification"),
	KEY_STR("notifyd.public_url", NULL, "the stack's public base URL "
		"that mails link to (http://localhost:PORT)"),
	KEY_STR("notifyd.webhook_allow", "", "CIDRs webhook deliveries may "
		"reach although private or loopback, separated by commas"),
	KEY_INT("notifyd.webhook_disable_after_s", 1, 366L * 86400, "432000",
		"an endpoint failing every attempt this long is disabled"),
	KEY_INT("notifyd.webhook_idle_ms", 10, 86400000, "10000",
		"a webhook delivery thread without work this long ends"),
	KEY_STR("notifyd.webhook_retry_schedule",
		"5,300,1800,7200,18000,36000,36000",
		"seconds before each retry of a failed webhook delivery"),
	KEY_INT("notifyd.webhook_secret_overlap_s", 0, 30L * 86400, "86400",
		"a rotated webhook secret still signs this long"),
	KEY_INT("notifyd.webhook_timeout_ms", 100, 30000, "15000",
		"one webhook delivery, connecting included"),
	KEY_INT("notifyd.webhook_workers", 1, 16, "4",
		"threads delivering webhooks at most (started on demand)"),
	KEY_INT("rabbitmq.prefetch", 1, 1000, "32",
		"webhook jobs the broker hands notifyd before acks"),
	KEY_STR("rabbitmq.url", NULL, "amqp://user:password@host:port/vhost "
		"of the webhook delivery queue (unset: notifyd's store; "
		"never logged)"),
	KEY_INT("smtp.attempts", 1, 100, "12",
		"sending attempts of a mail before it is dropped"),
	KEY_STR("smtp.ca_file", NULL, "CA certificates that verify the SMTP "
		"server (default: the system's)"),
	KEY_STR("smtp.from", "chat@localhost", "sender address of the mails"),
	KEY_INT("smtp.idle_ms", 10, 86400000, "10000",
		"the mail sender thread without a stored mail this long ends"),
	KEY_STR("smtp.password", NULL, "SMTP password (never logged)"),
	KEY_STR("smtp.password_file", NULL,
		"file whose first line is the SMTP password"),
	KEY_INT("smtp.retry_ms", 10, 86400000, "30000",
		"first wait before a failed mail is retried, doubled per try"),
	KEY_ENUM("smtp.starttls", smtp_starttls_modes, "required",
		 "smtp:// upgrades with STARTTLS: required or opportunistic"),
	KEY_INT("smtp.timeout_ms", 1000, 600000, "30000",
		"one SMTP conversation, connecting included"),
	KEY_STR("smtp.url", NULL, "smtp:// or smtps:// URL of the mail server "
		"(unset: no email)"),
	KEY_STR("smtp.user", NULL, "SMTP user name (unset: no AUTH)"),
	KEY_END,
};

const struct config_key *const daemon_keys_stack[] = {
	daemon_keys_common, daemon_keys_gatewayd, daemon_keys_userd,
	daemon_keys_sessiond, daemon_keys_aid, daemon_keys_analyticsd,
	daemon_keys_notifyd, NULL,
};
