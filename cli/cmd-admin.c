/*
 * cmd-admin.c - `chatctl admin ...`: the administration of a server for
 * accounts of role admin, over /v1/admin (docs/api/openapi.yaml):
 *
 *   admin users ls [--role R] [--disabled] [--search TEXT]
 *   admin users show|disable|enable|rm USER, role USER ROLE,
 *         create USER [--role R] [--password-stdin], passwd USER
 *   admin sessions ls [USER] | rm ID...
 *   admin apikeys ls [USER] | rm ID...
 *   admin models
 *   admin broadcast TEXT
 *   admin stats [--by day|user|model] [--from D] [--to D] [--user USER]
 *         [--csv|--json], admin events [-f] [--type T] [--user USER]
 *         (admin-stats.c)
 *
 * USER is a username or a user id: the server takes either in the path,
 * and the list filters (?user=) take the id that a lookup gives.  Lists
 * follow every page.  A caller without the admin role gets one clear
 * line and exit 2 rather than the route's bare 403.
 */
#include "chatctl.h"

#include <stdlib.h>
#include <string.h>

#include "banned.h"

#define ADMIN_PAGE "100"	/* items asked for per page */
#define ADMIN_PAGES_MAX 1000	/* pages followed, at most */

/* ---- calls ---- */

void admin_say_error(const struct api_res *res, int rc)
{
	if (res->status == 403 && strcmp(res->code, "forbidden") == 0) {
		cli_error("'chatctl admin' needs an account of role admin "
			  "(the server refused: %s)", res->message);
	} else if (res->status == 403 &&
		   strcmp(res->code, "insufficient_scope") == 0) {
		cli_error("this API key lacks the admin scope (%s)",
			  res->message);
	} else if (rc != CLI_INTERRUPTED && res->message[0]) {
		cli_error("%s%s%s%s", res->message, res->code[0] ? " (" : "",
			  res->code, res->code[0] ? ")" : "");
	} else if (rc == CLI_AUTH) {
		cli_error("not logged in (or the session has ended): log in "
			  "with 'chatctl login'");
	}
}

/* api_json with the admin routes' errors said for a person: a 403
 * forbidden means the caller is no admin. */
int admin_call(struct cli_ctx *ctx, const char *method, const char *path,
	       const cJSON *body, cJSON **out)
{
	struct api_req req = { method, path, body, API_QUIET, NULL, NULL,
			       NULL };
	struct api_res res;
	int rc;

	*out = NULL;
	rc = api_call(ctx, &req, &res);
	/* a taken name, the last admin: input the server refused */
	if (res.status == 409)
		rc = CLI_USAGE;
	if (rc == CLI_OK) {
		*out = res.json;
		res.json = NULL;
	} else {
		admin_say_error(&res, rc);
	}
	api_res_release(&res);
	return rc;
}

/* GETs path (which holds a '?') and every next page into *all, the
 * first page's object with every page's data in it. */
static int admin_fetch_all(struct cli_ctx *ctx, const char *path,
			   cJSON **all)
{
	char p[2048], cur[600];
	cJSON *page = NULL, *item;
	const char *next;
	int rc, n;

	*all = NULL;
	rc = admin_call(ctx, "GET", path, NULL, all);
	for (n = 0; rc == CLI_OK && n < ADMIN_PAGES_MAX; n++) {
		next = json_str(page ? page : *all, "next_cursor");
		if (!next || !next[0])
			break;
		if (api_escape(next, cur, sizeof(cur)) < 0) {
			cli_error("the server's cursor is too long");
			rc = CLI_SERVER;
			break;
		}
		snprintf(p, sizeof(p), "%s&cursor=%s", path, cur);
		cJSON_Delete(page);
		page = NULL;
		rc = admin_call(ctx, "GET", p, NULL, &page);
		if (rc != CLI_OK)
			break;
		while (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(
			       page, "data")) > 0) {
			item = cJSON_DetachItemFromArray(
				cJSON_GetObjectItemCaseSensitive(page, "data"),
				0);
			cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(
						     *all, "data"), item);
		}
	}
	cJSON_Delete(page);
	if (rc == CLI_OK && *all)
		cJSON_ReplaceItemInObjectCaseSensitive(*all, "next_cursor",
						       cJSON_CreateNull());
	if (rc != CLI_OK) {
		cJSON_Delete(*all);
		*all = NULL;
	}
	return rc;
}

/* "/v1/admin/<what>/<escaped id><suffix>" */
static int admin_path(const char *what, const char *id, const char *suffix,
		      char *out, size_t outlen)
{
	char esc[400];

	if (!id[0] || api_escape(id, esc, sizeof(esc)) < 0) {
		cli_error("'%.40s' is not a usable id or name", id);
		return CLI_USAGE;
	}
	snprintf(out, outlen, "/v1/admin/%s/%s%s", what, esc, suffix);
	return CLI_OK;
}

/* The account USER (a name or an id) names, into *user. */
static int admin_user_get(struct cli_ctx *ctx, const char *user,
			  cJSON **out)
{
	char path[512];
	int rc;

	*out = NULL;
	rc = admin_path("users", user, "", path, sizeof(path));
	if (rc == CLI_OK)
		rc = admin_call(ctx, "GET", path, NULL, out);
	return rc;
}

int admin_user_id(struct cli_ctx *ctx, const char *user, char *out,
		  size_t outlen)
{
	cJSON *u = NULL;
	const char *id;
	int rc;

	rc = admin_user_get(ctx, user, &u);
	if (rc != CLI_OK)
		return rc;
	id = json_str(u, "id");
	if (!id || strlen(id) >= outlen) {
		cli_error("the server's answer holds no usable user id");
		rc = CLI_SERVER;
	} else {
		memcpy(out, id, strlen(id) + 1);
	}
	cJSON_Delete(u);
	return rc;
}

/* A time cell: local time, or none when the field is null. */
static void admin_time(const cJSON *o, const char *field, const char *none,
		       char *out, size_t outlen)
{
	if (json_str(o, field))
		out_time(json_str(o, field), out, outlen);
	else
		snprintf(out, outlen, "%s", none);
}

static const char *admin_or(const cJSON *o, const char *field,
			    const char *none)
{
	const char *s = json_str(o, field);

	return s ? s : none;
}

static const char *admin_state(const cJSON *u)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(u, "disabled")) ?
	       "disabled" : "enabled";
}

/* ---- admin users ---- */

static int admin_user_row(struct table *t, const cJSON *u)
{
	char created[64];
	const char *row[5];

	admin_time(u, "created_at", "", created, sizeof(created));
	row[0] = json_str(u, "id");
	row[1] = json_str(u, "username");
	row[2] = json_str(u, "role");
	row[3] = admin_state(u);
	row[4] = created;
	return table_add(t, row);
}

static int admin_users_ls(struct cli_ctx *ctx, const struct cli_args *a)
{
	static const char *const head[] = { "ID", "USERNAME", "ROLE",
					    "STATE", "CREATED" };
	char path[1024], esc[400];
	size_t len;
	cJSON *all = NULL;
	int rc;

	len = (size_t)snprintf(path, sizeof(path),
			       "/v1/admin/users?limit=" ADMIN_PAGE);
	if (a->val[OPT_ROLE]) {
		if (api_escape(a->val[OPT_ROLE], esc, sizeof(esc)) < 0)
			goto too_long;
		len += (size_t)snprintf(path + len, sizeof(path) - len,
					"&role=%s", esc);
	}
	if (a->count[OPT_DISABLED])
		len += (size_t)snprintf(path + len, sizeof(path) - len,
					"&disabled=true");
	if (a->val[OPT_SEARCH]) {
		if (api_escape(a->val[OPT_SEARCH], esc, sizeof(esc)) < 0)
			goto too_long;
		snprintf(path + len, sizeof(path) - len, "&search=%s", esc);
	}
	rc = admin_fetch_all(ctx, path, &all);
	if (rc == CLI_OK)
		rc = out_list(ctx, all, false, head, 5, admin_user_row, 0);
	cJSON_Delete(all);
	return rc;
too_long:
	cli_error("a filter value is too long");
	return CLI_USAGE;
}

static int admin_users_show(struct cli_ctx *ctx, const struct cli_args *a)
{
	const cJSON *prefs;
	char created[64], updated[64];
	struct table t;
	cJSON *u = NULL;
	int rc;

	rc = admin_user_get(ctx, a->pos[0], &u);
	if (rc != CLI_OK)
		return rc;
	if (out_is_json(ctx)) {
		rc = out_json(ctx, u);
		cJSON_Delete(u);
		return rc;
	}
	prefs = cJSON_GetObjectItemCaseSensitive(u, "preferences");
	admin_time(u, "created_at", "", created, sizeof(created));
	admin_time(u, "updated_at", "", updated, sizeof(updated));
	{
		const char *rows[][2] = {
			{ "KEY", "VALUE" },
			{ "id", json_str(u, "id") },
			{ "username", json_str(u, "username") },
			{ "role", json_str(u, "role") },
			{ "state", admin_state(u) },
			{ "display_name", admin_or(u, "display_name", "-") },
			{ "default_model",
			  admin_or(prefs, "default_model", "-") },
			{ "created", created },
			{ "updated", updated },
		};
		size_t i;

		table_init(&t, 2);
		for (i = 0; i < sizeof(rows) / sizeof(rows[0]) && rc == 0;
		     i++)
			rc = table_add(&t, rows[i]);
		rc = rc == 0 ? table_print(ctx, &t, 0) : CLI_SERVER;
		table_release(&t);
	}
	cJSON_Delete(u);
	return rc;
}

static int admin_users_create(struct cli_ctx *ctx, const struct cli_args *a)
{
	cJSON *body = cJSON_CreateObject(), *ans = NULL;
	const cJSON *user;
	const char *pw;
	char *password = NULL;
	int rc = CLI_OK;

	if (a->count[OPT_PASSWORD_STDIN])
		rc = ctl_auth_password(ctx, a, false, &password);
	if (rc != CLI_OK)
		goto out;
	if (!body || !cJSON_AddStringToObject(body, "username", a->pos[0]) ||
	    (a->val[OPT_ROLE] &&
	     !cJSON_AddStringToObject(body, "role", a->val[OPT_ROLE])) ||
	    (a->val[OPT_EMAIL] &&
	     !cJSON_AddStringToObject(body, "email", a->val[OPT_EMAIL])) ||
	    (password &&
	     !cJSON_AddStringToObject(body, "password", password))) {
		cli_error("out of memory");
		rc = CLI_SERVER;
		goto out;
	}
	rc = admin_call(ctx, "POST", "/v1/admin/users", body, &ans);
	if (rc != CLI_OK)
		goto out;
	if (out_is_json(ctx)) {
		rc = out_json(ctx, ans);
		goto out;
	}
	user = cJSON_GetObjectItemCaseSensitive(ans, "user");
	pw = json_str(ans, "password");
	/* the generated password alone on stdout, for scripts; it is never
	 * shown again */
	if (pw)
		printf("%s\n", pw);
	if (ctx->stderr_tty)
		fprintf(stderr, "chatctl: created '%s' (role %s)%s\n",
			admin_or(user, "username", a->pos[0]),
			admin_or(user, "role", "?"),
			pw ? "; keep the password now: it cannot be shown "
			     "again" : "");
out:
	if (password) {
		ctl_auth_wipe(password);
		free(password);
	}
	if (body) {
		/* the password's copy in the body */
		cJSON *p = cJSON_GetObjectItemCaseSensitive(body, "password");

		if (cJSON_IsString(p))
			ctl_auth_wipe(p->valuestring);
	}
	cJSON_Delete(body);
	cJSON_Delete(ans);
	return rc;
}

/* PATCHes the user with body; --json prints the updated account. */
static int admin_users_patch(struct cli_ctx *ctx, const struct cli_args *a,
			     cJSON *body)
{
	char path[512];
	cJSON *ans = NULL;
	int rc;

	if (!body) {
		cli_error("out of memory");
		return CLI_SERVER;
	}
	rc = admin_path("users", a->pos[0], "", path, sizeof(path));
	if (rc == CLI_OK)
		rc = admin_call(ctx, "PATCH", path, body, &ans);
	if (rc == CLI_OK && out_is_json(ctx))
		rc = out_json(ctx, ans);
	cJSON_Delete(ans);
	cJSON_Delete(body);
	return rc;
}

static cJSON *admin_bool_body(const char *key, bool v)
{
	cJSON *b = cJSON_CreateObject();

	if (b && !cJSON_AddBoolToObject(b, key, v)) {
		cJSON_Delete(b);
		b = NULL;
	}
	return b;
}

static int admin_users_disable(struct cli_ctx *ctx, const struct cli_args *a)
{
	return admin_users_patch(ctx, a, admin_bool_body("disabled", true));
}

static int admin_users_enable(struct cli_ctx *ctx, const struct cli_args *a)
{
	return admin_users_patch(ctx, a, admin_bool_body("disabled", false));
}

static int admin_users_role(struct cli_ctx *ctx, const struct cli_args *a)
{
	cJSON *b = cJSON_CreateObject();

	if (b && !cJSON_AddStringToObject(b, "role", a->pos[1])) {
		cJSON_Delete(b);
		b = NULL;
	}
	return admin_users_patch(ctx, a, b);
}

static int admin_users_passwd(struct cli_ctx *ctx, const struct cli_args *a)
{
	char path[512];
	char *password = NULL;
	cJSON *body = NULL, *ans = NULL;
	int rc;

	rc = admin_path("users", a->pos[0], "/password", path, sizeof(path));
	if (rc == CLI_OK)
		rc = ctl_auth_password(ctx, a, true, &password);
	if (rc != CLI_OK)
		return rc;
	body = cJSON_CreateObject();
	if (!body || !cJSON_AddStringToObject(body, "password", password)) {
		cli_error("out of memory");
		rc = CLI_SERVER;
	} else {
		rc = admin_call(ctx, "PUT", path, body, &ans);
	}
	if (rc == CLI_OK && ctx->stderr_tty)
		fprintf(stderr, "chatctl: password set; the sessions of '%s' "
				"are revoked\n", a->pos[0]);
	ctl_auth_wipe(password);
	free(password);
	if (body) {
		cJSON *p = cJSON_GetObjectItemCaseSensitive(body, "password");

		if (cJSON_IsString(p))
			ctl_auth_wipe(p->valuestring);
	}
	cJSON_Delete(body);
	cJSON_Delete(ans);
	return rc;
}

/* Asks on the terminal; true only for y or yes. */
static bool admin_confirm(const char *user)
{
	char line[64];

	fprintf(stderr, "Delete the account '%s' and all its data "
			"(conversations, sessions, API keys)? [y/N] ", user);
	fflush(stderr);
	if (!fgets(line, sizeof(line), stdin))
		return false;
	line[strcspn(line, "\r\n")] = '\0';
	return strcmp(line, "y") == 0 || strcmp(line, "Y") == 0 ||
	       strcmp(line, "yes") == 0;
}

static int admin_users_rm(struct cli_ctx *ctx, const struct cli_args *a)
{
	char path[512];
	cJSON *ans = NULL;
	int rc;

	rc = admin_path("users", a->pos[0], "", path, sizeof(path));
	if (rc != CLI_OK)
		return rc;
	if (!a->count[OPT_YES]) {
		if (!ctx->stdin_tty) {
			cli_error("refusing to delete '%s' without "
				  "confirmation: pass --yes", a->pos[0]);
			return CLI_USAGE;
		}
		if (!admin_confirm(a->pos[0])) {
			cli_error("not deleted");
			return CLI_USAGE;
		}
	}
	rc = admin_call(ctx, "DELETE", path, NULL, &ans);
	cJSON_Delete(ans);
	return rc;
}

/* ---- admin sessions, admin apikeys ---- */

/* "/v1/admin/<what>?limit=N[&user=<id>]": USER looked up when given. */
static int admin_list_path(struct cli_ctx *ctx, const struct cli_args *a,
			   const char *what, char *out, size_t outlen)
{
	char esc[200];
	cJSON *u = NULL;
	const char *id;
	int rc;

	if (a->npos == 0) {
		snprintf(out, outlen, "/v1/admin/%s?limit=" ADMIN_PAGE, what);
		return CLI_OK;
	}
	rc = admin_user_get(ctx, a->pos[0], &u);
	if (rc != CLI_OK)
		return rc;
	id = json_str(u, "id");
	if (!id || api_escape(id, esc, sizeof(esc)) < 0) {
		cli_error("the server's answer holds no user id");
		rc = CLI_SERVER;
	} else {
		snprintf(out, outlen, "/v1/admin/%s?limit=" ADMIN_PAGE
			 "&user=%s", what, esc);
	}
	cJSON_Delete(u);
	return rc;
}

static int admin_session_row(struct table *t, const cJSON *s)
{
	char created[64], used[64], expires[64];
	const char *row[7];

	admin_time(s, "created_at", "", created, sizeof(created));
	admin_time(s, "last_used_at", "", used, sizeof(used));
	admin_time(s, "expires_at", "", expires, sizeof(expires));
	row[0] = json_str(s, "id");
	row[1] = json_str(s, "user_id");
	row[2] = created;
	row[3] = used;
	row[4] = expires;
	row[5] = admin_or(s, "ip", "-");
	row[6] = admin_or(s, "user_agent", "-");
	return table_add(t, row);
}

static int admin_apikey_row(struct table *t, const cJSON *k)
{
	char created[64], used[64], expires[64];
	const char *row[7];

	admin_time(k, "created_at", "", created, sizeof(created));
	admin_time(k, "last_used_at", "never", used, sizeof(used));
	admin_time(k, "expires_at", "never", expires, sizeof(expires));
	row[0] = json_str(k, "id");
	row[1] = json_str(k, "user_id");
	row[2] = json_str(k, "prefix");
	row[3] = created;
	row[4] = used;
	row[5] = expires;
	row[6] = json_str(k, "name");
	return table_add(t, row);
}

/* The listing of /v1/admin/<what> (of USER when given, every page),
 * a row of the 7 columns of head per item, drawn by row. */
static int admin_list(struct cli_ctx *ctx, const struct cli_args *a,
		      const char *what, const char *const head[7],
		      out_row_fn row)
{
	char path[600];
	cJSON *all = NULL;
	int rc;

	rc = admin_list_path(ctx, a, what, path, sizeof(path));
	if (rc == CLI_OK)
		rc = admin_fetch_all(ctx, path, &all);
	if (rc == CLI_OK)
		rc = out_list(ctx, all, false, head, 7, row, 60);
	cJSON_Delete(all);
	return rc;
}

static int admin_sessions_ls(struct cli_ctx *ctx, const struct cli_args *a)
{
	static const char *const head[] = { "ID", "USER ID", "CREATED",
					    "LAST USED", "EXPIRES",
					    "ADDRESS", "DEVICE" };

	return admin_list(ctx, a, "sessions", head, admin_session_row);
}

static int admin_apikeys_ls(struct cli_ctx *ctx, const struct cli_args *a)
{
	static const char *const head[] = { "ID", "USER ID", "PREFIX",
					    "CREATED", "LAST USED",
					    "EXPIRES", "NAME" };

	return admin_list(ctx, a, "apikeys", head, admin_apikey_row);
}

/* DELETE /v1/admin/<what>/<id> for each id, on past a failure but for
 * the ones every next call would share (as api_delete_each). */
static int admin_rm_each(struct cli_ctx *ctx, const struct cli_args *a,
			 const char *what)
{
	char path[512];
	cJSON *ans = NULL;
	int i, rc, worst = CLI_OK;

	for (i = 0; i < a->npos; i++) {
		rc = admin_path(what, a->pos[i], "", path, sizeof(path));
		if (rc == CLI_OK)
			rc = admin_call(ctx, "DELETE", path, NULL, &ans);
		cJSON_Delete(ans);
		ans = NULL;
		if (rc != CLI_OK && worst == CLI_OK)
			worst = rc;
		if (rc == CLI_AUTH || rc == CLI_INTERRUPTED)
			break;
	}
	return worst;
}

static int admin_sessions_rm(struct cli_ctx *ctx, const struct cli_args *a)
{
	return admin_rm_each(ctx, a, "sessions");
}

static int admin_apikeys_rm(struct cli_ctx *ctx, const struct cli_args *a)
{
	return admin_rm_each(ctx, a, "apikeys");
}

/* ---- admin models ---- */

static int admin_model_row(struct table *t, const cJSON *m)
{
	const cJSON *cw = cJSON_GetObjectItemCaseSensitive(m, "context_window");
	char ctxw[32];
	const char *row[5];

	if (cJSON_IsNumber(cw))
		snprintf(ctxw, sizeof(ctxw), "%.0f", cw->valuedouble);
	else
		snprintf(ctxw, sizeof(ctxw), "-");
	row[0] = json_str(m, "id");
	row[1] = admin_or(m, "provider", "-");
	row[2] = ctxw;
	row[3] = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "up")) ?
		 "up" : "down";
	row[4] = admin_or(m, "error", "");
	return table_add(t, row);
}

static int admin_models(struct cli_ctx *ctx, const struct cli_args *a)
{
	static const char *const head[] = { "ID", "PROVIDER", "CONTEXT",
					    "UPSTREAM", "ERROR" };
	cJSON *list = NULL;
	int rc;

	(void)a;
	rc = admin_call(ctx, "GET", "/v1/admin/models", NULL, &list);
	if (rc == CLI_OK)
		rc = out_list(ctx, list, false, head, 5, admin_model_row, 60);
	cJSON_Delete(list);
	return rc;
}

/* ---- the tables ---- */

/* admin broadcast TEXT: an in-app notification to every account (POST
 * /v1/admin/broadcast); its id on stdout, or the answer with --json. */
static int admin_broadcast(struct cli_ctx *ctx, const struct cli_args *a)
{
	cJSON *body = cJSON_CreateObject(), *res = NULL;
	int rc;

	if (!body || !cJSON_AddStringToObject(body, "text", a->pos[0])) {
		cli_error("out of memory");
		rc = CLI_SERVER;
		goto out;
	}
	rc = admin_call(ctx, "POST", "/v1/admin/broadcast", body, &res);
	if (rc != CLI_OK)
		goto out;
	if (out_is_json(ctx))
		rc = out_json(ctx, res);
	else if (json_str(res, "id"))
		printf("%s\n", json_str(res, "id"));
out:
	cJSON_Delete(res);
	cJSON_Delete(body);
	return rc;
}

static const struct cli_cmd admin_users_verbs[] = {
	{
		.name = "ls",
		.args = "",
		.summary = "list the accounts, newest first",
		.opts = (const int[]){ OPT_ROLE, OPT_DISABLED, OPT_SEARCH,
				       OUT_OPTS, 0 },
		.min_pos = 0,
		.max_pos = 0,
		.exec = admin_users_ls,
	},
	{
		.name = "show",
		.args = "USER",
		.summary = "show an account (USER: a name or an id)",
		.opts = (const int[]){ OUT_OPTS, 0 },
		.min_pos = 1,
		.max_pos = 1,
		.exec = admin_users_show,
		.complete = "@users",
	},
	{
		.name = "create",
		.args = "USER",
		.summary = "create an account (a random password, printed "
			   "once, unless --password-stdin)",
		.opts = (const int[]){ OPT_ROLE, OPT_PASSWORD_STDIN,
				       OPT_EMAIL, OUT_OPTS, 0 },
		.min_pos = 1,
		.max_pos = 1,
		.exec = admin_users_create,
	},
	{
		.name = "disable",
		.args = "USER",
		.summary = "disable an account and end its sessions",
		.opts = (const int[]){ OUT_OPTS, 0 },
		.min_pos = 1,
		.max_pos = 1,
		.exec = admin_users_disable,
		.complete = "@users",
	},
	{
		.name = "enable",
		.args = "USER",
		.summary = "enable a disabled account",
		.opts = (const int[]){ OUT_OPTS, 0 },
		.min_pos = 1,
		.max_pos = 1,
		.exec = admin_users_enable,
		.complete = "@users",
	},
	{
		.name = "role",
		.args = "USER ROLE",
		.summary = "set an account's role (admin, user, guest)",
		.opts = (const int[]){ OUT_OPTS, 0 },
		.min_pos = 2,
		.max_pos = 2,
		.exec = admin_users_role,
		.complete = "@users",
	},
	{
		.name = "passwd",
		.args = "USER",
		.summary = "set an account's password and end its sessions",
		.opts = (const int[]){ OPT_PASSWORD_STDIN, 0 },
		.min_pos = 1,
		.max_pos = 1,
		.exec = admin_users_passwd,
		.complete = "@users",
	},
	{
		.name = "rm",
		.args = "USER",
		.summary = "delete an account and all its data (asks first)",
		.opts = (const int[]){ OPT_YES, 0 },
		.min_pos = 1,
		.max_pos = 1,
		.exec = admin_users_rm,
		.complete = "@users",
	},
	{ 0 },
};

static const struct cli_cmd admin_sessions_verbs[] = {
	{
		.name = "ls",
		.args = "[USER]",
		.summary = "list the live sessions, of one user or all",
		.opts = (const int[]){ OUT_OPTS, 0 },
		.min_pos = 0,
		.max_pos = 1,
		.exec = admin_sessions_ls,
		.complete = "@users",
	},
	{
		.name = "rm",
		.args = "ID...",
		.summary = "revoke sessions",
		.opts = (const int[]){ 0 },
		.min_pos = 1,
		.max_pos = -1,
		.exec = admin_sessions_rm,
	},
	{ 0 },
};

static const struct cli_cmd admin_apikeys_verbs[] = {
	{
		.name = "ls",
		.args = "[USER]",
		.summary = "list the live API keys, of one user or all",
		.opts = (const int[]){ OUT_OPTS, 0 },
		.min_pos = 0,
		.max_pos = 1,
		.exec = admin_apikeys_ls,
		.complete = "@users",
	},
	{
		.name = "rm",
		.args = "ID...",
		.summary = "revoke API keys",
		.opts = (const int[]){ 0 },
		.min_pos = 1,
		.max_pos = -1,
		.exec = admin_apikeys_rm,
	},
	{ 0 },
};

static const struct cli_cmd admin_verbs[] = {
	{
		.name = "users",
		.args = "",
		.summary = "the accounts of the server",
		.opts = (const int[]){ 0 },
		.verbs = admin_users_verbs,
	},
	{
		.name = "sessions",
		.args = "",
		.summary = "every user's device sessions",
		.opts = (const int[]){ 0 },
		.verbs = admin_sessions_verbs,
	},
	{
		.name = "apikeys",
		.args = "",
		.summary = "every user's API keys",
		.opts = (const int[]){ 0 },
		.verbs = admin_apikeys_verbs,
	},
	{
		.name = "broadcast",
		.args = "TEXT",
		.summary = "an in-app notification to every account",
		.opts = (const int[]){ OPT_JSON, 0 },
		.min_pos = 1,
		.max_pos = 1,
		.exec = admin_broadcast,
	},
	{
		.name = "models",
		.args = "",
		.summary = "every configured model and whether its upstream "
			   "answers",
		.opts = (const int[]){ OUT_OPTS, 0 },
		.min_pos = 0,
		.max_pos = 0,
		.exec = admin_models,
	},
	{
		.name = "stats",
		.args = "",
		.summary = "usage analytics: a summary, or usage by day, user "
			   "or model",
		.opts = (const int[]){ OPT_BY, OPT_FROM, OPT_TO, OPT_USER,
				       OPT_CSV, OUT_OPTS, 0 },
		.min_pos = 0,
		.max_pos = 0,
		.exec = ctl_admin_stats,
	},
	{
		.name = "events",
		.args = "",
		.summary = "the platform's events as they happen (-f: until "
			   "interrupted)",
		.opts = (const int[]){ 'f', OPT_TYPE, OPT_USER, OUT_OPTS, 0 },
		.min_pos = 0,
		.max_pos = 0,
		.exec = ctl_admin_events,
	},
	{ 0 },
};

const struct cli_cmd cmd_admin = {
	.name = "admin",
	.args = "",
	.summary = "administer the server (role admin)",
	.opts = (const int[]){ 0 },
	.verbs = admin_verbs,
};
