/*
 * cmd-model.c - `chatctl model ls`: the models the server offers
 * (GET /v1/models, OpenAI's list format), as a table or JSON.
 */
#include "chatctl.h"

#include "banned.h"

/* A cell: the string, or "-" when the server left it out. */
static const char *model_str(const cJSON *obj, const char *key)
{
	const char *s = json_str(obj, key);

	return s ? s : "-";
}

static int model_row(struct table *t, const cJSON *m)
{
	const char *row[] = { model_str(m, "id"), model_str(m, "owned_by") };

	return table_add(t, row);
}

static int model_ls(struct cli_ctx *ctx, const struct cli_args *a)
{
	static const char *const head[] = { "ID", "OWNED BY" };
	cJSON *list = NULL;
	int rc;

	(void)a;	/* --json and --output: ctx->out_format */
	rc = api_json(ctx, "GET", "/v1/models", NULL, &list);
	if (rc == CLI_OK)
		rc = out_list(ctx, list, false, head, 2,
			      model_row, 0);
	cJSON_Delete(list);
	return rc;
}

static const struct cli_cmd model_verbs[] = {
	{
		.name = "ls",
		.args = "",
		.summary = "list the models",
		.opts = (const int[]){ OUT_OPTS, 0 },
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
