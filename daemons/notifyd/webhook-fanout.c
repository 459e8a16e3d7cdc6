/*
 * webhook-fanout.c - an event of the backbone -> one webhook message per
 * endpoint that asked for its type, and a delivery job for each, inside
 * the consumer's batch transaction beside the event's inbox row: a
 * redelivered event is skipped by the inbox, and (endpoint_id,
 * event_key) is unique besides, so an event never makes two messages
 * for one endpoint (exactly-once effect; the delivery itself is at least
 * once, always with the message's one webhook-id).  The consumer's jobs
 * are put for the hand-over in memory after the commit (queue.h); a
 * test's and a redelivery's as usual.
 *
 * Who gets what: an endpoint of scope "user" gets the events whose
 * userid is its owner; one of scope "system" (an admin's) gets every
 * event, system events included.  Disabled endpoints get nothing, and a
 * user erased from notifyd (the erased table) nothing more.
 *
 * The body is the event as the backbone carries it, a CloudEvent:
 * events never hold a secret (docs/events.md), and message text only
 * with events.include_text.
 */
#include "webhook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "daemon.h"
#include "db.h"
#include "err.h"
#include "json.h"
#include "queue.h"
#include "util.h"
#include "uuid.h"
#include "banned.h"

/* two parts, each by an index: the user's own, and the system ones */
static const char sql_endpoints[] =
	"SELECT id, user_id, events FROM webhook_endpoints"
	" WHERE user_id = $1 AND scope = 'user' AND disabled_ms IS NULL"
	" UNION ALL SELECT id, user_id, events FROM webhook_endpoints"
	" WHERE scope = 'system' AND disabled_ms IS NULL";
static const char sql_erased[] = "SELECT 1 FROM erased WHERE user_id = $1";
static const char sql_message_add[] =
	"INSERT INTO webhook_messages (id, endpoint_id, user_id, event_key,"
	" type, body, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)"
	" ON CONFLICT (endpoint_id, event_key) DO NOTHING";

/* "msg_" and the 32 hex digits of a UUIDv7: sorts by time, no '.'. */
static int wh_msg_id(char out[QUEUE_ID_MAX])
{
	char u[UUID_STR_LEN];
	size_t i, o = 4;
	int rc = uuid_v7(u);

	if (rc < 0)
		return rc;
	memcpy(out, "msg_", 4);
	for (i = 0; u[i]; i++)
		if (u[i] != '-')
			out[o++] = u[i];
	out[o] = '\0';
	return 0;
}

/* A job for msg_id to ep_id in c's transaction; mine: put for the
 * hand-over after the commit (queue_put_mine: the consumer's batch).
 * 0, 1 when it waits for the hand-over (no kick needed), or an error. */
static int wh_job_add(struct webhooks *w, struct db_conn *c,
		      const char *msg_id, const char *ep_id, bool mine)
{
	struct queue_job j;
	int rc;

	memset(&j, 0, sizeof(j));
	rc = uuid_v7(j.id);
	if (rc < 0)
		return rc;
	snprintf(j.msg_id, sizeof(j.msg_id), "%s", msg_id);
	snprintf(j.endpoint_id, sizeof(j.endpoint_id), "%s", ep_id);
	j.created_ms = now_ms();
	j.next_ms = j.created_ms;
	if (!mine)
		return queue_put(w->queue, c, &j);
	return queue_put_mine(w->queue, c, &j);
}

int wh_job_put(struct webhooks *w, struct db_conn *c, const char *msg_id,
	       const char *ep_id)
{
	return wh_job_add(w, c, msg_id, ep_id, false);
}

/* wh_message_put, the job put for the hand-over when mine: 2 when it
 * waits for it, 1 when its put needs a kick, 0 (nothing new) or an
 * error. */
static int wh_message_add(struct webhooks *w, struct db_conn *c,
			  const char *ep_id, const char *user_id,
			  const char *event_key, const char *type,
			  const char *body, bool mine, char *msg_id_out)
{
	char id[QUEUE_ID_MAX];
	struct db_param p[7];
	int64_t added = 0;
	int rc = wh_msg_id(id);

	if (rc < 0)
		return rc;
	p[0] = db_p_text(id);
	p[1] = db_p_text(ep_id);
	p[2] = db_p_text(user_id);
	p[3] = db_p_text(event_key);
	p[4] = db_p_text(type);
	p[5] = db_p_text(body);
	p[6] = DB_P_INT(now_ms());
	rc = db_exec(c, sql_message_add, p, 7, &added);
	if (rc < 0 || added == 0)
		return rc;			/* already made: nothing new */
	rc = wh_job_add(w, c, id, ep_id, mine);
	if (rc >= 0 && msg_id_out)
		snprintf(msg_id_out, QUEUE_ID_MAX, "%s", id);
	return rc < 0 ? rc : rc + 1;
}

int wh_message_put(struct webhooks *w, struct db_conn *c,
		   const char *ep_id, const char *user_id,
		   const char *event_key, const char *type,
		   const char *body, char *msg_id_out)
{
	return wh_message_add(w, c, ep_id, user_id, event_key, type, body,
			      false, msg_id_out);
}

int wh_fanout(struct webhooks *w, struct db_conn *c, const cJSON *event,
	      bool *put)
{
	const char *type = json_str(event, "type");
	const char *user = json_str(event, "userid");
	const char *source = json_str(event, "source");
	const char *eid = json_str(event, "id");
	struct db_rows *r = NULL;
	struct db_param p[1];
	char key[512], *body = NULL;
	cJSON *pats = NULL;
	size_t i;
	int rc;

	if (!type || !source || !eid)
		return 0;			/* not ours to judge */
	p[0] = db_p_text(user ? user : "");
	if (user) {
		rc = db_query(c, sql_erased, p, 1, &r);
		if (rc < 0 || db_rows_count(r) > 0)
			goto out;
		db_rows_free(r);
		r = NULL;
	}
	rc = db_query(c, sql_endpoints, p, 1, &r);
	if (rc < 0 || db_rows_count(r) == 0)
		goto out;
	snprintf(key, sizeof(key), "%s %s", source, eid);
	for (i = 0; rc >= 0 && i < db_rows_count(r); i++) {
		cJSON_Delete(pats);
		pats = cJSON_Parse(db_rows_get(r, i, 2));
		if (!wh_event_match(pats, type))
			continue;
		if (!body) {
			body = json_print(event);
			if (!body) {
				rc = CHAT_ENOMEM;
				break;
			}
		}
		rc = wh_message_add(w, c, db_rows_get(r, i, 0), user, key,
				    type, body, true, NULL);
		if (rc == 1)
			*put = true;	/* 2: the hand-over wakes them */
	}
	if (rc > 0)
		rc = 0;
out:
	cJSON_Delete(pats);
	free(body);
	db_rows_free(r);
	return rc;
}
