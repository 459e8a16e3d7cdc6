/*
 * cmd-apikey.c - `chatctl apikey create|ls|rm`: API keys for scripts and
 * OpenAI-compatible clients.  create prints the key on stdout, the only
 * time the server ever shows it.
 */
#include "chatctl.h"

#include <string.h>

#include "banned.h"

static int apikey_create(struct cli_ctx *ctx, const struct cli_args *a)
{
	cJSON *body = cJSON_CreateObject(), *key = NULL;
	const char *text;
	int rc;

	if (!body || !cJSON_AddStringToObject(body, "name", a->pos[0])) {
		cJSON_Delete(body);
		cli_error("out of memory");
		return CLI_SERVER;
	}
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

static int apikey_row(struct table *t, const cJSON *k)
{
	char created[64], used[64];
	const char *row[5];

	out_time(json_str(k, "created_at"), created, sizeof(created));
	if (json_str(k, "last_used_at"))
		out_time(json_str(k, "last_used_at"), used, sizeof(used));
	else
		snprintf(used, sizeof(used), "never");
	row[0] = json_str(k, "id");
	row[1] = json_str(k, "prefix");
	row[2] = created;
	row[3] = used;
	row[4] = json_str(k, "name");
	return table_add(t, row);
}

static int apikey_ls(struct cli_ctx *ctx, const struct cli_args *a)
{
	static const char *const head[] = { "ID", "PREFIX", "CREATED",
					    "LAST USED", "NAME" };
	cJSON *list = NULL;
	int rc;

	rc = api_json(ctx, "GET", "/v1/apikeys", NULL, &list);
	if (rc == CLI_OK)
		rc = out_list(ctx, list, a->count[OPT_JSON] > 0, head, 5,
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
		.opts = (const int[]){ OPT_JSON, 0 },
		.min_pos = 1,
		.max_pos = 1,
		.exec = apikey_create,
	},
	{
		.name = "ls",
		.args = "",
		.summary = "list the live keys",
		.opts = (const int[]){ OPT_JSON, 0 },
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
