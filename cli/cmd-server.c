/*
 * cmd-server.c - `chatctl server ls|use`: the servers of the credentials
 * file, like kubectl's contexts or gh's hosts.  `chatctl login --server
 * URL` adds one (and makes it current); ls shows each with its name
 * (host[:port]), URL and user, the current one marked; use makes another
 * one current.  --server NAME or CHAT_SERVER=NAME picks one for a single
 * command.  No verb calls the network.
 */
#include "chatctl.h"

#include <string.h>

#include "err.h"
#include "banned.h"

/* The servers as an API-style list {"data":[{name,url,username,
 * current}]}: never a token. */
static cJSON *server_list(const struct creds_set *s)
{
	cJSON *list = cJSON_CreateObject(), *data, *it;
	char name[256];
	size_t i;

	data = list ? cJSON_AddArrayToObject(list, "data") : NULL;
	if (!data)
		goto fail;
	for (i = 0; i < s->n; i++) {
		creds_name(s->v[i].server, name, sizeof(name));
		it = cJSON_CreateObject();
		if (!it)
			goto fail;
		cJSON_AddItemToArray(data, it);
		if (!cJSON_AddStringToObject(it, "name", name) ||
		    !cJSON_AddStringToObject(it, "url", s->v[i].server) ||
		    !cJSON_AddStringToObject(it, "username",
					     s->v[i].username) ||
		    !cJSON_AddBoolToObject(it, "current",
					   (long)i == s->current))
			goto fail;
	}
	return list;
fail:
	cJSON_Delete(list);
	return NULL;
}

static int server_row(struct table *t, const cJSON *it)
{
	const char *row[4];

	row[0] = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it,
							       "current")) ?
			 "*" : "";
	row[1] = json_str(it, "name");
	row[2] = json_str(it, "url");
	row[3] = json_str(it, "username");
	return table_add(t, row);
}

/* The credentials file's logins into s; an exit status. */
static int server_load(struct cli_ctx *ctx, struct creds_set *s)
{
	int rc;

	if (!ctx->creds_path[0]) {
		cli_error("neither XDG_CONFIG_HOME nor HOME is set: no "
			  "credentials file");
		return CLI_USAGE;
	}
	rc = creds_set_load(ctx->creds_path, s);
	if (rc < 0) {
		cli_error("cannot read '%s': %s", ctx->creds_path,
			  chat_strerror(rc));
		return CLI_SERVER;
	}
	return CLI_OK;
}

static int server_ls(struct cli_ctx *ctx, const struct cli_args *a)
{
	static const char *const head[] = { "CURRENT", "NAME", "URL",
					    "USER" };
	struct creds_set s;
	cJSON *list = NULL;
	int rc;

	(void)a;	/* --json and --output: ctx->out_format */
	rc = server_load(ctx, &s);
	if (rc != CLI_OK)
		return rc;
	list = server_list(&s);
	creds_set_release(&s);
	if (!list) {
		cli_error("out of memory");
		return CLI_SERVER;
	}
	rc = out_list(ctx, list, false, head, 4, server_row, 0);
	cJSON_Delete(list);
	return rc;
}

static int server_use(struct cli_ctx *ctx, const struct cli_args *a)
{
	struct creds c;
	char name[256];
	int rc, lock;

	if (!ctx->creds_path[0]) {
		cli_error("neither XDG_CONFIG_HOME nor HOME is set: no "
			  "credentials file");
		return CLI_USAGE;
	}
	lock = creds_lock(ctx->creds_path);
	rc = lock < 0 ? lock : creds_use(ctx->creds_path, a->pos[0]);
	creds_unlock(lock);
	if (rc == CHAT_ENOTFOUND) {
		cli_error("no server '%s' (see 'chatctl server ls'; 'chatctl "
			  "login --server URL' adds one)", a->pos[0]);
		return CLI_NOTFOUND;
	}
	if (rc < 0) {
		cli_error("cannot write '%s': %s", ctx->creds_path,
			  chat_strerror(rc));
		return CLI_SERVER;
	}
	if (creds_load(ctx->creds_path, &c) == 0) {
		creds_name(c.server, name, sizeof(name));
		fprintf(stderr, "chatctl: using %s (%s) as '%s'\n", name,
			c.server, c.username);
		creds_release(&c);
	}
	return CLI_OK;
}

static const struct cli_cmd server_verbs[] = {
	{
		.name = "ls",
		.args = "",
		.summary = "list the servers logged in to, the current marked",
		.opts = (const int[]){ OUT_OPTS, 0 },
		.min_pos = 0,
		.max_pos = 0,
		.exec = server_ls,
	},
	{
		.name = "use",
		.args = "NAME",
		.summary = "make a server (a name or URL) the current one",
		.opts = (const int[]){ 0 },
		.min_pos = 1,
		.max_pos = 1,
		.exec = server_use,
	},
	{ 0 },
};

const struct cli_cmd cmd_server = {
	.name = "server",
	.args = "",
	.summary = "the servers of the credentials file",
	.opts = (const int[]){ 0 },
	.verbs = server_verbs,
};
