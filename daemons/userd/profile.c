/*
 * profile.c - GET and PATCH /v1/users/me: the caller's own account,
 * display name and preferences.
 *
 * GET starts on the loop thread and answers from me-cache.c when it can;
 * a PATCH forgets the cached answer once its UPDATE is done.
 *
 * PATCH takes each field as a string (set) or null (clear); absent
 * fields stay as they are, unknown fields are ignored.  Every field is
 * checked before anything is written, and the write is one transaction.
 * "email" too (email.c): a new address is stored unverified and mailed a
 * verification code; changing or removing an address the account has
 * needs "current_password" in the same body, checked like a login's.
 */
#include "userd.h"

#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "db.h"
#include "err.h"
#include "json.h"
#include "log.h"
#include "pool.h"
#include "util.h"
#include "banned.h"

#define PROFILE_SQL_MAX 1024

static const char *const profile_themes[] = { "dark", "light", "auto", NULL };

/* A writable field: where it sits in the body and which column it is. */
struct profile_field {
	const char *parent;		/* NULL: top level, else an object */
	const char *key;		/* name in the JSON body */
	const char *column;		/* column in users (a constant) */
	size_t max;			/* longest value in bytes */
	const char *const *choices;	/* allowed values; NULL: any */
};

static const struct profile_field profile_fields[] = {
	{ NULL, "display_name", "display_name", 128, NULL },
	{ "preferences", "default_model", "default_model", 128, NULL },
	{ "preferences", "system_prompt", "system_prompt", 16384, NULL },
	{ "preferences", "theme", "theme", 5, profile_themes },
};

#define PROFILE_NFIELDS (sizeof(profile_fields) / sizeof(profile_fields[0]))

static bool profile_choice_ok(const char *const *choices, const char *s)
{
	if (!choices)
		return true;
	for (; *choices; choices++) {
		if (strcmp(*choices, s) == 0)
			return true;
	}
	return false;
}

/* Answers 200 with user u. */
static void profile_answer(struct http_req *req, const struct user *u)
{
	cJSON *obj = users_to_json(u);

	if (!obj) {
		request_fail(req, CHAT_ENOMEM, "building the answer");
		return;
	}
	http_res_json(req->res, 200, obj);
}

/* Worker thread: the store read of a GET the cache could not answer. */
static void profile_get_from_store(void *arg)
{
	struct http_req *req = arg;
	struct userd *ud = userd_of(req);
	struct db_conn *c = NULL;
	struct user u = { 0 };
	uint64_t generation;
	cJSON *obj;
	char *text;
	int rc;

	log_set_request_id(req->request_id);
	/* before the read: a write after this point keeps it out of the
	 * cache */
	generation = me_cache_generation(&ud->me);
	if (request_db(req, &c) < 0)
		goto out;
	rc = users_get_by_id(c, req->user_id, &u);
	db_release(c);
	if (rc == CHAT_ENOTFOUND) {
		http_res_error(req->res, 404, "not_found", "no such user");
		goto out;
	}
	if (rc < 0) {
		request_fail(req, rc, "reading an account");
		goto out;
	}
	obj = users_to_json(&u);
	text = obj ? json_print(obj) : NULL;
	cJSON_Delete(obj);
	if (!text) {
		request_fail(req, CHAT_ENOMEM, "building the answer");
		goto out;
	}
	me_cache_put(&ud->me, u.id, text, strlen(text), mono_ms(),
		     generation);
	http_res_send(req->res, 200, "application/json", text, strlen(text));
out:
	users_release(&u);
	log_set_request_id(NULL);
}

/* Loop thread: a fresh cached answer at once, else the store on a
 * worker. */
void profile_handle_get(struct http_req *req, struct http_res *res)
{
	struct userd *ud = userd_of(req);
	char *json = NULL;
	size_t len = 0;

	if (me_cache_get(&ud->me, req->user_id, mono_ms(), &json, &len) == 0) {
		http_res_send(res, 200, "application/json", json, len);
		return;
	}
	if (pool_submit(ud->d.pool, profile_get_from_store, req) != 0)
		http_res_error(res, 503, "busy", "server is busy, retry later");
}

/*
 * Checks one field of the body.  Returns 1 with *value (NULL to clear)
 * when present, 0 when absent, -1 after answering 400.
 */
static int profile_read_field(struct http_req *req, const cJSON *body,
			      const struct profile_field *f,
			      const char **value)
{
	const cJSON *parent = body, *item;
	char name[64];

	snprintf(name, sizeof(name), "%s%s%s", f->parent ? f->parent : "",
		 f->parent ? "." : "", f->key);
	if (f->parent)
		parent = cJSON_GetObjectItemCaseSensitive(body, f->parent);
	item = cJSON_GetObjectItemCaseSensitive(parent, f->key);
	if (!item)
		return 0;
	if (cJSON_IsNull(item)) {
		*value = NULL;
		return 1;
	}
	if (!cJSON_IsString(item) || !item->valuestring) {
		http_res_error(req->res, 400, "invalid_field",
			       "'%s' must be a string or null", name);
		return -1;
	}
	if (strlen(item->valuestring) > f->max) {
		http_res_error(req->res, 400, "invalid_field",
			       "'%s' must be at most %zu bytes", name, f->max);
		return -1;
	}
	if (!profile_choice_ok(f->choices, item->valuestring)) {
		http_res_error(req->res, 400, "invalid_field",
			       "'%s' must be one of dark, light, auto", name);
		return -1;
	}
	*value = item->valuestring;
	return 1;
}

/*
 * The "email" of the body: *change true when it differs from the stored
 * address (then *email is the new one, NULL to remove).  Changing or
 * removing an address needs the right current_password.  0, or -1 after
 * answering.  Blocks (argon2id) when a password is checked.
 */
static int profile_email(struct http_req *req, const cJSON *body,
			 const char **email, bool *change)
{
	const char *cur = NULL;
	struct db_conn *c = NULL;
	struct user u = { 0 };
	int rc, got;

	*change = false;
	got = email_read(req, body, true, email);
	if (got <= 0)
		return got;
	if (request_db(req, &c) < 0)
		return -1;
	rc = users_get_by_id(c, req->user_id, &u);
	db_release(c);
	if (rc == CHAT_ENOTFOUND) {
		http_res_error(req->res, 404, "not_found", "no such user");
		goto fail;
	}
	if (rc < 0) {
		request_fail(req, rc, "reading an account");
		goto fail;
	}
	*change = !(u.email && *email && strcmp(u.email, *email) == 0) &&
		  (u.email || *email);
	if (!*change || !u.email)
		goto done;
	/* whoever holds only a token must not move the account's address
	 * (and with it the password reset) elsewhere */
	if (request_string(req, body, "current_password", false, 0, SIZE_MAX,
			   "invalid_field", &cur) < 0)
		goto fail;
	if (!cur) {
		http_res_error(req->res, 400, "current_password_required",
			       "changing or removing the e-mail address needs "
			       "'current_password'");
		goto fail;
	}
	if (password_check_current(req, &u, cur) < 0)
		goto fail;
done:
	users_release(&u);
	return 0;
fail:
	users_release(&u);
	return -1;
}

void profile_handle_patch(struct http_req *req, struct http_res *res)
{
	struct db_param p[PROFILE_NFIELDS + 2];
	struct db_conn *c = NULL;
	struct db_rows *r = NULL;
	struct user u = { 0 };
	struct buf sql;
	cJSON *body = NULL;
	const cJSON *prefs;
	const char *email = NULL;
	bool email_change = false, began = false;
	int64_t retry = 0;
	size_t np = 0;
	int rc;

	buf_init(&sql, PROFILE_SQL_MAX);
	if (request_body(req, &body) < 0)
		goto out;
	prefs = cJSON_GetObjectItemCaseSensitive(body, "preferences");
	if (prefs && !cJSON_IsObject(prefs)) {
		http_res_error(res, 400, "invalid_field",
			       "'preferences' must be an object");
		goto out;
	}
	rc = buf_puts(&sql, "UPDATE users SET ");
	for (size_t i = 0; i < PROFILE_NFIELDS && rc == 0; i++) {
		const char *value = NULL;
		int got = profile_read_field(req, body, &profile_fields[i],
					     &value);
		if (got < 0)
			goto out;
		if (got == 0)
			continue;
		p[np++] = db_p_text(value);
		rc = buf_printf(&sql, "%s = $%zu, ", profile_fields[i].column,
				np);
	}
	if (rc < 0) {
		request_fail(req, rc, "building an update");
		goto out;
	}
	if (profile_email(req, body, &email, &email_change) < 0)
		goto out;
	if (request_db(req, &c) < 0)
		goto out;
	if (email_change) {
		rc = db_begin(c);
		if (rc < 0) {
			request_fail(req, rc, "updating a profile");
			goto out;
		}
		began = true;
	}
	if (np == 0) {
		/* nothing to change: answer the user as stored */
		rc = users_get_by_id(c, req->user_id, &u);
	} else {
		p[np++] = DB_P_INT(now_ms());
		p[np++] = db_p_text(req->user_id);
		rc = buf_printf(&sql,
				"updated_at = $%zu WHERE id = $%zu RETURNING "
				USERS_COLUMNS, np - 1, np);
		if (rc == 0)
			rc = db_query(c, sql.data, p, np, &r);
		/* done (an autocommit statement), even if it failed: the
		 * cached answer may be old now */
		me_cache_forget(&userd_of(req)->me, req->user_id);
		if (rc == 0 && db_rows_count(r) == 0)
			rc = CHAT_ENOTFOUND;
		if (rc == 0)
			rc = users_from_row(r, 0, &u);
	}
	if (rc == 0 && email_change) {
		rc = email_store(userd_of(req), c, req->user_id, email);
		users_release(&u);
		if (rc == 0)
			rc = users_get_by_id(c, req->user_id, &u);
		if (rc == 0)
			rc = db_commit(c);
		if (rc < 0)
			db_rollback(c);
		began = false;
		me_cache_forget(&userd_of(req)->me, req->user_id);
	}
	if (rc == CHAT_ENOTFOUND) {
		http_res_error(res, 404, "not_found", "no such user");
		goto out;
	}
	if (rc < 0) {
		request_fail(req, rc, "updating a profile");
		goto out;
	}
	db_release(c);
	c = NULL;
	/* a mail that did not go is logged; resend asks again */
	if (email_change && email &&
	    email_start_verification(userd_of(req), req->request_id, &u,
				     &retry) == 0)
		log_info("user '%s' set an address to verify", u.id);
	profile_answer(req, &u);
out:
	if (began)
		db_rollback(c);
	db_rows_free(r);
	if (c)
		db_release(c);
	buf_release(&sql);
	cJSON_Delete(body);
	users_release(&u);
}
