/*
 * erase.c - POST /internal/users/{id}/erase (internal, userd's call when
 * an admin deletes an account): every row chatd holds of the user -
 * conversations, messages, idempotency records - goes, in one
 * transaction.
 *
 * userd disables the account and revokes its sessions before it calls
 * here, so no new request of the user arrives; a generation still
 * running is stopped first, as DELETE /v1/conversations/{id} does, so
 * that its last write lands before the rows go (a write after it would
 * find no row to update).  Answers 204 also when there was nothing to
 * erase: retrying an erasure is how a half-done one is finished.
 */
#include "chatd.h"

#include <stdio.h>
#include <string.h>

#include "err.h"
#include "events.h"
#include "log.h"
#include "uuid.h"
#include "banned.h"

/* One page of the user's conversations to stop; the rest in later pages. */
#define ERASE_PAGE 500

static const char erase_sql_convs[] =
	"SELECT id FROM conversations WHERE user_id = $1 AND id > $2"
	" ORDER BY id LIMIT $3";

/* Children before parents; every table that has a user_id column. */
static const char *const erase_sql_delete[] = {
	"DELETE FROM idempotency WHERE user_id = $1",
	"DELETE FROM messages WHERE user_id = $1",
	"DELETE FROM conversations WHERE user_id = $1",
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Stops the generations of every conversation of user; 0 or the store's
 * error (*answered when the failure was answered already).  No
 * connection is held while a generation stops (its last write may need
 * one). */
static int erase_stop_all(struct http_req *req, struct chatd *cd,
			  const char *user, bool *answered)
{
	char after[UUID_STR_LEN] = "";
	struct db_rows *r = NULL;
	struct db_conn *c = NULL;
	size_t i, n;
	int rc;

	do {
		if (daemon_db(req, &c) < 0) {
			*answered = true;
			return CHAT_EBUSY;
		}
		rc = db_query(c, erase_sql_convs,
			      (struct db_param[]){ db_p_text(user),
						   db_p_text(after),
						   DB_P_INT(ERASE_PAGE) },
			      3, &r);
		db_release(c);
		c = NULL;
		if (rc < 0)
			return rc;
		n = db_rows_count(r);
		for (i = 0; i < n; i++) {
			const char *id = db_rows_get(r, i, 0);

			if (id)
				live_stop(cd, id);
		}
		if (n > 0 && db_rows_get(r, n - 1, 0))
			snprintf(after, sizeof(after), "%s",
				 db_rows_get(r, n - 1, 0));
		db_rows_free(r);
		r = NULL;
	} while (n == ERASE_PAGE);
	return 0;
}

void erase_user_handler(struct http_req *req, struct http_res *res)
{
	struct chatd *cd = req->app;
	struct db_conn *c = NULL;
	char user[UUID_STR_LEN];
	int64_t n = 0, convs = 0;
	bool answered = false;
	size_t i;
	int rc;

	if (!uuid_norm(http_req_param(req, "id"), user)) {
		http_res_error(res, 404, "not_found", "no such user");
		return;
	}
	rc = erase_stop_all(req, cd, user, &answered);
	if (answered)
		return;
	if (rc == 0 && daemon_db(req, &c) < 0)
		return;
	if (rc == 0)
		rc = db_begin(c);
	for (i = 0; rc == 0 && i < NELEM(erase_sql_delete); i++) {
		rc = db_exec(c, erase_sql_delete[i],
			     (struct db_param[]){ db_p_text(user) }, 1, &n);
		if (i == NELEM(erase_sql_delete) - 1)
			convs = n;
	}
	/* and chatd's events of the user (events.h) */
	if (rc == 0)
		rc = events_erase_user(c, &cd->d, user);
	if (rc == 0)
		rc = db_commit(c);
	else if (c)
		db_rollback(c);
	if (c)
		db_release(c);
	if (rc < 0) {
		log_error("cannot erase user '%s': %s", user,
			  chat_strerror(rc));
		http_res_chat_error(res, rc, "cannot erase the user's "
				    "conversations");
		return;
	}
	log_info("user '%s' erased: %lld conversations", user,
		 (long long)convs);
	http_res_json(res, 204, NULL);
}
