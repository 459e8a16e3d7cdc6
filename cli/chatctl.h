/*
 * chatctl.h - what the modules of chatctl share: the command and option
 * tables, the context of one run, the exit statuses, the client of the
 * gateway's API and output helpers (credentials: shared/creds.h).
 *
 * Convention of this front-end (like git's builtins): functions named
 * cli_*, api_*, cmd_* return an exit status (enum cli_exit) and have
 * already printed their one-line error to stderr when it is not CLI_OK.
 * The table_* helpers (and creds_*, shared/creds.h) return 0 or a
 * negative CHAT_E* code like the library, and print nothing.
 *
 * Modules whose plain name a daemon or chatui also uses (auth, send,
 * conv) are prefixed ctl_, as curl's tool_* stand apart from its
 * library's Curl_*: ctl_send_message is chatctl's, send_message_handler
 * chatd's.
 */
#ifndef CHAT_CLI_CHATCTL_H
#define CHAT_CLI_CHATCTL_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cjson/cJSON.h>

#include "buf.h"
#include "creds.h"
#include "json.h"

#define CHATCTL_VERSION CHAT_VERSION	/* -DCHAT_VERSION: VERSION, Makefile */
#define CLI_DEFAULT_SERVER "http://127.0.0.1:8080"
#define CLI_CONTENT_MAX (1024 * 1024)	/* a message's content, bytes */

/* Exit statuses; documented in chatctl(1). */
enum cli_exit {
	CLI_OK = 0,
	CLI_USAGE = 1,		/* bad command line; input the server refused */
	CLI_AUTH = 2,		/* not logged in, bad credentials, forbidden */
	CLI_NOTFOUND = 3,	/* no such conversation, key, model... */
	CLI_SERVER = 4,		/* server or upstream failure, unreachable */
	CLI_INTERRUPTED = 130,	/* Ctrl-C during ask */
};

/* Option ids: a short option is its own character; long-only ones
 * follow.  Every option is described once, in cli_options (main.c). */
enum cli_opt_id {
	OPT_SERVER = 256,
	OPT_USERNAME,
	OPT_PASSWORD_STDIN,
	OPT_JSON,
	OPT_NO_STREAM,
	OPT_CONVERSATION,
	OPT_LIMIT,
	OPT_ALL,
	OPT_QUERY,
	OPT_HELP,
	OPT_SCOPE,
	OPT_EXPIRES,
	OPT_COMMANDS,
	OPT_OUTPUT,
	OPT_COLOR,
	OPT_OTHERS,
	OPT_FORMAT,
	OPT_ARCHIVED,
	OPT_ROLE,
	OPT_DISABLED,
	OPT_SEARCH,
	OPT_YES,
	OPT_FROM,
	OPT_TO,
	OPT_BY,
	OPT_CSV,
	OPT_TYPE,
	OPT_USER,
	OPT_UNREAD,
	OPT_RESET,
	OPT_EMAIL,
	OPT_CODE,
	OPT_EVENT,
	OPT_SINCE,
	OPT_MAX
};

#define CLI_EVENTS_MAX 32	/* --event options kept */

struct cli_opt {
	int id;			/* enum cli_opt_id or the short character */
	int short_name;		/* 0: none */
	const char *long_name;
	const char *arg;	/* the value's name; NULL for a flag */
	const char *help;
};

/* The parsed command line of one command. */
struct cli_args {
	const char *val[OPT_MAX];	/* last value given, NULL if none */
	int count[OPT_MAX];		/* times given */
	/* every --event, in order (webhook add: the option repeats) */
	const char *events[CLI_EVENTS_MAX];
	int nevents;
	char **pos;			/* positional arguments (argv's) */
	int npos;
};

struct cli_ctx;

struct cli_cmd {
	const char *name;
	const char *args;		/* usage after the name, "" if none */
	const char *summary;		/* one line for `help` */
	const int *opts;		/* option ids, 0-terminated */
	int min_pos;			/* positional arguments allowed */
	int max_pos;			/* -1: any number */
	int (*exec)(struct cli_ctx *ctx, const struct cli_args *a);
	const struct cli_cmd *verbs;	/* a noun: its verbs, {0}-ended;
					 * a verb may be a noun in turn */
	const char *complete;		/* what the arguments complete from
					 * (completion.c: "conv-ids",
					 * "models"); NULL: nothing */
	int flags;			/* enum cli_cmd_flags */
};

enum cli_cmd_flags {
	CLI_CMD_HIDDEN = 1 << 0,	/* not in help nor in completions */
	CLI_CMD_OFFLINE = 1 << 1,	/* runs without api_init: never
					 * reads the credentials nor
					 * CHAT_SERVER */
};

/* One run of chatctl. */
struct cli_ctx {
	const char *server_opt;		/* --server, NULL if not given */
	char server[1024];		/* resolved base URL, no trailing / */
	const char *api_key;		/* CHAT_API_KEY, NULL if unset */
	char creds_path[4096];
	struct creds creds;		/* loaded on first authenticated call */
	bool creds_loaded;
	void *curl;			/* struct client * (client.h), reused */
	bool stdin_tty, stdout_tty, stderr_tty;
	int out_format;			/* enum out_format, from out_setup */
	bool color;			/* headings in bold (out_setup) */
};

/* Set by the SIGINT handler; read by transfers and the REPL. */
extern volatile sig_atomic_t cli_interrupted;

/* ---- main.c ---- */
/* The tables the completions are generated from: the commands (NULL-
 * ended), every option, and the options every command accepts (ids,
 * 0-ended).  cli_option_by_id: NULL for an unknown id. */
const struct cli_cmd *const *cli_command_table(void);
const struct cli_opt *cli_option_by_id(int id);
const int *cli_common_options(void);
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Installs the SIGINT handler (no SA_RESTART) and clears the flag. */
void cli_catch_interrupt(void);

/* ---- api.c ---- */
enum api_flags {
	API_NOAUTH = 1 << 0,	/* send no credential */
	API_QUIET = 1 << 1,	/* print no error; the caller looks at res */
	API_SSE = 1 << 2,	/* Accept: text/event-stream, body to on_data */
	/* API_QUIET also keeps a failed refresh silent (then CLI_AUTH) */
};

typedef int (*api_data_fn)(void *arg, const char *data, size_t len);

struct api_req {
	const char *method;
	const char *path;		/* "/v1/...", already escaped */
	const cJSON *json;		/* body, may be NULL */
	int flags;			/* enum api_flags */
	const char *idempotency_key;	/* may be NULL */
	api_data_fn on_data;		/* API_SSE: a 2xx body's bytes */
	void *arg;
};

struct api_res {
	long status;			/* 0: no answer */
	struct buf body;		/* a non-streamed body */
	cJSON *json;			/* body parsed when it was JSON */
	char code[64];			/* error.code of an error answer */
	char message[512];		/* error.message or a transport error */
	bool interrupted;		/* Ctrl-C aborted the transfer */
};

/* Resolves the server and the paths; 0 or CLI_USAGE. */
int api_init(struct cli_ctx *ctx);
void api_release(struct cli_ctx *ctx);
/* Performs a call, with the credential (API key or access token,
 * refreshed before it expires and once on a 401 token_expired).  0 on a
 * 2xx answer; else the exit status, after printing the error unless
 * API_QUIET.  Release res with api_res_release in every case. */
int api_call(struct cli_ctx *ctx, const struct api_req *req,
	     struct api_res *res);
/* Shorthand: method, path, body; the parsed answer in *out (caller
 * cJSON_Deletes; NULL for 204). */
int api_json(struct cli_ctx *ctx, const char *method, const char *path,
	     const cJSON *body, cJSON **out);
void api_res_release(struct api_res *res);
/* Builds the API path of one id into out (escaped); CLI_OK, or an exit
 * status after printing why not. */
typedef int (*api_path_fn)(const char *id, char *out, size_t outlen);
/* DELETEs path(id) of each of the n ids in turn, on past a failure but
 * for CLI_AUTH and CLI_INTERRUPTED, which the next ones would share.
 * CLI_OK, or the exit status of the first failure. */
int api_delete_each(struct cli_ctx *ctx, char *const *ids, int n,
		    api_path_fn path);
/* Exit status for an HTTP error answer. */
int api_status_exit(long status);
/* Percent-encodes s into out (for path segments and query values). */
int api_escape(const char *s, char *out, size_t outlen);
/* Logs in: POST /v1/auth/login and saves the credentials. */
int api_login(struct cli_ctx *ctx, const char *username,
	      const char *password);
/* Loads the credentials for ctx->server; CLI_AUTH when there are none. */
int api_need_creds(struct cli_ctx *ctx);

/* ---- out.c (widths: shared/width.h) ----
 *
 * The output conventions of every list and show verb, in one place:
 *   - give the verb the options OUT_OPTS (--json, --output FORMAT);
 *     --color WHEN is common to every command.  main.c calls out_setup
 *     before the verb runs, so ctx->out_format and ctx->color are set;
 *   - a list: build {"data":[...]} (the API's form) and call out_list
 *     with a heading and a row function; it prints an aligned table
 *     (heading bold when colour is on, the last column cut to the
 *     terminal, long tables through $PAGER, default `less -FRX`, only
 *     when stdout is a terminal), tab-separated rows without heading for
 *     --output tsv, or the JSON itself for --json / --output json;
 *   - a show verb: when out_is_json(ctx), out_json the object; else
 *     print a two-column KEY/VALUE table (table_init(&t, 2), table_add,
 *     table_print), which honours tsv and colour the same way.
 * Cells are cleaned of control characters by table_add (server text is
 * untrusted). */
enum out_format {
	OUT_TABLE = 0,			/* aligned columns (the default) */
	OUT_TSV,			/* tab-separated, no heading */
	OUT_JSON,			/* the API's JSON */
};
#define OUT_OPTS OPT_JSON, OPT_OUTPUT
/* Reads --json, --output, --color and NO_COLOR into ctx; CLI_USAGE
 * (after saying why) for a bad value or --json with another format. */
int out_setup(struct cli_ctx *ctx, const struct cli_args *a);
/* True when the verb should print JSON (--json or --output json). */
bool out_is_json(const struct cli_ctx *ctx);
/* Writes the answer text for a terminal: ESC and other C0 controls but
 * tab and newline dropped, so that a model cannot drive the terminal.
 * Raw bytes when stdout is not a terminal. */
int out_text(struct cli_ctx *ctx, const char *s, size_t len);
/* Prints a JSON value on stdout (indented on a terminal). */
int out_json(struct cli_ctx *ctx, const cJSON *v);
/* "2025-01-31 12:00" in local time from an RFC 3339 string; the input
 * itself when it does not parse. */
void out_time(const char *rfc3339, char *out, size_t outlen);
/* Terminal width of stdout, 0 when it is not a terminal. */
int out_columns(struct cli_ctx *ctx);

struct table {
	int ncols;
	struct buf cells;		/* NUL-separated cell texts */
	size_t ncells;
};
void table_init(struct table *t, int ncols);
void table_release(struct table *t);
/* Adds a row of ncols cells (NULL: empty), kept as they will show:
 * control characters as spaces, invalid UTF-8 as U+FFFD. */
int table_add(struct table *t, const char *const *cells);
/* Prints the rows (the first added is the heading) aligned by display
 * width; the last column is cut to fit the terminal (or last_max
 * columns when stdout is no terminal).  --output tsv: the rows but the
 * heading, tab-separated and uncut.  On a terminal, a table longer than
 * the screen goes through the pager. */
int table_print(struct cli_ctx *ctx, const struct table *t, size_t last_max);

/* Adds the row of one item of a list to t; table_add's return. */
typedef int (*out_row_fn)(struct table *t, const cJSON *item);
/* Prints an API list ({"data":[...]}, the caller's): as JSON when json,
 * else as a table of ncols columns, head for heading and a row per item
 * of data from row; last_max as for table_print.  An exit status. */
int out_list(struct cli_ctx *ctx, const cJSON *list, bool json,
	     const char *const *head, int ncols, out_row_fn row,
	     size_t last_max);

/* ---- idprefix.c: ids by a unique prefix (like git's hashes) ---- */
#define IDPREFIX_ID_MAX 64	/* room for an id in out */
/* The conversation id that arg is, or is the only one to start with (at
 * least 4 characters, archived conversations included), into out.  A
 * full-length id is taken as it is.  CLI_NOTFOUND when none starts so,
 * CLI_USAGE (the error naming the candidates) when several do. */
int idprefix_conv(struct cli_ctx *ctx, const char *arg, char *out,
		  size_t outlen);
/* The same for a message of conv (a GET /v1/conversations/{id} answer):
 * the messages of its current branch and their siblings. */
int idprefix_msg(const cJSON *conv, const char *arg, char *out,
		 size_t outlen);

/* ---- send.c: one message and its answer ---- */
struct ctl_send_opts {
	const char *conversation_id;
	const char *content;		/* unused with regenerate_id */
	const char *regenerate_id;	/* non-NULL: another answer in place
					 * of this message (its sibling, or
					 * a user message's child) */
	const char *model;		/* NULL: the conversation's */
	bool stream;			/* SSE, else the 201 form */
	bool print;			/* write the answer to stdout */
};

struct ctl_send_result {
	char user_message_id[64];
	char assistant_message_id[64];
	struct buf text;		/* the answer as received */
	cJSON *assistant;		/* the stored assistant message */
	bool newline_pending;		/* printed text lacks a final \n */
};

void ctl_send_result_init(struct ctl_send_result *r);
void ctl_send_result_release(struct ctl_send_result *r);
/* Sends and waits for the answer.  Ctrl-C stops the generation (POST
 * .../stop) and returns CLI_INTERRUPTED. */
int ctl_send_message(struct cli_ctx *ctx, const struct ctl_send_opts *o,
		     struct ctl_send_result *r);
/* Creates a conversation (model and system prompt may be NULL); the id
 * goes to id_out. */
int ctl_conv_create(struct cli_ctx *ctx, const char *model,
		    const char *system_prompt, char *id_out, size_t idlen);
/* PATCH one string field of a conversation. */
int ctl_conv_patch_string(struct cli_ctx *ctx, const char *id,
			  const char *field, const char *value);
/* Id of the most recently updated conversation; CLI_NOTFOUND if none. */
int ctl_conv_latest(struct cli_ctx *ctx, char *id_out, size_t idlen);

/* ---- model-default.c ---- */
/* The model that answers a conversation naming none (the caller's
 * preferences.default_model, else the server's default) into out;
 * CLI_NOTFOUND, silently, when neither can be read. */
int ctl_model_default(struct cli_ctx *ctx, char *out, size_t outlen);

/* ---- conv-io.c: conv export and import (verbs of cmd-conv.c) ---- */
int ctl_conv_export(struct cli_ctx *ctx, const struct cli_args *a);
int ctl_conv_import(struct cli_ctx *ctx, const struct cli_args *a);
/* A ChatGPT data export (conversations.json: an array of conversations,
 * or one) as an array of conversations in the form of our export, each
 * `mapping` tree a message tree: the hidden nodes (no message, system,
 * tool, no text) left out and their children given to the nearest kept
 * ancestor, the first system text as the system prompt, current_node as
 * the current leaf.  NULL with why in err when in is not such an export
 * (or nothing of it is left).  The result is the caller's. */
cJSON *ctl_conv_from_chatgpt(const cJSON *in, char *err, size_t errlen);
/* What `conv import` makes of a file's len bytes (any bytes): an array
 * of conversations in our export's form, ours (an object with
 * "messages") as it is, a ChatGPT export converted; NULL with why in err
 * (no JSON, neither form).  No I/O, no printing; the result is the
 * caller's. */
cJSON *ctl_conv_parse(const char *text, size_t len, char *err,
		      size_t errlen);

/* ---- the commands (cmd-*.c) ---- */
extern const struct cli_cmd cmd_register;
extern const struct cli_cmd cmd_login;
extern const struct cli_cmd cmd_logout;
extern const struct cli_cmd cmd_whoami;
extern const struct cli_cmd cmd_ask;
extern const struct cli_cmd cmd_chat;
extern const struct cli_cmd cmd_conv;
extern const struct cli_cmd cmd_model;
extern const struct cli_cmd cmd_apikey;
extern const struct cli_cmd cmd_completion;
extern const struct cli_cmd cmd_admin;
extern const struct cli_cmd cmd_passwd;
extern const struct cli_cmd cmd_account;
extern const struct cli_cmd cmd_email;
extern const struct cli_cmd cmd_complete_helper;	/* hidden */
extern const struct cli_cmd cmd_server;
extern const struct cli_cmd cmd_sessions;
extern const struct cli_cmd cmd_profile;
extern const struct cli_cmd cmd_usage;
extern const struct cli_cmd cmd_notifications;
extern const struct cli_cmd cmd_webhook;

/* ---- cmd-admin.c: what the admin verbs of other files share ---- */
/* api_json for an admin route, its error said for a person (a 403
 * forbidden: the caller is no admin; a 409: CLI_USAGE). */
int admin_call(struct cli_ctx *ctx, const char *method, const char *path,
	       const cJSON *body, cJSON **out);
/* Prints the one-line error of a failed admin call (rc its status). */
void admin_say_error(const struct api_res *res, int rc);
/* The id of the account USER (a name or an id) into out; an exit status
 * after saying why not. */
int admin_user_id(struct cli_ctx *ctx, const char *user, char *out,
		  size_t outlen);

/* ---- usage.c: the usage reports (usage, admin stats) ---- */
/* Appends the query of a usage report to path (which holds a '?',
 * dropped when nothing follows it): from, to (checked to be YYYY-MM-DD)
 * and group_by from a; CLI_USAGE after saying why for a bad value, a
 * --by not among groups (a '|' list). */
int ctl_usage_query(const struct cli_args *a, const char *groups,
		    struct buf *path);
/* Prints a UsageReport (docs/api/openapi.yaml): JSON as it is, else a
 * table of one row a group and, on a terminal table, a total row. */
int ctl_usage_print(struct cli_ctx *ctx, const cJSON *report);

/* ---- admin-stats.c: admin stats and admin events (cmd-admin.c) ---- */
int ctl_admin_stats(struct cli_ctx *ctx, const struct cli_args *a);
int ctl_admin_events(struct cli_ctx *ctx, const struct cli_args *a);

/* ---- auth.c: helpers of register and login ---- */
/* The username from --username, the first argument, or a prompt on a
 * terminal.  user_out holds 128 bytes. */
int ctl_auth_username(struct cli_ctx *ctx, const struct cli_args *a,
		      char *user_out, size_t outlen);
/* The password from the first line of stdin (--password-stdin) or a
 * prompt without echo on the terminal (twice when confirm).  Caller
 * frees *out after wiping it. */
int ctl_auth_password(struct cli_ctx *ctx, const struct cli_args *a,
		      bool confirm, char **out);
void ctl_auth_wipe(char *s);
/* One secret: the next line of stdin with --password-stdin, else asked
 * with prompt and no echo on the terminal (CLI_USAGE without one).  As
 * ctl_auth_password, the caller wipes and frees *out. */
int ctl_auth_secret(struct cli_ctx *ctx, const struct cli_args *a,
		    const char *prompt, char **out);
/* A line that is no secret (an address, a mailed code): value when
 * given (copied), else asked with prompt on the terminal, echoed;
 * CLI_USAGE (after saying to pass `flag`) without a terminal.  The
 * caller wipes and frees *out. */
int ctl_auth_ask(struct cli_ctx *ctx, const char *value, const char *prompt,
		 const char *flag, char **out);

#endif
