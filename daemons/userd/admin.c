/*
 * admin.c - GET /v1/admin/users (cursor pages, newest first, filtered by
 * ?role=, ?disabled=, ?search=) and PATCH /v1/admin/users/{id} (role,
 * disabled), and the helpers of every admin route of userd (the caller's
 * current role, a user named by id or username).  The other admin
 * routes: admin-users.c (show, create, password), admin-erase.c (delete),
 * admin-keys.c (API keys).
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

#include <stdio.h>
#include <string.h>

#include "db.h"
#include "err.h"
#include "log.h"
#include "page.h"
#include "banned.h"

#define ADMIN_LIMIT_DEFAULT 50
#define ADMIN_LIMIT_MAX 100
#define ADMIN_SEARCH_MAX 64		/* bytes of ?search= */
#define ADMIN_SQL_MAX 512

/* The list's filters: each adds "AND <clause>" with its value as the
 * next parameter, in this order. */
enum admin_filter { ADMIN_F_ROLE, ADMIN_F_DISABLED, ADMIN_F_SEARCH,
		    ADMIN_F_CURSOR, ADMIN_F_COUNT };
static const char *const admin_filter_sql[ADMIN_F_COUNT][2] = {
	[ADMIN_F_ROLE] = { "role = ", "" },
	[ADMIN_F_DISABLED] = { "disabled = ", "" },
	[ADMIN_F_SEARCH] = { "username_key LIKE ", " ESCAPE '!'" },
	[ADMIN_F_CURSOR] = { "id < ", "" },
};

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
int admin_caller_current(struct http_req *req, struct db_conn *c)
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

bool admin_role_valid(const char *s)
{
	for (const char *const *p = admin_roles; *p; p++) {
		if (strcmp(*p, s) == 0)
			return true;
	}
	return false;
}

int admin_user_find(struct db_conn *c, const char *ref, struct user *out)
{
	char key[USERD_USERNAME_MAX + 1];
	char id[UUID_STR_LEN];
	int rc;

	if (!ref)
		return CHAT_ENOTFOUND;
	if (uuid_norm(ref, id)) {
		rc = users_get_by_id(c, id, out);
		/* a username may look like an id: an id goes first */
		if (rc != CHAT_ENOTFOUND)
			return rc;
	}
	if (!users_username_valid(ref))
		return CHAT_ENOTFOUND;
	users_username_key(ref, key);
	return users_get_by_key(c, key, out);
}

/* The filters' values: vals[f] is NULL when f is not asked for. */
struct admin_filters {
	const char *vals[ADMIN_F_COUNT];
	char disabled[2];		/* "0" or "1" */
	char role[16];
	char like[2 * ADMIN_SEARCH_MAX + 3];	/* %escaped% */
};

/* Reads ?role=, ?disabled=, ?search= into f; answers 400 and returns -1
 * when one is malformed. */
static int admin_read_filters(struct http_req *req, struct admin_filters *f)
{
	char q[ADMIN_SEARCH_MAX + 2] = "";
	size_t i, n = 0;
	int rc;

	rc = http_req_query(req, "role", f->role, sizeof(f->role));
	if (rc == 0 && !admin_role_valid(f->role))
		rc = CHAT_EINVAL;
	if (rc < 0 && rc != CHAT_ENOTFOUND) {
		http_res_error(req->res, 400, "invalid_field",
			       "'role' must be one of admin, user, guest");
		return -1;
	}
	f->vals[ADMIN_F_ROLE] = rc == 0 ? f->role : NULL;
	rc = http_req_query(req, "disabled", q, sizeof(q));
	if (rc == 0 && strcmp(q, "true") && strcmp(q, "false"))
		rc = CHAT_EINVAL;
	if (rc < 0 && rc != CHAT_ENOTFOUND) {
		http_res_error(req->res, 400, "invalid_field",
			       "'disabled' must be true or false");
		return -1;
	}
	snprintf(f->disabled, sizeof(f->disabled), "%d", q[0] == 't');
	f->vals[ADMIN_F_DISABLED] = rc == 0 ? f->disabled : NULL;
	rc = http_req_query(req, "search", q, sizeof(q));
	if (rc == 0 && (q[0] == '\0' || strlen(q) > ADMIN_SEARCH_MAX))
		rc = CHAT_EINVAL;
	if (rc < 0 && rc != CHAT_ENOTFOUND) {
		http_res_error(req->res, 400, "invalid_field",
			       "'search' must be 1 to %d bytes",
			       ADMIN_SEARCH_MAX);
		return -1;
	}
	if (rc == 0) {
		/* the stored key is lowercase; LIKE's own characters are
		 * escaped with '!' */
		f->like[n++] = '%';
		for (i = 0; q[i]; i++) {
			char ch = q[i];

			if (ch == '%' || ch == '_' || ch == '!')
				f->like[n++] = '!';
			f->like[n++] = ch >= 'A' && ch <= 'Z' ?
					       (char)(ch - 'A' + 'a') : ch;
		}
		f->like[n++] = '%';
		f->like[n] = '\0';
	}
	f->vals[ADMIN_F_SEARCH] = rc == 0 ? f->like : NULL;
	return 0;
}

void admin_handle_list(struct http_req *req, struct http_res *res)
{
	struct admin_filters f = { 0 };
	struct db_param p[ADMIN_F_COUNT + 1];
	struct db_conn *c = NULL;
	struct db_rows *r = NULL;
	char sql[ADMIN_SQL_MAX], err[128];
	struct page pg;
	size_t len, np = 0;
	cJSON *obj;
	int rc;

	if (page_parse(req, ADMIN_LIMIT_DEFAULT, ADMIN_LIMIT_MAX,
		       admin_cursor_ok, NULL, &pg, err, sizeof(err)) < 0) {
		http_res_error(res, 400, "invalid_field", "%s", err);
		return;
	}
	if (admin_read_filters(req, &f) < 0)
		return;
	f.vals[ADMIN_F_CURSOR] = pg.has_cursor ? pg.cursor : NULL;
	len = (size_t)snprintf(sql, sizeof(sql), "SELECT " USERS_COLUMNS
			       " FROM users WHERE 1 = 1");
	for (int i = 0; i < ADMIN_F_COUNT; i++) {
		if (!f.vals[i])
			continue;
		if (i == ADMIN_F_DISABLED)
			p[np] = DB_P_INT(f.vals[i][0] == '1');
		else
			p[np] = db_p_text(f.vals[i]);
		np++;
		if (len < sizeof(sql))
			len += (size_t)snprintf(sql + len, sizeof(sql) - len,
						" AND %s$%d%s",
						admin_filter_sql[i][0], (int)np,
						admin_filter_sql[i][1]);
	}
	p[np++] = DB_P_INT(pg.limit + 1);
	if (len < sizeof(sql))
		len += (size_t)snprintf(sql + len, sizeof(sql) - len,
				" ORDER BY id DESC LIMIT $%d", (int)np);
	if (len >= sizeof(sql)) {
		request_fail(req, CHAT_ETOOBIG, "building the query");
		return;
	}
	if (request_db(req, &c) < 0)
		return;
	if (admin_caller_current(req, c) < 0) {
		db_release(c);
		return;
	}
	rc = db_query(c, sql, p, np, &r);
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
	if (request_db(req, &c) < 0)
		goto out;
	if (admin_caller_current(req, c) < 0) {
		db_release(c);
		goto out;
	}
	/* {id} is an id or a username */
	rc = admin_user_find(c, id, &before);
	if (rc == 0)
		rc = users_admin_update(ud, c, before.id, role, disabled,
					req->user_id, &was_disabled, &u);
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
	    sessions_revoke_user(ud, req->request_id, u.id,
				 u.disabled && !was_disabled ?
				 "user_disabled" : "role_changed") < 0) {
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
