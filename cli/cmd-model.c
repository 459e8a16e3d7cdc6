/*
 * cmd-model.c - `chatctl model ls`: the models the server offers
 * (GET /v1/models, OpenAI's list format), as a table or JSON.
 */
#include "chatctl.h"

#include "banned.h"

static const char *model_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) ? v->valuestring : "-";
}

static int model_ls(struct cli_ctx *ctx, const struct cli_args *a)
{
	static const char *const head[] = { "ID", "OWNED BY" };
	const cJSON *data, *m;
	cJSON *list = NULL;
	struct table t;
	int rc;

	rc = api_json(ctx, "GET", "/v1/models", NULL, &list);
	if (rc != CLI_OK)
		return rc;
	if (a->count[OPT_JSON]) {
		rc = out_json(ctx, list);
		cJSON_Delete(list);
		return rc;
	}
	table_init(&t, 2);
	rc = table_add(&t, head) < 0 ? CLI_SERVER : CLI_OK;
	data = cJSON_GetObjectItemCaseSensitive(list, "data");
	cJSON_ArrayForEach(m, data) {
		const char *row[] = { model_str(m, "id"),
				      model_str(m, "owned_by") };

		if (rc == CLI_OK && table_add(&t, row) < 0)
			rc = CLI_SERVER;
	}
	if (rc == CLI_OK)
		rc = table_print(ctx, &t, 0);
	else
		cli_error("out of memory");
	table_release(&t);
	cJSON_Delete(list);
	return rc;
}

static const struct cli_cmd model_verbs[] = {
	{
		.name = "ls",
		.args = "",
		.summary = "list the models",
		.opts = (const int[]){ OPT_JSON, 0 },
		.min_pos = 0,
		.max_pos = 0,
		.exec = model_ls,
	},
	{ 0 },
};

const struct cli_cmd cmd_model = {
	.name = "model",
	.args = "",
	.summary = "the models the server offers",
	.opts = (const int[]){ 0 },
	.verbs = model_verbs,
};
