/*
 * users.c - the users table: reading rows into struct user, the public
 * JSON of a user, registration (first account admin) and the admin's
 * role/disable changes with the last-admin rule.
 *
 * Who is admin may only change under users_lock_roles, inside a
 * transaction, so that two racing registrations cannot both become the
 * first admin and two admins cannot demote each other into none.
 */
#include "userd.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "err.h"
#include "json.h"
#include "util.h"
#include "banned.h"

/* The advisory lock key for role changes on PostgreSQL (any constant). */
#define USERS_ROLE_LOCK_KEY 7215001

static const char sql_by_id[] =
	"SELECT " USERS_COLUMNS " FROM users WHERE id = $1";
static const char sql_by_key[] =
	"SELECT " USERS_COLUMNS " FROM users WHERE username_key = $1";

void users_release(struct user *u)
{
	free(u->display_name);
	free(u->default_model);
	free(u->system_prompt);
	free(u->theme);
	free(u->email);
	memset(u, 0, sizeof(*u));
}

/* Copies a nullable column into *dst (NULL stays NULL). */
static int users_dup_column(const struct db_rows *r, size_t row, size_t col,
			    char **dst)
{
	const char *v = db_rows_get(r, row, col);

	*dst = NULL;
	if (!v)
		return 0;
	*dst = strdup(v);
	return *dst ? 0 : CHAT_ENOMEM;
}

/* Copies a column into a fixed buffer; CHAT_EDB when it does not fit. */
static int users_copy_column(const struct db_rows *r, size_t row, size_t col,
			     char *dst, size_t dstlen)
{
	const char *v = db_rows_get(r, row, col);
	size_t len = v ? strlen(v) : 0;

	if (!v || len >= dstlen)
		return CHAT_EDB;
	memcpy(dst, v, len + 1);
	return 0;
}

int users_from_row(const struct db_rows *r, size_t row, struct user *out)
{
	int rc = 0;

	memset(out, 0, sizeof(*out));
	rc = users_copy_column(r, row, 0, out->id, sizeof(out->id));
	if (rc < 0)
		goto out;
	rc = users_copy_column(r, row, 1, out->username, sizeof(out->username));
	if (rc < 0)
		goto out;
	rc = users_copy_column(r, row, 2, out->password_hash,
			       sizeof(out->password_hash));
	if (rc < 0)
		goto out;
	rc = users_copy_column(r, row, 3, out->role, sizeof(out->role));
	if (rc < 0)
		goto out;
	out->disabled = db_rows_int(r, row, 4, 0) != 0;
	rc = users_dup_column(r, row, 5, &out->display_name);
	if (rc < 0)
		goto out;
	rc = users_dup_column(r, row, 6, &out->default_model);
	if (rc < 0)
		goto out;
	rc = users_dup_column(r, row, 7, &out->system_prompt);
	if (rc < 0)
		goto out;
	rc = users_dup_column(r, row, 8, &out->theme);
	if (rc < 0)
		goto out;
	out->created_at = db_rows_int(r, row, 9, 0);
	out->updated_at = db_rows_int(r, row, 10, 0);
	rc = users_dup_column(r, row, 11, &out->email);
	if (rc < 0)
		goto out;
	out->email_verified = db_rows_int(r, row, 12, 0) != 0;
out:
	if (rc < 0)
		users_release(out);
	return rc;
}

/* Adds key: s, or null when s is NULL. */
static cJSON *users_add_nullable(cJSON *obj, const char *key, const char *s)
{
	return s ? cJSON_AddStringToObject(obj, key, s)
		 : cJSON_AddNullToObject(obj, key);
}

cJSON *users_to_json(const struct user *u)
{
	cJSON *obj = cJSON_CreateObject();
	cJSON *prefs = NULL;

	if (!obj)
		return NULL;
	if (!cJSON_AddStringToObject(obj, "id", u->id) ||
	    !cJSON_AddStringToObject(obj, "username", u->username) ||
	    !cJSON_AddStringToObject(obj, "role", u->role) ||
	    !cJSON_AddBoolToObject(obj, "disabled", u->disabled) ||
	    !users_add_nullable(obj, "display_name", u->display_name) ||
	    !users_add_nullable(obj, "email", u->email) ||
	    !cJSON_AddBoolToObject(obj, "email_verified", u->email_verified))
		goto fail;
	prefs = cJSON_AddObjectToObject(obj, "preferences");
	if (!prefs ||
	    !users_add_nullable(prefs, "default_model", u->default_model) ||
	    !users_add_nullable(prefs, "system_prompt", u->system_prompt) ||
	    !users_add_nullable(prefs, "theme", u->theme))
		goto fail;
	if (!json_add_time(obj, "created_at", u->created_at) ||
	    !json_add_time(obj, "updated_at", u->updated_at))
		goto fail;
	return obj;
fail:
	cJSON_Delete(obj);
	return NULL;
}

bool users_username_valid(const char *s)
{
	size_t len = strlen(s);

	if (len < USERD_USERNAME_MIN || len > USERD_USERNAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (!isascii(ch) ||
		    !(isalnum(ch) || ch == '.' || ch == '_' || ch == '-'))
			return false;
	}
	return true;
}

void users_username_key(const char *s, char out[USERD_USERNAME_MAX + 1])
{
	size_t i = 0;

	for (; s[i] && i < USERD_USERNAME_MAX; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[i] = '\0';
}

/* Runs a query expected to give at most one user. */
static int users_get_one(struct db_conn *c, const char *sql,
			 const char *arg, struct user *out)
{
	struct db_param p[] = { db_p_text(arg) };
	struct db_rows *r = NULL;
	int rc = db_query(c, sql, p, 1, &r);

	if (rc < 0)
		goto out;
	if (db_rows_count(r) == 0) {
		rc = CHAT_ENOTFOUND;
		goto out;
	}
	rc = users_from_row(r, 0, out);
out:
	db_rows_free(r);
	return rc;
}

int users_get_by_id(struct db_conn *c, const char *id, struct user *out)
{
	return users_get_one(c, sql_by_id, id, out);
}

int users_get_by_key(struct db_conn *c, const char *username_key,
		     struct user *out)
{
	return users_get_one(c, sql_by_key, username_key, out);
}

int users_lock_roles(struct userd *ud, struct db_conn *c)
{
	struct db_rows *r = NULL;
	int rc;

	/* SQLite: BEGIN IMMEDIATE already holds the one write lock. */
	if (!ud->pg)
		return 0;
	rc = db_query(c, "SELECT pg_advisory_xact_lock($1)",
		      (struct db_param[]){ DB_P_INT(USERS_ROLE_LOCK_KEY) }, 1,
		      &r);
	db_rows_free(r);
	return rc;
}

/* Number of rows a COUNT(*) query gives, or a negative error. */
static int users_count(struct db_conn *c, const char *sql,
		       const struct db_param *p, size_t np, int64_t *out)
{
	struct db_rows *r = NULL;
	int rc = db_query(c, sql, p, np, &r);

	if (rc == 0)
		*out = db_rows_int(r, 0, 0, 0);
	db_rows_free(r);
	return rc;
}

int users_register(struct userd *ud, struct db_conn *c, const char *username,
		   const char *password_hash, bool open, struct user *out)
{
	char key[USERD_USERNAME_MAX + 1];
	char id[UUID_STR_LEN], subject[UUID_STR_LEN + 8];
	int64_t n = 0, now = now_ms();
	const char *role;
	int rc = 0;

	users_username_key(username, key);
	rc = uuid_v7(id);
	if (rc < 0)
		return rc;
	rc = db_begin(c);
	if (rc < 0)
		return rc;
	rc = users_lock_roles(ud, c);
	if (rc < 0)
		goto out;
	rc = users_count(c, "SELECT COUNT(*) FROM users", NULL, 0, &n);
	if (rc < 0)
		goto out;
	if (n > 0 && !open) {
		rc = CHAT_EPERM;
		goto out;
	}
	role = n == 0 ? "admin" : "user";
	rc = db_exec(c,
		     "INSERT INTO users (id, username, username_key,"
		     " password_hash, role, disabled, created_at, updated_at)"
		     " VALUES ($1, $2, $3, $4, $5, 0, $6, $6)",
		     (struct db_param[]){ db_p_text(id), db_p_text(username),
					  db_p_text(key),
					  db_p_text(password_hash),
					  db_p_text(role), DB_P_INT(now) },
		     6, NULL);
	if (rc < 0)
		goto out;
	snprintf(subject, sizeof(subject), "users/%s", id);
	rc = user_event(ud, c, "chat.user.registered", id, subject,
			(const char *const[]){ "username", username,
					       "role", role, NULL });
	if (rc < 0)
		goto out;
	rc = users_get_by_id(c, id, out);
	if (rc < 0)
		goto out;
	rc = db_commit(c);
	if (rc < 0)
		users_release(out);
out:
	if (rc < 0)
		db_rollback(c);
	return rc;
}

/* True when u counts as an admin who can act. */
static bool users_enabled_admin(const char *role, bool disabled)
{
	return !disabled && strcmp(role, "admin") == 0;
}

/* The events of an admin's change of cur to new_role / new_disabled. */
static int users_admin_events(struct userd *ud, struct db_conn *c,
			      const struct user *cur, const char *new_role,
			      bool new_disabled, const char *actor)
{
	char subject[UUID_STR_LEN + 8];
	int rc = 0;

	snprintf(subject, sizeof(subject), "users/%s", cur->id);
	if (strcmp(new_role, cur->role) != 0)
		rc = user_event(ud, c, "chat.user.role_changed", cur->id,
				subject,
				(const char *const[]){
					"username", cur->username,
					"from", cur->role, "to", new_role,
					"by", actor, NULL });
	if (rc == 0 && new_disabled != cur->disabled)
		rc = user_event(ud, c, new_disabled ? "chat.user.disabled"
						    : "chat.user.enabled",
				cur->id, subject,
				(const char *const[]){
					"username", cur->username,
					"by", actor, NULL });
	return rc;
}

int users_admin_update(struct userd *ud, struct db_conn *c, const char *id,
		       const char *role, int disabled, const char *actor,
		       bool *was_disabled, struct user *out)
{
	struct user cur = { 0 };
	const char *new_role;
	bool new_disabled;
	int64_t others = 0;
	int rc = 0;

	rc = db_begin(c);
	if (rc < 0)
		return rc;
	rc = users_lock_roles(ud, c);
	if (rc < 0)
		goto out;
	rc = users_get_by_id(c, id, &cur);
	if (rc < 0)
		goto out;
	*was_disabled = cur.disabled;
	new_role = role ? role : cur.role;
	new_disabled = disabled < 0 ? cur.disabled : disabled != 0;
	if (users_enabled_admin(cur.role, cur.disabled) &&
	    !users_enabled_admin(new_role, new_disabled)) {
		rc = users_count(c,
				 "SELECT COUNT(*) FROM users WHERE role = 'admin'"
				 " AND disabled = 0 AND id <> $1",
				 (struct db_param[]){ db_p_text(id) }, 1,
				 &others);
		if (rc < 0)
			goto out;
		if (others == 0) {
			rc = CHAT_ECONFLICT;
			goto out;
		}
	}
	if (strcmp(new_role, cur.role) != 0 || new_disabled != cur.disabled) {
		rc = db_exec(c,
			     "UPDATE users SET role = $1, disabled = $2,"
			     " updated_at = $3 WHERE id = $4",
			     (struct db_param[]){ db_p_text(new_role),
						  DB_P_INT(new_disabled),
						  DB_P_INT(now_ms()),
						  db_p_text(id) },
			     4, NULL);
		if (rc < 0)
			goto out;
		rc = users_admin_events(ud, c, &cur, new_role, new_disabled,
					actor);
		if (rc < 0)
			goto out;
	}
	rc = users_get_by_id(c, id, out);
	if (rc < 0)
		goto out;
	rc = db_commit(c);
	if (rc < 0)
		users_release(out);
out:
	if (rc < 0)
		db_rollback(c);
	/* after the commit (or the rollback): GET /v1/users/me must not
	 * answer the old role or state from its cache */
	me_cache_forget(&ud->me, id);
	users_release(&cur);
	return rc;
}
