/*
 * cmd-apikey.c - `chatctl apikey create|ls|rm`: API keys for scripts and
 * OpenAI-compatible clients.  create prints the key on stdout, the only
 * time the server ever shows it; --scope and --expires limit what it may
 * do and for how long (the server checks the values).  Keys are managed
 * with a login only: with CHAT_API_KEY the server refuses (403).
 */
#include "chatctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

/* Adds "scopes" from --scope's comma list to body: each item as it is,
 * empty ones included, so that the server judges them all. */
static int apikey_add_scopes(cJSON *body, const char *list)
{
	cJSON *arr = cJSON_AddArrayToObject(body, "scopes");
	const char *p = list;

	if (!arr)
		return CLI_SERVER;
	for (;;) {
		size_t n = strcspn(p, ",");
		char *name = strndup(p, n);
		cJSON *item = name ? cJSON_CreateString(name) : NULL;

		free(name);
		if (!item)
			return CLI_SERVER;
		cJSON_AddItemToArray(arr, item);
		if (p[n] == '\0')
			return CLI_OK;
		p += n + 1;
	}
}

/* The create body: name, and scopes and expires_in_days when asked. */
static int apikey_body(const struct cli_args *a, cJSON **out)
{
	const char *days = a->val[OPT_EXPIRES];
	cJSON *body = cJSON_CreateObject();
	char *end = NULL;
	long n = 0;
	int rc = CLI_OK;

	*out = NULL;
	if (a->count[OPT_SCOPE] > 1 || a->count[OPT_EXPIRES] > 1) {
		cli_error("give '--scope' and '--expires' once each (scopes "
			  "as a comma list: --scope chat,read)");
		rc = CLI_USAGE;
		goto out;
	}
	if (days) {
		errno = 0;
		n = strtol(days, &end, 10);
		if (errno || end == days || *end) {
			cli_error("'--expires' must be a number of days, "
				  "not '%s'", days);
			rc = CLI_USAGE;
			goto out;
		}
	}
	if (!body || !cJSON_AddStringToObject(body, "name", a->pos[0]) ||
	    (days && !cJSON_AddNumberToObject(body, "expires_in_days",
					      (double)n))) {
		rc = CLI_SERVER;
	} else if (a->val[OPT_SCOPE]) {
		rc = apikey_add_scopes(body, a->val[OPT_SCOPE]);
	}
	if (rc == CLI_SERVER)
		cli_error("out of memory");
out:
	if (rc == CLI_OK) {
		*out = body;
		body = NULL;
	}
	cJSON_Delete(body);
	return rc;
}

static int apikey_create(struct cli_ctx *ctx, const struct cli_args *a)
{
	cJSON *body = NULL, *key = NULL;
	const char *text;
	int rc;

	rc = apikey_body(a, &body);
	if (rc != CLI_OK)
		return rc;
	rc = api_json(ctx, "POST", "/v1/apikeys", body, &key);
	cJSON_Delete(body);
	if (rc != CLI_OK)
		return rc;
	text = json_str(key, "key");
	if (a->count[OPT_JSON]) {
		rc = out_json(ctx, key);
	} else if (!text) {
		cli_error("the server's answer holds no key");
		rc = CLI_SERVER;
	} else {
		printf("%s\n", text);
		if (ctx->stderr_tty)
			fprintf(stderr, "chatctl: keep the key now: it "
					"cannot be shown again\n");
	}
	cJSON_Delete(key);
	return rc;
}

/* "chat,read": the key's scopes as one cell (at most three short names). */
static void apikey_scopes_cell(const cJSON *k, char *out, size_t outlen)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(k, "scopes");
	const cJSON *it;
	size_t off = 0;

	out[0] = '\0';
	cJSON_ArrayForEach(it, arr) {
		int n;

		if (!cJSON_IsString(it) || off >= outlen)
			continue;
		n = snprintf(out + off, outlen - off, "%s%s", off ? "," : "",
			     it->valuestring);
		off += n > 0 ? (size_t)n : 0;
	}
	if (!out[0])
		snprintf(out, outlen, "-");
}

/* A time cell: local time, or `none` when the field is null. */
static void apikey_time_cell(const cJSON *k, const char *field,
			     const char *none, char *out, size_t outlen)
{
	if (json_str(k, field))
		out_time(json_str(k, field), out, outlen);
	else
		snprintf(out, outlen, "%s", none);
}

static int apikey_row(struct table *t, const cJSON *k)
{
	char created[64], used[64], scopes[64], expires[64];
	const char *row[7];

	apikey_time_cell(k, "created_at", "", created, sizeof(created));
	apikey_time_cell(k, "last_used_at", "never", used, sizeof(used));
	apikey_time_cell(k, "expires_at", "never", expires, sizeof(expires));
	apikey_scopes_cell(k, scopes, sizeof(scopes));
	row[0] = json_str(k, "id");
	row[1] = json_str(k, "prefix");
	row[2] = created;
	row[3] = used;
	row[4] = scopes;
	row[5] = expires;
	row[6] = json_str(k, "name");
	return table_add(t, row);
}

static int apikey_ls(struct cli_ctx *ctx, const struct cli_args *a)
{
	static const char *const head[] = { "ID", "PREFIX", "CREATED",
					    "LAST USED", "SCOPES", "EXPIRES",
					    "NAME" };
	cJSON *list = NULL;
	int rc;

	(void)a;	/* --json and --output: ctx->out_format */
	rc = api_json(ctx, "GET", "/v1/apikeys", NULL, &list);
	if (rc == CLI_OK)
		rc = out_list(ctx, list, false, head, 7,
			      apikey_row, 60);
	cJSON_Delete(list);
	return rc;
}

/* "/v1/apikeys/<escaped id>" */
static int apikey_path(const char *id, char *out, size_t outlen)
{
	char esc[200];

	if (api_escape(id, esc, sizeof(esc)) < 0) {
		cli_error("key id '%.40s...' too long", id);
		return CLI_USAGE;
	}
	snprintf(out, outlen, "/v1/apikeys/%s", esc);
	return CLI_OK;
}

static int apikey_rm(struct cli_ctx *ctx, const struct cli_args *a)
{
	return api_delete_each(ctx, a->pos, a->npos, apikey_path);
}

static const struct cli_cmd apikey_verbs[] = {
	{
		.name = "create",
		.args = "NAME",
		.summary = "create a key and print it (shown this once)",
		.opts = (const int[]){ OPT_SCOPE, OPT_EXPIRES, OPT_JSON, 0 },
		.min_pos = 1,
		.max_pos = 1,
		.exec = apikey_create,
	},
	{
		.name = "ls",
		.args = "",
		.summary = "list the live keys",
		.opts = (const int[]){ OUT_OPTS, 0 },
		.min_pos = 0,
		.max_pos = 0,
		.exec = apikey_ls,
	},
	{
		.name = "rm",
		.args = "ID...",
		.summary = "revoke keys",
		.opts = (const int[]){ 0 },
		.min_pos = 1,
		.max_pos = -1,
		.exec = apikey_rm,
	},
	{ 0 },
};

const struct cli_cmd cmd_apikey = {
	.name = "apikey",
	.args = "",
	.summary = "API keys for scripts and OpenAI clients",
	.opts = (const int[]){ 0 },
	.verbs = apikey_verbs,
};
