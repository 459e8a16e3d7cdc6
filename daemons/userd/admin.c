/*
 * admin.c - GET /v1/admin/users (cursor pages, newest first) and
 * PATCH /v1/admin/users/{id} (role, disabled).
 *
 * The cursor (page.h) is the last id of a page: ids are UUIDv7, so id
 * order is creation order and "id < cursor" is the next page.
 * The caller's role is read from the store on every call: a token issued
 * before a demotion or a disable still says admin.  Disabling an account
 * or changing its role revokes its sessions in sessiond at once (its
 * refresh tokens and API keys stop working at once after a disable
 * anyway, because refresh and key verification read the flag).
 */
#include "userd.h"

#include <string.h>

#include "db.h"
#include "err.h"
#include "log.h"
#include "page.h"
#include "banned.h"

#define ADMIN_LIMIT_DEFAULT 50
#define ADMIN_LIMIT_MAX 100

static const char *const admin_roles[] = { "admin", "user", "guest", NULL };

/* A cursor is the last id of a page (page.h): a UUID. */
static bool admin_cursor_ok(struct page *p, void *arg)
{
	(void)arg;
	return p->cursor_len == UUID_STR_LEN - 1 && uuid_valid(p->cursor);
}

/* {"data":[users], "next_cursor"} from up to limit + 1 rows. */
static cJSON *admin_page_json(const struct db_rows *r, long limit)
{
	size_t n = db_rows_count(r);
	cJSON *data = cJSON_CreateArray();
	const char *last = NULL;
	struct user u;

	if (!data)
		return NULL;
	for (size_t i = 0; i < n && i < (size_t)limit; i++) {
		cJSON *item;
		if (users_from_row(r, i, &u) < 0)
			goto fail;
		item = users_to_json(&u);
		users_release(&u);
		if (!item)
			goto fail;
		cJSON_AddItemToArray(data, item);
	}
	if (n > (size_t)limit) {
		/* more rows: the cursor is the last id of this page */
		last = db_rows_get(r, (size_t)limit - 1, 0);
		if (!last)
			goto fail;
	}
	return page_json(data, last, last ? strlen(last) : 0);
fail:
	cJSON_Delete(data);
	return NULL;
}

/*
 * The caller's role as the store has it now, not as the token says: a
 * token outlives a demotion or a disable by up to its lifetime.  0 when
 * the caller is an enabled admin; otherwise answers 403 (or the store's
 * failure) and returns -1.
 */
static int admin_caller_current(struct http_req *req, struct db_conn *c)
{
	struct user me = { 0 };
	int rc = req->user_id ? users_get_by_id(c, req->user_id, &me) :
				CHAT_ENOTFOUND;
	bool ok = rc == 0 && !me.disabled && strcmp(me.role, "admin") == 0;

	users_release(&me);
	if (rc < 0 && rc != CHAT_ENOTFOUND) {
		request_fail(req, rc, "reading the caller");
		return -1;
	}
	if (!ok) {
		http_res_error(req->res, 403, "forbidden",
			       "the caller is no longer an enabled admin");
		return -1;
	}
	return 0;
}

void admin_handle_list(struct http_req *req, struct http_res *res)
{
	struct db_conn *c = NULL;
	struct db_rows *r = NULL;
	struct page pg;
	char err[128];
	cJSON *obj;
	int rc;

	if (page_parse(req, ADMIN_LIMIT_DEFAULT, ADMIN_LIMIT_MAX,
		       admin_cursor_ok, NULL, &pg, err, sizeof(err)) < 0) {
		http_res_error(res, 400, "invalid_field", "%s", err);
		return;
	}
	if (request_db(req, &c) < 0)
		return;
	if (admin_caller_current(req, c) < 0) {
		db_release(c);
		return;
	}
	if (pg.has_cursor)
		rc = db_query(c,
			      "SELECT " USERS_COLUMNS " FROM users WHERE id < $1"
			      " ORDER BY id DESC LIMIT $2",
			      (struct db_param[]){ db_p_text(pg.cursor),
						   DB_P_INT(pg.limit + 1) },
			      2, &r);
	else
		rc = db_query(c,
			      "SELECT " USERS_COLUMNS " FROM users"
			      " ORDER BY id DESC LIMIT $1",
			      (struct db_param[]){ DB_P_INT(pg.limit + 1) }, 1,
			      &r);
	db_release(c);
	if (rc < 0) {
		request_fail(req, rc, "listing users");
		goto out;
	}
	obj = admin_page_json(r, pg.limit);
	if (!obj) {
		request_fail(req, CHAT_ENOMEM, "building the list");
		goto out;
	}
	http_res_json(res, 200, obj);
out:
	db_rows_free(r);
}

static bool admin_role_valid(const char *s)
{
	for (const char *const *p = admin_roles; *p; p++) {
		if (strcmp(*p, s) == 0)
			return true;
	}
	return false;
}

/* Reads {role?, disabled?}; answers 400 and returns -1 when malformed. */
static int admin_read_patch(struct http_req *req, const cJSON *body,
			    const char **role, int *disabled)
{
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(body, "disabled");

	*role = NULL;
	*disabled = -1;
	if (request_string(req, body, "role", false, 0, 16, "invalid_field",
			   role) < 0)
		return -1;
	if (*role && !admin_role_valid(*role)) {
		http_res_error(req->res, 400, "invalid_field",
			       "'role' must be one of admin, user, guest");
		return -1;
	}
	if (d && !cJSON_IsBool(d)) {
		http_res_error(req->res, 400, "invalid_field",
			       "'disabled' must be a boolean");
		return -1;
	}
	if (d)
		*disabled = cJSON_IsTrue(d) ? 1 : 0;
	return 0;
}

void admin_handle_patch(struct http_req *req, struct http_res *res)
{
	struct userd *ud = userd_of(req);
	const char *id = http_req_param(req, "id");
	const char *role = NULL;
	struct db_conn *c = NULL;
	struct user u = { 0 }, before = { 0 };
	cJSON *body = NULL, *obj;
	bool was_disabled = false;
	int disabled = -1, rc;

	if (request_body(req, &body) < 0 ||
	    admin_read_patch(req, body, &role, &disabled) < 0)
		goto out;
	if (!id || !uuid_valid(id)) {
		http_res_error(res, 404, "not_found", "no such user");
		goto out;
	}
	if (request_db(req, &c) < 0)
		goto out;
	if (admin_caller_current(req, c) < 0) {
		db_release(c);
		goto out;
	}
	rc = users_get_by_id(c, id, &before);
	if (rc == 0)
		rc = users_admin_update(ud, c, id, role, disabled,
					&was_disabled, &u);
	db_release(c);
	if (rc == CHAT_ENOTFOUND) {
		http_res_error(res, 404, "not_found", "no such user");
		goto out;
	}
	if (rc == CHAT_ECONFLICT) {
		http_res_error(res, 409, "last_admin",
			       "the change would leave no enabled admin");
		goto out;
	}
	if (rc < 0) {
		request_fail(req, rc, "updating a user");
		goto out;
	}
	log_info("admin '%s' set user '%s' to role %s%s", req->user_id, u.id,
		 u.role, u.disabled ? ", disabled" : "");
	/* a disabled account, or a role that changed, starts over: its
	 * sessions (and so its refresh tokens) end now */
	if (((u.disabled && !was_disabled) || strcmp(u.role, before.role)) &&
	    sessions_revoke_user(ud, req->request_id, u.id) < 0) {
		/* refresh checks the flag, so this only delays the cleanup */
		log_warn("cannot revoke the sessions of user '%s'", u.id);
	}
	obj = users_to_json(&u);
	if (!obj) {
		request_fail(req, CHAT_ENOMEM, "building the answer");
		goto out;
	}
	http_res_json(res, 200, obj);
out:
	cJSON_Delete(body);
	users_release(&u);
	users_release(&before);
}
