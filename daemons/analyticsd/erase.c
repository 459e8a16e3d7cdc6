/*
 * erase.c - a user's erasure in analyticsd (chat.user.deleted): the
 * user's rollup rows are merged into the anonymous user '' (the
 * platform's totals keep what happened, without who), their active days
 * go, and every event of theirs the inbox kept is rewritten without the
 * user: no user id, no subject, only the data keys the rollups read
 * (model, tokens, times, outcome), never a name, an address or an id.
 * The user id goes into the erased table, so that events of theirs that
 * other producers deliver later come in anonymous too.
 *
 * A rebuild replays the rewritten events: they land on user '' as the
 * merged rows did, so the totals come out the same.
 */
#include "analyticsd.h"

#include <stdio.h>
#include <string.h>

#include "err.h"
#include "json.h"
#include "log.h"
#include "util.h"
#include "banned.h"

#define ERASE_PAGE 500		/* the LIMIT of erase_inbox's query */

/* The envelope attributes an anonymous event keeps. */
static const char *const erase_keep_attrs[] = {
	"specversion", "id", "source", "type", "time", "datacontenttype",
};

/* The data keys it keeps: what rollup.c reads, nothing that names. */
static const char *const erase_keep_data[] = {
	"model", "provider", "purpose", "status", "role", "prompt_tokens",
	"completion_tokens", "ttft_ms", "latency_ms", "error", "error_class",
	"finish_reason",
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

int erase_strip(const cJSON *event, cJSON **out)
{
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(event, "data");
	cJSON *ev = cJSON_CreateObject(), *d = NULL, *item;
	size_t i;

	*out = NULL;
	if (!ev)
		return CHAT_ENOMEM;
	for (i = 0; i < NELEM(erase_keep_attrs); i++) {
		item = cJSON_GetObjectItemCaseSensitive(event,
							erase_keep_attrs[i]);
		if (item && !cJSON_AddItemToObject(ev, erase_keep_attrs[i],
				cJSON_Duplicate(item, 1)))
			goto fail;
	}
	d = cJSON_AddObjectToObject(ev, "data");
	if (!d)
		goto fail;
	for (i = 0; cJSON_IsObject(data) && i < NELEM(erase_keep_data); i++) {
		item = cJSON_GetObjectItemCaseSensitive(data,
							erase_keep_data[i]);
		if (item && !cJSON_AddItemToObject(d, erase_keep_data[i],
				cJSON_Duplicate(item, 1)))
			goto fail;
	}
	*out = ev;
	return 0;
fail:
	cJSON_Delete(ev);
	return CHAT_ENOMEM;
}

int erase_is_erased(struct db_conn *c, const char *user_id, bool *yes)
{
	struct db_param p = db_p_text(user_id);
	struct db_rows *r = NULL;
	int rc;

	*yes = false;
	rc = db_query(c, "SELECT 1 FROM erased WHERE user_id = $1", &p, 1,
		      &r);
	if (rc == 0)
		*yes = db_rows_count(r) > 0;
	db_rows_free(r);
	return rc;
}

int erase_rewrite(struct db_conn *c, const cJSON *stripped)
{
	struct db_param p[3];
	char *text = json_print(stripped);
	int rc;

	if (!text)
		return CHAT_ENOMEM;
	p[0] = db_p_text(json_str(stripped, "source"));
	p[1] = db_p_text(json_str(stripped, "id"));
	p[2] = db_p_text(text);
	rc = db_exec(c, "UPDATE inbox SET user_id = NULL, event = $3"
		     " WHERE source = $1 AND id = $2", p, 3, NULL);
	cJSON_free(text);
	return rc;
}

/* Every kept event of the user, rewritten without them; by pages, each
 * rewrite taking its row out of the next page's query. */
static int erase_inbox(struct db_conn *c, const char *user_id)
{
	struct db_param p = db_p_text(user_id);
	struct db_rows *r = NULL;
	cJSON *ev, *stripped;
	size_t i, n;
	int rc;

	do {
		rc = db_query(c, "SELECT source, id, event FROM inbox"
			      " WHERE user_id = $1 LIMIT 500", &p, 1, &r);
		if (rc < 0)
			break;
		n = db_rows_count(r);
		for (i = 0; rc == 0 && i < n; i++) {
			const char *text = db_rows_get(r, i, 2);
			struct db_param q[2] = {
				db_p_text(db_rows_get(r, i, 0)),
				db_p_text(db_rows_get(r, i, 1)),
			};

			ev = text ? cJSON_Parse(text) : NULL;
			stripped = NULL;
			if (ev && erase_strip(ev, &stripped) == 0 &&
			    json_str(stripped, "source") &&
			    json_str(stripped, "id"))
				rc = erase_rewrite(c, stripped);
			else	/* nothing to keep of it */
				rc = db_exec(c, "UPDATE inbox SET user_id ="
					     " NULL, event = NULL WHERE"
					     " source = $1 AND id = $2", q, 2,
					     NULL);
			cJSON_Delete(stripped);
			cJSON_Delete(ev);
		}
		db_rows_free(r);
		r = NULL;
	} while (rc == 0 && n == ERASE_PAGE);
	return rc;
}

int erase_user(struct db_conn *c, const char *user_id)
{
	/* each rollup table: the user's rows added to user '', then gone */
	static const char *const merge[] = {
		"INSERT INTO usage_daily (day, user_id, model, requests,"
		" completed, stopped, failed, prompt_tokens,"
		" completion_tokens, cost_pusd, unpriced, conversations,"
		" messages) SELECT day, '', model, requests, completed,"
		" stopped, failed, prompt_tokens, completion_tokens,"
		" cost_pusd, unpriced, conversations, messages"
		" FROM usage_daily WHERE user_id = $1"
		" ON CONFLICT (day, user_id, model) DO UPDATE SET "
		ROLLUP_USAGE_SUMS,
		"INSERT INTO usage_errors (day, user_id, model, error_class,"
		" count) SELECT day, '', model, error_class, count"
		" FROM usage_errors WHERE user_id = $1"
		" ON CONFLICT (day, user_id, model, error_class)"
		" DO UPDATE SET count = usage_errors.count + excluded.count",
		"INSERT INTO usage_hist (day, user_id, model, metric, bucket,"
		" count) SELECT day, '', model, metric, bucket, count"
		" FROM usage_hist WHERE user_id = $1"
		" ON CONFLICT (day, user_id, model, metric, bucket)"
		" DO UPDATE SET count = usage_hist.count + excluded.count",
		/* per day: the model's and the day's rows do not name
		 * anybody and stay as they are */
		"INSERT INTO usage_user_daily (day, user_id, "
		ROLLUP_SUM_NAMES ") SELECT day, '', " ROLLUP_SUM_NAMES
		" FROM usage_user_daily WHERE user_id = $1"
		" ON CONFLICT (day, user_id) DO UPDATE SET "
		ROLLUP_SUMS("usage_user_daily"),
		"DELETE FROM usage_daily WHERE user_id = $1",
		"DELETE FROM usage_user_daily WHERE user_id = $1",
		"DELETE FROM usage_errors WHERE user_id = $1",
		"DELETE FROM usage_hist WHERE user_id = $1",
		"DELETE FROM active WHERE user_id = $1",
	};
	struct db_param p[2] = { db_p_text(user_id), DB_P_INT(now_ms()) };
	size_t i;
	int rc = 0;

	for (i = 0; rc == 0 && i < NELEM(merge); i++)
		rc = db_exec(c, merge[i], p, 1, NULL);
	if (rc == 0)
		rc = erase_inbox(c, user_id);
	if (rc == 0)
		rc = db_exec(c, "INSERT INTO erased (user_id, erased_at)"
			     " VALUES ($1, $2) ON CONFLICT DO NOTHING", p, 2,
			     NULL);
	if (rc == 0)
		log_info("erased user '%s' from the analytics", user_id);
	return rc;
}
