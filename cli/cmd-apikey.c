/*
 * cmd-apikey.c - `chatctl apikey create|ls|rm`: API keys for scripts and
 * OpenAI-compatible clients.  create prints the key on stdout, the only
 * time the server ever shows it.
 */
#include "chatctl.h"

#include <string.h>

#include "banned.h"

static const char *apikey_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

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
	text = apikey_str(key, "key");
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

static int apikey_ls(struct cli_ctx *ctx, const struct cli_args *a)
{
	static const char *const head[] = { "ID", "PREFIX", "CREATED",
					    "LAST USED", "NAME" };
	char created[64], used[64];
	const cJSON *data, *k;
	cJSON *list = NULL;
	struct table t;
	int rc;

	rc = api_json(ctx, "GET", "/v1/apikeys", NULL, &list);
	if (rc != CLI_OK)
		return rc;
	if (a->count[OPT_JSON]) {
		rc = out_json(ctx, list);
		cJSON_Delete(list);
		return rc;
	}
	table_init(&t, 5);
	rc = table_add(&t, head) < 0 ? CLI_SERVER : CLI_OK;
	data = cJSON_GetObjectItemCaseSensitive(list, "data");
	cJSON_ArrayForEach(k, data) {
		const char *row[5];

		out_time(apikey_str(k, "created_at"), created,
			 sizeof(created));
		if (apikey_str(k, "last_used_at"))
			out_time(apikey_str(k, "last_used_at"), used,
				 sizeof(used));
		else
			snprintf(used, sizeof(used), "never");
		row[0] = apikey_str(k, "id");
		row[1] = apikey_str(k, "prefix");
		row[2] = created;
		row[3] = used;
		row[4] = apikey_str(k, "name");
		if (rc == CLI_OK && table_add(&t, row) < 0)
			rc = CLI_SERVER;
	}
	if (rc == CLI_OK)
		rc = table_print(ctx, &t, 60);
	else
		cli_error("out of memory");
	table_release(&t);
	cJSON_Delete(list);
	return rc;
}

static int apikey_rm(struct cli_ctx *ctx, const struct cli_args *a)
{
	char path[256], esc[200];
	cJSON *answer = NULL;
	int i, rc, worst = CLI_OK;

	for (i = 0; i < a->npos; i++) {
		if (api_escape(a->pos[i], esc, sizeof(esc)) < 0) {
			cli_error("key id '%.40s...' too long", a->pos[i]);
			worst = worst ? worst : CLI_USAGE;
			continue;
		}
		snprintf(path, sizeof(path), "/v1/apikeys/%s", esc);
		rc = api_json(ctx, "DELETE", path, NULL, &answer);
		cJSON_Delete(answer);
		answer = NULL;
		if (rc != CLI_OK && !worst)
			worst = rc;
		if (rc == CLI_AUTH || rc == CLI_INTERRUPTED)
			break;	/* the next ones would fail alike */
	}
	return worst;
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
