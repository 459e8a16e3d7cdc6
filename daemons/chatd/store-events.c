/*
 * store-events.c - chatd's events (issue 13): chat.conversation.*,
 * chat.message.created and chat.message.finished, written into the caller's open transaction
 * beside the rows they tell of (events_emit), so that a crash leaves
 * both or neither.  What goes into data is chosen here, in one place:
 * ids, role, model, flags; never a token, and the user's words (message
 * text, titles, which are often made from them) only with
 * events.include_text = 1.
 */
#include "chatd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "events.h"
#include "banned.h"

/*
 * Most bytes of message text in an event (events.include_text): an event
 * must stay under EVENTS_MAX_BYTES even when every byte of the text is a
 * control character that JSON writes as six ("\u0001"), and a long
 * message must never fail its own store.  Longer text is cut on a
 * character boundary and the event says so ("text_truncated").
 */
#define STORE_EVENTS_TEXT_MAX 8192

/* key: s, or null when s is NULL or "" (a root's parent). */
static bool events_add_str(cJSON *o, const char *key, const char *s)
{
	if (!s || !*s)
		return cJSON_AddNullToObject(o, key) != NULL;
	return cJSON_AddStringToObject(o, key, s) != NULL;
}

/* "text": s, cut to STORE_EVENTS_TEXT_MAX bytes on a UTF-8 character
 * boundary (s is stored text: valid UTF-8), with "text_truncated". */
static int store_events_add_text(cJSON *data, const char *s)
{
	size_t len = strlen(s);
	char *cut;
	bool ok;

	if (len <= STORE_EVENTS_TEXT_MAX)
		return cJSON_AddStringToObject(data, "text", s) ? 0 :
								  CHAT_ENOMEM;
	len = STORE_EVENTS_TEXT_MAX;
	while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
		len--;			/* s[len] continues a character */
	cut = strndup(s, len);
	if (!cut)
		return CHAT_ENOMEM;
	ok = cJSON_AddStringToObject(data, "text", cut) &&
	     cJSON_AddTrueToObject(data, "text_truncated");
	free(cut);
	return ok ? 0 : CHAT_ENOMEM;
}

int store_events_conv(struct db_conn *c, const struct daemon *d,
		      const char *type, const struct chat_conv *conv)
{
	char subject[UUID_STR_LEN + 16];
	cJSON *data = cJSON_CreateObject();
	int rc = CHAT_ENOMEM;

	if (!data || !events_add_str(data, "conversation_id", conv->id) ||
	    !events_add_str(data, "model", conv->model) ||
	    !cJSON_AddBoolToObject(data, "archived", conv->archived))
		goto out;
	if (events_include_text(d) &&
	    !events_add_str(data, "title", conv->title))
		goto out;
	snprintf(subject, sizeof(subject), "conversations/%s", conv->id);
	rc = events_emit(c, d, type, conv->user_id, subject, data);
out:
	cJSON_Delete(data);
	return rc;
}

int store_events_conv_deleted(struct db_conn *c, const struct daemon *d,
			      const char *user_id, const char *conv_id)
{
	char subject[UUID_STR_LEN + 16];
	cJSON *data = cJSON_CreateObject();
	int rc = CHAT_ENOMEM;

	if (!data || !events_add_str(data, "conversation_id", conv_id))
		goto out;
	snprintf(subject, sizeof(subject), "conversations/%s", conv_id);
	rc = events_emit(c, d, "chat.conversation.deleted", user_id, subject,
			 data);
out:
	cJSON_Delete(data);
	return rc;
}

int store_events_msg(struct db_conn *c, const struct daemon *d,
		     const struct chat_msg *m)
{
	char subject[2 * UUID_STR_LEN + 32];
	cJSON *data = cJSON_CreateObject();
	int rc = CHAT_ENOMEM;

	if (!data || !events_add_str(data, "message_id", m->id) ||
	    !events_add_str(data, "conversation_id", m->conversation_id) ||
	    !events_add_str(data, "parent_id", m->parent_id) ||
	    !events_add_str(data, "role", m->role) ||
	    !events_add_str(data, "model", m->model) ||
	    !events_add_str(data, "status", m->status))
		goto out;
	/* an answer is stored empty when it begins: its text is the
	 * message's, read through the API, never a later event's */
	if (events_include_text(d)) {
		rc = store_events_add_text(data, m->content ? m->content : "");
		if (rc < 0)
			goto out;
		rc = CHAT_ENOMEM;
	}
	snprintf(subject, sizeof(subject), "conversations/%s/messages/%s",
		 m->conversation_id, m->id);
	rc = events_emit(c, d, "chat.message.created", m->user_id, subject,
			 data);
out:
	cJSON_Delete(data);
	return rc;
}

int store_events_finished(struct db_conn *c, const struct daemon *d,
			  const struct chat_msg *m, size_t clients_connected)
{
	char subject[2 * UUID_STR_LEN + 32];
	cJSON *data = cJSON_CreateObject();
	struct chat_conv conv = { .title = NULL };
	int rc = CHAT_ENOMEM;

	if (!data || !events_add_str(data, "message_id", m->id) ||
	    !events_add_str(data, "conversation_id", m->conversation_id) ||
	    !events_add_str(data, "model", m->model) ||
	    !events_add_str(data, "status", m->status) ||
	    !cJSON_AddNumberToObject(data, "latency_ms",
				     (double)m->latency_ms) ||
	    !cJSON_AddNumberToObject(data, "clients_connected",
				     (double)clients_connected))
		goto out;
	/* the title as it is now (a rename during the answer counts); a
	 * first answer's comes after it: null */
	if (events_include_text(d)) {
		rc = store_conv_get(c, m->user_id, m->conversation_id, &conv);
		if (rc < 0)
			goto out;
		rc = CHAT_ENOMEM;
		if (!events_add_str(data, "title", conv.title))
			goto out;
	}
	snprintf(subject, sizeof(subject), "conversations/%s/messages/%s",
		 m->conversation_id, m->id);
	rc = events_emit(c, d, "chat.message.finished", m->user_id, subject,
			 data);
out:
	chat_conv_release(&conv);
	cJSON_Delete(data);
	return rc;
}
