/*
 * prefs.c - notification categories, channels and each user's
 * preferences: GET and PUT /v1/notifications/preferences.
 *
 * A preference row holds the channels (a bit set of enum
 * notify_channel) a user chose for one category; without a row the
 * category's defaults apply, so a user who never chose costs no row.
 * Security notifications cannot lose their in-app nor their email
 * channel (NOTIFY_LOCKED): a PUT that tries is refused whole (400), so
 * an alert about a stolen session always reaches the account, and its
 * inbox when it has a verified address.
 */
#include "notifyd.h"

#include <stdio.h>
#include <string.h>

#include "err.h"
#include "json.h"
#include "log.h"
#include "util.h"
#include "uuid.h"
#include "banned.h"

/* The channels and their names in the API. */
static const struct {
	const char *name;
	unsigned bit;
} channels[] = {
	{ "in_app", NOTIFY_IN_APP },
	{ "email", NOTIFY_EMAIL },
	{ "webhook", NOTIFY_WEBHOOK },
};
#define NCHANNELS (sizeof(channels) / sizeof(channels[0]))
#define CHANNELS_ALL (NOTIFY_IN_APP | NOTIFY_EMAIL | NOTIFY_WEBHOOK)

static const char sql_prefs_user[] =
	"SELECT category, channels FROM preferences WHERE user_id = $1";
static const char sql_prefs_one[] =
	"SELECT channels FROM preferences WHERE user_id = $1"
	" AND category = $2";
static const char sql_prefs_upsert[] =
	"INSERT INTO preferences (user_id, category, channels)"
	" VALUES ($1, $2, $3) ON CONFLICT (user_id, category)"
	" DO UPDATE SET channels = excluded.channels";

int prefs_channels(struct db_conn *c, const char *user_id,
		   const struct notify_category *cat, unsigned *out)
{
	struct db_rows *r = NULL;
	struct db_param p[2] = { db_p_text(user_id), db_p_text(cat->name) };
	int rc;

	*out = cat->defaults;
	rc = db_query(c, sql_prefs_one, p, 2, &r);
	if (rc == 0 && db_rows_count(r) > 0)
		*out = (unsigned)db_rows_int(r, 0, 0, cat->defaults) &
		       CHANNELS_ALL;
	if (cat->locked)
		*out |= NOTIFY_LOCKED;
	db_rows_free(r);
	return rc;
}

int prefs_store(struct db_conn *c, const char *user_id,
		const struct notify_category *cat, unsigned mask)
{
	struct db_param p[3];

	if (cat->locked)
		mask |= NOTIFY_LOCKED;
	p[0] = db_p_text(user_id);
	p[1] = db_p_text(cat->name);
	p[2] = DB_P_INT(mask & CHANNELS_ALL);
	return db_exec(c, sql_prefs_upsert, p, 3, NULL);
}

/* Every category's channels of user_id: mask[i] for
 * notify_categories[i]. */
static int prefs_load(struct db_conn *c, const char *user_id,
		      unsigned mask[])
{
	struct db_rows *r = NULL;
	struct db_param p[1] = { db_p_text(user_id) };
	size_t i, j;
	int rc;

	for (i = 0; i < notify_ncategories; i++)
		mask[i] = notify_categories[i].defaults;
	rc = db_query(c, sql_prefs_user, p, 1, &r);
	for (i = 0; rc == 0 && i < db_rows_count(r); i++) {
		const char *name = db_rows_get(r, i, 0);

		for (j = 0; name && j < notify_ncategories; j++)
			if (strcmp(notify_categories[j].name, name) == 0)
				mask[j] = (unsigned)db_rows_int(r, i, 1, 0) &
					  CHANNELS_ALL;
	}
	for (i = 0; i < notify_ncategories; i++)
		if (notify_categories[i].locked)
			mask[i] |= NOTIFY_LOCKED;
	db_rows_free(r);
	return rc;
}

/* {"preferences":{"security":{"in_app":true,...},...}} */
static cJSON *prefs_json(const unsigned mask[])
{
	cJSON *out = cJSON_CreateObject(), *all, *one;
	size_t i, j;

	all = out ? cJSON_AddObjectToObject(out, "preferences") : NULL;
	if (!all)
		goto fail;
	for (i = 0; i < notify_ncategories; i++) {
		one = cJSON_AddObjectToObject(all, notify_categories[i].name);
		if (!one)
			goto fail;
		for (j = 0; j < NCHANNELS; j++)
			if (!cJSON_AddBoolToObject(one, channels[j].name,
						   (mask[i] & channels[j].bit)
						   != 0))
				goto fail;
		if (!cJSON_AddBoolToObject(one, "locked",
					   notify_categories[i].locked))
			goto fail;
	}
	return out;
fail:
	cJSON_Delete(out);
	return NULL;
}

/* The caller's user id, normalised; answers 401 when there is none. */
static bool prefs_user(struct http_req *req, char out[UUID_STR_LEN])
{
	if (uuid_norm(req->user_id, out))
		return true;
	http_res_error(req->res, 401, "unauthorized",
		       "this route needs a signed-in user");
	return false;
}

void prefs_get_handler(struct http_req *req, struct http_res *res)
{
	struct db_conn *c = NULL;
	char user_id[UUID_STR_LEN];
	unsigned mask[NOTIFY_CATEGORIES_MAX];
	cJSON *out;
	int rc;

	if (!prefs_user(req, user_id) || daemon_db(req, &c) < 0)
		return;
	rc = prefs_load(c, user_id, mask);
	db_release(c);
	if (rc < 0) {
		http_res_chat_error(res, rc, "cannot read the preferences");
		return;
	}
	out = prefs_json(mask);
	if (!out) {
		http_res_chat_error(res, CHAT_ENOMEM, "out of memory");
		return;
	}
	http_res_json(res, 200, out);
}

/* Applies one category's object of a PUT to *mask; CHAT_EINVAL with
 * the reason in err. */
static int prefs_apply(const struct notify_category *cat, const cJSON *v,
		       unsigned *mask, char *err, size_t errlen)
{
	const cJSON *ch;
	size_t j;

	if (!cJSON_IsObject(v)) {
		chat_errf(err, errlen, "'%s' must be an object of channels",
			  cat->name);
		return CHAT_EINVAL;
	}
	cJSON_ArrayForEach(ch, v) {
		for (j = 0; j < NCHANNELS; j++)
			if (strcmp(ch->string, channels[j].name) == 0)
				break;
		if (j == NCHANNELS) {
			chat_errf(err, errlen, "'%s.%s' is not a channel "
				  "(in_app, email, webhook)", cat->name,
				  ch->string);
			return CHAT_EINVAL;
		}
		if (!cJSON_IsBool(ch)) {
			chat_errf(err, errlen, "'%s.%s' must be true or "
				  "false", cat->name, ch->string);
			return CHAT_EINVAL;
		}
		if (cJSON_IsTrue(ch))
			*mask |= channels[j].bit;
		else
			*mask &= ~channels[j].bit;
	}
	if (cat->locked && (*mask & NOTIFY_LOCKED) != NOTIFY_LOCKED) {
		chat_errf(err, errlen, "'%s' notifications cannot be "
			  "switched off in the app or by email", cat->name);
		return CHAT_EINVAL;
	}
	return 0;
}

/* PUT {"account":{"email":false}, ...}: the categories and channels
 * named change, the others stay; answers the whole new set. */
void prefs_put_handler(struct http_req *req, struct http_res *res)
{
	struct db_conn *c = NULL;
	char user_id[UUID_STR_LEN], err[160];
	unsigned mask[NOTIFY_CATEGORIES_MAX], old[NOTIFY_CATEGORIES_MAX];
	const struct notify_category *cat;
	cJSON *body = NULL, *v, *out;
	struct db_param p[3];
	size_t i;
	int rc = 0;

	if (!prefs_user(req, user_id) || daemon_body(req, &body) < 0)
		return;
	if (daemon_db(req, &c) < 0)
		goto out;
	rc = db_begin(c);
	if (rc == 0)
		rc = prefs_load(c, user_id, mask);
	if (rc < 0) {
		http_res_chat_error(res, rc, "cannot read the preferences");
		goto out;
	}
	memcpy(old, mask, sizeof(old));
	cJSON_ArrayForEach(v, body) {
		cat = notify_category_find(v->string);
		if (!cat) {
			http_res_error(res, 400, "invalid_field", "'%s' is not "
				       "a category (security, account, "
				       "broadcast, generation)", v->string);
			goto out;
		}
		rc = prefs_apply(cat, v, &mask[cat - notify_categories], err,
				 sizeof(err));
		if (rc < 0) {
			http_res_error(res, 400, "invalid_field", "%s", err);
			goto out;
		}
	}
	for (i = 0; rc == 0 && i < notify_ncategories; i++) {
		if (mask[i] == old[i])
			continue;
		p[0] = db_p_text(user_id);
		p[1] = db_p_text(notify_categories[i].name);
		p[2] = DB_P_INT(mask[i]);
		rc = db_exec(c, sql_prefs_upsert, p, 3, NULL);
	}
	if (rc == 0)
		rc = db_commit(c);
	if (rc < 0) {
		http_res_chat_error(res, rc, "cannot store the preferences");
		goto out;
	}
	out = prefs_json(mask);
	if (!out) {
		http_res_chat_error(res, CHAT_ENOMEM, "out of memory");
		goto out;
	}
	http_res_json(res, 200, out);
out:
	if (c)
		db_release(c);
	cJSON_Delete(body);
}
