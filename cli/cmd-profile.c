/*
 * cmd-profile.c - `chatctl profile [show|set KEY VALUE|unset KEY]`: the
 * account's display name and preferences (GET and PATCH /v1/users/me).
 * The keys are a table, each with where it sits in the user object; the
 * server checks the values (length, the theme's names, the model).
 */
#include "chatctl.h"

#include <string.h>

#include "banned.h"

/* The keys `set` and `unset` take, and `show` shows. */
static const struct profile_key {
	const char *name;
	const char *parent;	/* "preferences", or NULL: the top level */
	const char *help;
} profile_keys[] = {
	{ "display_name", NULL, "the name shown instead of the username" },
	{ "default_model", "preferences", "the model of new conversations" },
	{ "system_prompt", "preferences",
	  "the system prompt of new conversations" },
	{ "theme", "preferences", "dark, light or auto" },
};

#define PROFILE_NKEYS (sizeof(profile_keys) / sizeof(profile_keys[0]))

static const struct profile_key *profile_key(const char *name)
{
	size_t i;

	for (i = 0; i < PROFILE_NKEYS; i++)
		if (strcmp(profile_keys[i].name, name) == 0)
			return &profile_keys[i];
	cli_error("unknown key '%s' (display_name, default_model, "
		  "system_prompt or theme)", name);
	return NULL;
}

/* The value of k in user, NULL when null or absent. */
static const char *profile_value(const cJSON *user,
				 const struct profile_key *k)
{
	const cJSON *obj = k->parent ?
		cJSON_GetObjectItemCaseSensitive(user, k->parent) : user;

	return json_str(obj, k->name);
}

static int profile_show(struct cli_ctx *ctx, const struct cli_args *a)
{
	static const char *const head[] = { "KEY", "VALUE" };
	const char *row[2];
	struct table t;
	cJSON *user = NULL;
	size_t i;
	int rc;

	(void)a;	/* --json and --output: ctx->out_format */
	rc = api_json(ctx, "GET", "/v1/users/me", NULL, &user);
	if (rc != CLI_OK)
		return rc;
	if (out_is_json(ctx)) {
		rc = out_json(ctx, user);
		cJSON_Delete(user);
		return rc;
	}
	table_init(&t, 2);
	rc = table_add(&t, head) < 0 ? CLI_SERVER : CLI_OK;
	row[0] = "username";
	row[1] = json_str(user, "username");
	if (rc == CLI_OK && table_add(&t, row) < 0)
		rc = CLI_SERVER;
	row[0] = "role";
	row[1] = json_str(user, "role");
	if (rc == CLI_OK && table_add(&t, row) < 0)
		rc = CLI_SERVER;
	for (i = 0; i < PROFILE_NKEYS && rc == CLI_OK; i++) {
		row[0] = profile_keys[i].name;
		row[1] = profile_value(user, &profile_keys[i]);
		if (!row[1])
			row[1] = "-";
		if (table_add(&t, row) < 0)
			rc = CLI_SERVER;
	}
	if (rc == CLI_OK)
		rc = table_print(ctx, &t, 0);
	else
		cli_error("out of memory");
	table_release(&t);
	cJSON_Delete(user);
	return rc;
}

/* PATCH /v1/users/me with key k set to value (NULL: null). */
static int profile_patch(struct cli_ctx *ctx, const struct profile_key *k,
			 const char *value)
{
	cJSON *body = cJSON_CreateObject(), *obj, *user = NULL;
	int rc;

	obj = body && k->parent ? cJSON_AddObjectToObject(body, k->parent) :
				  body;
	if (!obj || !(value ? cJSON_AddStringToObject(obj, k->name, value) :
			      cJSON_AddNullToObject(obj, k->name))) {
		cJSON_Delete(body);
		cli_error("out of memory");
		return CLI_SERVER;
	}
	rc = api_json(ctx, "PATCH", "/v1/users/me", body, &user);
	cJSON_Delete(body);
	cJSON_Delete(user);
	return rc;
}

static int profile_set(struct cli_ctx *ctx, const struct cli_args *a)
{
	const struct profile_key *k = profile_key(a->pos[0]);

	return k ? profile_patch(ctx, k, a->pos[1]) : CLI_USAGE;
}

static int profile_unset(struct cli_ctx *ctx, const struct cli_args *a)
{
	const struct profile_key *k = profile_key(a->pos[0]);

	return k ? profile_patch(ctx, k, NULL) : CLI_USAGE;
}

static const struct cli_cmd profile_verbs[] = {
	{
		.name = "show",
		.args = "",
		.summary = "show the display name and preferences",
		.opts = (const int[]){ OUT_OPTS, 0 },
		.min_pos = 0,
		.max_pos = 0,
		.exec = profile_show,
	},
	{
		.name = "set",
		.args = "KEY VALUE",
		.summary = "set display_name, default_model, system_prompt "
			   "or theme",
		.opts = (const int[]){ 0 },
		.min_pos = 2,
		.max_pos = 2,
		.exec = profile_set,
	},
	{
		.name = "unset",
		.args = "KEY",
		.summary = "clear a key (back to the server's default)",
		.opts = (const int[]){ 0 },
		.min_pos = 1,
		.max_pos = 1,
		.exec = profile_unset,
	},
	{ 0 },
};

/* `chatctl profile` alone is `profile show` (main.c runs a noun's own
 * exec when no verb follows). */
const struct cli_cmd cmd_profile = {
	.name = "profile",
	.args = "",
	.summary = "the account's display name and preferences",
	.opts = (const int[]){ OUT_OPTS, 0 },
	.min_pos = 0,
	.max_pos = 0,
	.exec = profile_show,
	.verbs = profile_verbs,
};
