/*
 * state.c - what chatui knows of the server: the conversation list and
 * the open conversation's branch, changed only by the reducers here from
 * REST answers and /v1/ws event frames (pure: no terminal, no network),
 * so the UI just repaints what the returned flags name.
 *
 * Branches: the open branch is root first.  A `message` event of a
 * message not shown is a new user turn: appended after its parent (the
 * tail after the parent is dropped when it is an edit, a new branch).  A
 * `message` event of a shown message that is not the last is a
 * regenerate: what follows it goes, the new answer takes its place.
 * Deltas append to their message (created after the last message when
 * unseen); done/error replace it whole, which also repairs any text
 * counted twice across a reload.
 *
 * Long branches: a conversation opens with its newest messages only
 * (msgs_before names the parent of the oldest one loaded) and pages of
 * older ones are put in front as the user scrolls up (state_prepend).
 * A page is identified by its newest message, and the path from a
 * message to the root never changes, so a page ending at msgs_before
 * always fits, whatever was reloaded meanwhile; any other is dropped.
 */
#include "chatui.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "util.h"
#include "banned.h"

#define STATE_LIST_MAX 100000
#define STATE_MSGS_MAX 100000	/* messages of one branch held: 10x the
				 * longest the issue names; Home stops there */

static const char *st_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void st_copy(char *dst, size_t len, const char *s)
{
	snprintf(dst, len, "%s", s ? s : "");
}

static int st_dup(char **dst, const char *s)
{
	char *d = NULL;

	if (s) {
		d = strdup(s);
		if (!d)
			return CHAT_ENOMEM;
	}
	free(*dst);
	*dst = d;
	return 0;
}

void state_hash(const char *s, size_t len, char out[17])
{
	uint64_t h = 1469598103934665603ull;	/* FNV-1a */
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	snprintf(out, 17, "%016llx", (unsigned long long)h);
}

void ui_conv_release(struct conv *c)
{
	free(c->title);
	free(c->model);
	free(c->system_prompt);
	memset(c, 0, sizeof(*c));
}

void ui_msg_release(struct msg *m)
{
	size_t i;

	buf_release(&m->content);
	free(m->model);
	free(m->error);
	for (i = 0; i < m->nsiblings; i++)
		free(m->siblings[i]);
	free(m->siblings);
	md_doc_release(&m->doc);
	memset(m, 0, sizeof(*m));
}

void state_init(struct state *st)
{
	memset(st, 0, sizeof(*st));
}

void state_close(struct state *st)
{
	size_t i;

	for (i = 0; i < st->nmsgs; i++)
		ui_msg_release(&st->msgs[i]);
	st->nmsgs = 0;
	st->msgs_before[0] = '\0';
	ui_conv_release(&st->cur);
	st->open = false;
	st->streaming_id[0] = '\0';
}

void state_release(struct state *st)
{
	size_t i;

	state_close(st);
	free(st->msgs);
	for (i = 0; i < st->nconvs; i++)
		ui_conv_release(&st->convs[i]);
	free(st->convs);
	memset(st, 0, sizeof(*st));
}

/* ---- conversations ---- */

static int ui_conv_from_json(struct conv *c, const cJSON *j)
{
	const cJSON *arch = cJSON_GetObjectItemCaseSensitive(j, "archived");
	int rc;

	if (!st_str(j, "id"))
		return CHAT_EPARSE;
	st_copy(c->id, sizeof(c->id), st_str(j, "id"));
	rc = st_dup(&c->title, st_str(j, "title"));
	if (rc == 0)
		rc = st_dup(&c->model, st_str(j, "model"));
	if (rc == 0)
		rc = st_dup(&c->system_prompt, st_str(j, "system_prompt"));
	c->archived = cJSON_IsTrue(arch);
	st_copy(c->current_leaf_id, sizeof(c->current_leaf_id),
		st_str(j, "current_leaf_id"));
	st_copy(c->updated_at, sizeof(c->updated_at),
		st_str(j, "updated_at"));
	return rc;
}

long state_find_conv(const struct state *st, const char *id)
{
	size_t i;

	for (i = 0; i < st->nconvs; i++)
		if (strcmp(st->convs[i].id, id) == 0)
			return (long)i;
	return -1;
}

static int st_grow_convs(struct state *st)
{
	struct conv *n;
	size_t cap;

	if (st->nconvs < st->capconvs)
		return 0;
	if (st->nconvs >= STATE_LIST_MAX)
		return CHAT_ETOOBIG;
	cap = st->capconvs ? st->capconvs * 2 : 32;
	n = realloc(st->convs, cap * sizeof(*n));
	if (!n)
		return CHAT_ENOMEM;
	st->convs = n;
	st->capconvs = cap;
	return 0;
}

int state_set_list(struct state *st, const cJSON *list)
{
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(list, "data");
	const cJSON *it;
	size_t i;
	int rc = 0;

	if (!cJSON_IsArray(data))
		return CHAT_EPARSE;
	for (i = 0; i < st->nconvs; i++)
		ui_conv_release(&st->convs[i]);
	st->nconvs = 0;
	cJSON_ArrayForEach(it, data) {
		rc = st_grow_convs(st);
		if (rc < 0)
			break;
		memset(&st->convs[st->nconvs], 0, sizeof(struct conv));
		if (ui_conv_from_json(&st->convs[st->nconvs], it) == 0)
			st->nconvs++;
		else
			ui_conv_release(&st->convs[st->nconvs]);
	}
	return rc;
}

/* Moves list entry i to the front (it was just updated). */
static void st_to_front(struct state *st, size_t i)
{
	struct conv c = st->convs[i];

	memmove(st->convs + 1, st->convs, i * sizeof(*st->convs));
	st->convs[0] = c;
}

int state_apply_conv(struct state *st, const cJSON *j)
{
	struct conv c = { 0 };
	long i;
	int flags = 0, rc;

	rc = ui_conv_from_json(&c, j);
	if (rc < 0) {
		ui_conv_release(&c);
		return rc;
	}
	i = state_find_conv(st, c.id);
	if (i >= 0) {
		bool newer = strcmp(c.updated_at, st->convs[i].updated_at) > 0;

		ui_conv_release(&st->convs[i]);
		st->convs[i] = c;
		if (newer)
			st_to_front(st, (size_t)i);
		flags |= ST_LIST;
	} else if (!c.archived) {
		rc = st_grow_convs(st);
		if (rc < 0) {
			ui_conv_release(&c);
			return rc;
		}
		st->convs[st->nconvs++] = c;
		st_to_front(st, st->nconvs - 1);
		flags |= ST_LIST;
	} else {
		ui_conv_release(&c);
	}
	if (st->open && strcmp(st->cur.id, st_str(j, "id")) == 0) {
		char leaf[CHATUI_ID_MAX];
		long m;

		st_copy(leaf, sizeof(leaf), st->cur.current_leaf_id);
		ui_conv_release(&st->cur);
		rc = ui_conv_from_json(&st->cur, j);
		if (rc < 0)
			return rc;
		flags |= ST_CONV;
		/* another device moved the branch: show the new one */
		if (strcmp(leaf, st->cur.current_leaf_id) != 0 &&
		    st->cur.current_leaf_id[0]) {
			m = state_find_msg(st, st->cur.current_leaf_id);
			if ((m >= 0 && (size_t)m + 1 != st->nmsgs) ||
			    (m < 0 && !st->streaming_id[0]))
				flags |= ST_REFETCH;
		}
	}
	return flags;
}

/* ---- messages ---- */

long state_find_msg(const struct state *st, const char *id)
{
	size_t i = st->nmsgs;

	while (i-- > 0)		/* the newest are looked up most */
		if (strcmp(st->msgs[i].id, id) == 0)
			return (long)i;
	return -1;
}

long state_last_role(const struct state *st, enum ui_msg_role role)
{
	size_t i = st->nmsgs;

	while (i-- > 0)
		if (st->msgs[i].role == role)
			return (long)i;
	return -1;
}

static int st_siblings(struct msg *m, const cJSON *arr)
{
	const cJSON *it;
	size_t n = 0, i;

	for (i = 0; i < m->nsiblings; i++)
		free(m->siblings[i]);
	free(m->siblings);
	m->siblings = NULL;
	m->nsiblings = 0;
	n = (size_t)cJSON_GetArraySize(arr);
	if (!cJSON_IsArray(arr) || n == 0)
		return 0;
	m->siblings = calloc(n, sizeof(char *));
	if (!m->siblings)
		return CHAT_ENOMEM;
	cJSON_ArrayForEach(it, arr) {
		if (!cJSON_IsString(it))
			continue;
		m->siblings[m->nsiblings] = strdup(it->valuestring);
		if (!m->siblings[m->nsiblings])
			return CHAT_ENOMEM;
		m->nsiblings++;
	}
	return 0;
}

/* Fills m from a Message object (content replaced, layout dropped). */
static int ui_msg_from_json(struct msg *m, const cJSON *j)
{
	const cJSON *content = cJSON_GetObjectItemCaseSensitive(j, "content");
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(j, "error");
	const cJSON *usage = cJSON_GetObjectItemCaseSensitive(j, "usage");
	const cJSON *sib = cJSON_GetObjectItemCaseSensitive(j, "sibling_ids");
	const cJSON *v;
	const char *role = st_str(j, "role");

	if (!st_str(j, "id") || !role)
		return CHAT_EPARSE;
	if (!m->content.max)
		buf_init(&m->content, 8u * 1024 * 1024);
	st_copy(m->id, sizeof(m->id), st_str(j, "id"));
	st_copy(m->parent_id, sizeof(m->parent_id), st_str(j, "parent_id"));
	m->role = strcmp(role, "user") == 0 ? ROLE_USER : ROLE_ASSISTANT;
	st_copy(m->status, sizeof(m->status), st_str(j, "status"));
	if (st_dup(&m->model, st_str(j, "model")) < 0 ||
	    st_dup(&m->error, st_str(err, "message")) < 0)
		return CHAT_ENOMEM;
	m->completion_tokens = m->latency_ms = -1;
	v = cJSON_GetObjectItemCaseSensitive(usage, "completion_tokens");
	if (cJSON_IsNumber(v))
		m->completion_tokens = (long)v->valuedouble;
	v = cJSON_GetObjectItemCaseSensitive(usage, "latency_ms");
	if (cJSON_IsNumber(v))
		m->latency_ms = (long)v->valuedouble;
	buf_reset(&m->content);
	if (cJSON_IsString(content) &&
	    buf_puts(&m->content, content->valuestring) < 0)
		return CHAT_ETOOBIG;
	md_doc_release(&m->doc);
	m->doc_width = 0;
	if (cJSON_IsArray(sib))
		return st_siblings(m, sib);
	return 0;
}

/* Room for `more` messages after the nmsgs there are. */
static int st_reserve_msgs(struct state *st, size_t more)
{
	struct msg *n;
	size_t cap;

	if (more > STATE_MSGS_MAX || st->nmsgs > STATE_MSGS_MAX - more)
		return CHAT_ETOOBIG;
	if (st->nmsgs + more <= st->capmsgs)
		return 0;
	cap = st->capmsgs ? st->capmsgs : 64;
	while (cap < st->nmsgs + more)
		cap *= 2;
	n = realloc(st->msgs, cap * sizeof(*n));
	if (!n)
		return CHAT_ENOMEM;
	st->msgs = n;
	st->capmsgs = cap;
	return 0;
}

static int st_grow_msgs(struct state *st)
{
	return st_reserve_msgs(st, 1);
}

bool state_partial(const struct state *st)
{
	return st->open && st->msgs_before[0] != '\0';
}

int state_open(struct state *st, const cJSON *j)
{
	const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(j, "messages");
	const cJSON *it;
	int rc;

	if (!cJSON_IsArray(msgs) || !st_str(j, "id"))
		return CHAT_EPARSE;
	state_close(st);
	rc = ui_conv_from_json(&st->cur, j);
	if (rc < 0)
		return rc;
	st->open = true;
	/* only an answer to ?messages=N has it; null: the root is here */
	st_copy(st->msgs_before, sizeof(st->msgs_before),
		st_str(j, "messages_before"));
	cJSON_ArrayForEach(it, msgs) {
		rc = st_grow_msgs(st);
		if (rc < 0)
			return rc;
		memset(&st->msgs[st->nmsgs], 0, sizeof(struct msg));
		rc = ui_msg_from_json(&st->msgs[st->nmsgs], it);
		if (rc < 0) {
			ui_msg_release(&st->msgs[st->nmsgs]);
			return rc;
		}
		if (strcmp(st->msgs[st->nmsgs].status, "streaming") == 0)
			st_copy(st->streaming_id, sizeof(st->streaming_id),
				st->msgs[st->nmsgs].id);
		st->nmsgs++;
	}
	return 0;
}

int state_prepend(struct state *st, const char *conv_id, const cJSON *page)
{
	const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(page, "messages");
	const cJSON *before = cJSON_GetObjectItemCaseSensitive(
		page, "messages_before");
	const cJSON *it;
	const char *prev;
	struct msg *n = NULL;
	size_t count, k = 0;
	int rc = 0;

	if (!cJSON_IsArray(msgs) ||
	    (!cJSON_IsString(before) && !cJSON_IsNull(before)))
		return CHAT_EPARSE;
	if (!state_partial(st) || strcmp(st->cur.id, conv_id) != 0)
		return 0;
	count = (size_t)cJSON_GetArraySize(msgs);
	if (count == 0)
		return CHAT_EPARSE;	/* a page before a message is never empty */
	/* root first, each the parent of the next, the last msgs_before */
	prev = cJSON_IsString(before) ? before->valuestring : NULL;
	cJSON_ArrayForEach(it, msgs) {
		const char *parent = st_str(it, "parent_id");

		if ((prev == NULL) != (parent == NULL) ||
		    (prev && strcmp(prev, parent) != 0) || !st_str(it, "id"))
			return CHAT_EPARSE;
		prev = st_str(it, "id");
	}
	if (strcmp(prev, st->msgs_before) != 0)
		return 0;	/* asked before a reload or a branch move */
	rc = st_reserve_msgs(st, count);
	if (rc < 0)
		return rc;
	n = calloc(count, sizeof(*n));
	if (!n)
		return CHAT_ENOMEM;
	cJSON_ArrayForEach(it, msgs) {
		rc = ui_msg_from_json(&n[k], it);
		k++;
		if (rc < 0)
			goto out;
	}
	memmove(st->msgs + count, st->msgs, st->nmsgs * sizeof(*st->msgs));
	memcpy(st->msgs, n, count * sizeof(*n));
	st->nmsgs += count;
	k = 0;		/* the messages are the state's now */
	st_copy(st->msgs_before, sizeof(st->msgs_before),
		cJSON_IsString(before) ? before->valuestring : NULL);
	st->prepended = count;
	rc = ST_MSGS | ST_OLDER;
out:
	while (k-- > 0)
		ui_msg_release(&n[k]);
	free(n);
	return rc;
}

/* Drops the messages from index from on. */
static void st_truncate(struct state *st, size_t from)
{
	while (st->nmsgs > from)
		ui_msg_release(&st->msgs[--st->nmsgs]);
}

/* Appends a message; its siblings are those of the message it replaces
 * (old, may be NULL) plus itself. */
static int st_append(struct state *st, const cJSON *j, struct msg *old)
{
	struct msg *m;
	size_t i;
	int rc;

	rc = st_grow_msgs(st);
	if (rc < 0)
		return rc;
	m = &st->msgs[st->nmsgs];
	memset(m, 0, sizeof(*m));
	rc = ui_msg_from_json(m, j);
	if (rc == 0 && !m->nsiblings) {
		size_t n = (old ? old->nsiblings : 0) + 1;

		m->siblings = calloc(n, sizeof(char *));
		if (!m->siblings)
			rc = CHAT_ENOMEM;
		for (i = 0; rc == 0 && old && i < old->nsiblings; i++) {
			m->siblings[m->nsiblings] = strdup(old->siblings[i]);
			if (!m->siblings[m->nsiblings])
				rc = CHAT_ENOMEM;
			else
				m->nsiblings++;
		}
		if (rc == 0) {
			m->siblings[m->nsiblings] = strdup(m->id);
			if (!m->siblings[m->nsiblings])
				rc = CHAT_ENOMEM;
			else
				m->nsiblings++;
		}
	}
	if (rc < 0) {
		ui_msg_release(m);
		return rc;
	}
	st->nmsgs++;
	return 0;
}

/* A message to put after its parent: an edit or a new turn.  The
 * message it replaces at that place (a sibling) lends its siblings. */
static int st_place(struct state *st, const cJSON *j)
{
	const char *parent = st_str(j, "parent_id");
	struct msg old = { 0 };
	size_t at;
	long p;
	int rc;

	if (parent && st->msgs_before[0] &&
	    strcmp(parent, st->msgs_before) == 0) {
		at = 0;		/* after the newest message not loaded */
	} else if (parent) {
		p = state_find_msg(st, parent);
		if (p < 0)
			return ST_REFETCH;
		at = (size_t)p + 1;
	} else {
		at = 0;
		st->msgs_before[0] = '\0';	/* a new root */
	}
	if (at < st->nmsgs) {
		old = st->msgs[at];
		memset(&st->msgs[at], 0, sizeof(struct msg));
		buf_init(&st->msgs[at].content, 1);
		st_truncate(st, at);
	}
	rc = st_append(st, j, old.id[0] ? &old : NULL);
	ui_msg_release(&old);
	return rc < 0 ? rc : ST_MSGS;
}

static int st_on_message(struct state *st, const cJSON *data)
{
	const char *id = st_str(data, "id");
	long i;
	int flags;

	if (!id)
		return CHAT_EPARSE;
	i = state_find_msg(st, id);
	if (i >= 0 && (size_t)i + 1 < st->nmsgs &&
	    st->msgs[i].role == ROLE_USER) {
		/* a regenerate: its answer is replaced by the coming one;
		 * keep the old answer's siblings for the new one */
		struct msg *next = &st->msgs[i + 1];

		st_copy(st->streaming_id, sizeof(st->streaming_id), "");
		/* keep `next` as a shadow: drop the others after it */
		st_truncate(st, (size_t)i + 2);
		next->id[0] = '\0';	/* a placeholder until the delta */
		buf_reset(&next->content);
		md_doc_release(&next->doc);
		next->doc_width = 0;
		st_copy(next->status, sizeof(next->status), "streaming");
		free(next->error);
		next->error = NULL;
		return ST_MSGS;
	}
	if (i >= 0)
		return 0;	/* seen already */
	flags = st_place(st, data);
	if (flags > 0 && strcmp(st_str(data, "role") ?
				st_str(data, "role") : "", "user") == 0) {
		const char *c = st_str(data, "content");

		if (c) {
			state_hash(c, strlen(c), st->ack_content_hash);
			flags |= ST_ACK;
		}
	}
	return flags;
}

/* The assistant message a delta or done is about: found, or the
 * regenerate placeholder, or appended after the last message. */
static long st_answer(struct state *st, const char *id, const cJSON *msg)
{
	struct msg *last;
	long i = state_find_msg(st, id);
	size_t k;

	if (i >= 0)
		return i;
	last = st->nmsgs ? &st->msgs[st->nmsgs - 1] : NULL;
	if (last && !last->id[0]) {
		/* the placeholder of a regenerate takes the new id */
		st_copy(last->id, sizeof(last->id), id);
		if (last->nsiblings < 64) {
			char **n = realloc(last->siblings,
					   (last->nsiblings + 1) *
					   sizeof(char *));

			if (n) {
				last->siblings = n;
				n[last->nsiblings] = strdup(id);
				if (n[last->nsiblings])
					last->nsiblings++;
			}
		}
		return (long)st->nmsgs - 1;
	}
	if (msg) {
		if (st_place(st, msg) < 0)
			return -1;
		return state_find_msg(st, id);
	}
	if (st_grow_msgs(st) < 0)
		return -1;
	k = st->nmsgs;
	memset(&st->msgs[k], 0, sizeof(struct msg));
	buf_init(&st->msgs[k].content, 8u * 1024 * 1024);
	st_copy(st->msgs[k].id, sizeof(st->msgs[k].id), id);
	if (last)
		st_copy(st->msgs[k].parent_id, sizeof(st->msgs[k].parent_id),
			last->id);
	st->msgs[k].role = ROLE_ASSISTANT;
	st_copy(st->msgs[k].status, sizeof(st->msgs[k].status), "streaming");
	st->msgs[k].completion_tokens = st->msgs[k].latency_ms = -1;
	st->msgs[k].siblings = calloc(1, sizeof(char *));
	if (st->msgs[k].siblings) {
		st->msgs[k].siblings[0] = strdup(id);
		st->msgs[k].nsiblings = st->msgs[k].siblings[0] ? 1 : 0;
	}
	st->nmsgs++;
	return (long)k;
}

static int st_on_delta(struct state *st, const cJSON *data)
{
	const char *id = st_str(data, "message_id");
	const char *text = st_str(data, "text");
	size_t before = st->nmsgs;
	long i;

	if (!id || !text)
		return CHAT_EPARSE;
	i = st_answer(st, id, NULL);
	if (i < 0)
		return CHAT_ENOMEM;
	if (strcmp(st->streaming_id, id) != 0) {
		st_copy(st->streaming_id, sizeof(st->streaming_id), id);
		st->stream_start_ms = mono_ms();
		st->stream_bytes = 0;
	}
	st->stream_bytes += strlen(text);
	if (buf_puts(&st->msgs[i].content, text) < 0)
		return CHAT_ETOOBIG;
	st->msgs[i].doc_width = 0;	/* only this one is laid out again */
	st->changed = (size_t)i;
	return ST_MSG | (st->nmsgs != before ? ST_MSGS : 0);
}

static int st_on_done(struct state *st, const cJSON *msg)
{
	const char *id = st_str(msg, "id");
	struct msg *m;
	char **sib;
	size_t nsib;
	long i;
	int rc;

	if (!id)
		return CHAT_EPARSE;
	i = st_answer(st, id, msg);
	if (i < 0)
		return ST_REFETCH;
	m = &st->msgs[i];
	/* the event has no sibling_ids: keep the ones we know */
	sib = m->siblings;
	nsib = m->nsiblings;
	m->siblings = NULL;
	m->nsiblings = 0;
	rc = ui_msg_from_json(m, msg);
	if (!m->nsiblings) {
		m->siblings = sib;
		m->nsiblings = nsib;
	} else {
		while (nsib-- > 0)
			free(sib[nsib]);
		free(sib);
	}
	if (rc < 0)
		return rc;
	if (strcmp(st->streaming_id, id) == 0)
		st->streaming_id[0] = '\0';
	st->changed = (size_t)i;
	return ST_MSG | ST_STREAM_END;
}

/* Moves a conversation of the list to the front on activity. */
static int st_bump(struct state *st, const char *conv_id)
{
	long i = state_find_conv(st, conv_id);

	if (i < 0)
		return ST_RELIST;
	if (i > 0)
		st_to_front(st, (size_t)i);
	return i > 0 ? ST_LIST : 0;
}

int state_apply_frame(struct state *st, const cJSON *frame)
{
	const char *type = st_str(frame, "type");
	const char *cid = st_str(frame, "conversation_id");
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(frame, "data");
	bool here;
	int flags = 0, rc;

	if (!type)
		return CHAT_EPARSE;
	if (strcmp(type, "reset") == 0)
		return ST_REFETCH | ST_RELIST;
	if (strcmp(type, "conversation") == 0)
		return state_apply_conv(st, data);
	if (strcmp(type, "conversation_deleted") == 0) {
		const char *id = st_str(data, "id");
		long i;

		if (!id)
			return CHAT_EPARSE;
		i = state_find_conv(st, id);
		if (i >= 0) {
			ui_conv_release(&st->convs[i]);
			memmove(st->convs + i, st->convs + i + 1,
				(st->nconvs - (size_t)i - 1) *
				sizeof(*st->convs));
			st->nconvs--;
			flags |= ST_LIST;
		}
		if (st->open && strcmp(st->cur.id, id) == 0) {
			state_close(st);
			flags |= ST_CLOSED;
		}
		return flags;
	}
	if (!cid || !cJSON_IsObject(data))
		return 0;	/* pong, a frame error: the caller's */
	if (strcmp(type, "message") == 0 || strcmp(type, "done") == 0)
		flags |= st_bump(st, cid);
	here = st->open && strcmp(st->cur.id, cid) == 0;
	if (!here)
		return flags;
	if (strcmp(type, "message") == 0) {
		rc = st_on_message(st, data);
	} else if (strcmp(type, "delta") == 0) {
		rc = st_on_delta(st, data);
	} else if (strcmp(type, "done") == 0) {
		rc = st_on_done(st, data);
	} else if (strcmp(type, "error") == 0) {
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(data,
								  "error");
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(data,
								  "message");

		st_copy(st->last_error, sizeof(st->last_error),
			st_str(e, "message"));
		rc = st_on_done(st, m);
	} else {
		rc = 0;
	}
	return rc < 0 ? rc : flags | rc;
}

double state_tokens_per_s(const struct state *st, int64_t now)
{
	double secs;

	if (!st->streaming_id[0] || !st->stream_bytes)
		return 0;
	secs = (double)(now - st->stream_start_ms) / 1000.0;
	if (secs < 0.2)
		return 0;
	return ((double)st->stream_bytes / 4.0) / secs;
}
