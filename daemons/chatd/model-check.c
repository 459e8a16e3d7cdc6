/*
 * model-check.c - does aid know this model?  Asked before a
 * conversation or a message naming a model is stored, so that a model
 * aid has never heard of is refused with nothing stored (404
 * model_not_found) instead of leaving a question with a failed answer
 * behind.
 *
 * aid is the one judge: its GET /v1/models/{id} resolves a name by the
 * same rules as a generation does (named models, aliases, "echo",
 * "<provider>/<model>" for an active provider, discovered models), so
 * chatd never keeps a copy of those rules.  Answers are kept briefly
 * (MODEL_CHECK_KEEP_MS) in a small table, so that a conversation's every
 * message does not cost a round trip.  When aid cannot say (down, busy,
 * an answer other than 200 or 404) the name passes: the generation then
 * fails as it always did, and a short outage of aid never turns into
 * refused conversations.
 *
 * Threads: model_check_known blocks (worker threads only); the table is
 * guarded by its mutex, never held across the call to aid.
 */
#include "chatd.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "http-out.h"
#include "log.h"
#include "util.h"
#include "banned.h"

/* How long an answer of aid is kept. */
#define MODEL_CHECK_KEEP_MS 30000
/* Names kept at most; the oldest answer goes first. */
#define MODEL_CHECK_SLOTS 64
#define MODEL_CHECK_TIMEOUT_MS 5000
#define MODEL_CHECK_BODY_MAX (64 * 1024)

/* One answer of aid. */
struct model_check_slot {
	char name[CHATD_MODEL_MAX + 1];	/* "" when free */
	bool known;
	int64_t at_ms;			/* mono_ms of the answer */
};

struct model_check {
	pthread_mutex_t lock;		/* slots */
	struct model_check_slot slots[MODEL_CHECK_SLOTS];
};

/* ---- the table ---------------------------------------------------------- */

/* 1 known, 0 unknown, -1 not kept (or kept too long). */
static int model_check_lookup(struct model_check *mc, const char *name,
			      int64_t now)
{
	int i, found = -1;

	pthread_mutex_lock(&mc->lock);
	for (i = 0; i < MODEL_CHECK_SLOTS; i++) {
		const struct model_check_slot *s = &mc->slots[i];

		if (s->name[0] && strcmp(s->name, name) == 0 &&
		    now - s->at_ms < MODEL_CHECK_KEEP_MS) {
			found = s->known;
			break;
		}
	}
	pthread_mutex_unlock(&mc->lock);
	return found;
}

/* Keeps aid's answer for name, in its old slot, a free one or the
 * oldest. */
static void model_check_keep(struct model_check *mc, const char *name,
			     bool known, int64_t now)
{
	struct model_check_slot *s, *pick = NULL;
	int i;

	pthread_mutex_lock(&mc->lock);
	for (i = 0; i < MODEL_CHECK_SLOTS; i++) {
		s = &mc->slots[i];
		if (strcmp(s->name, name) == 0) {
			pick = s;
			break;
		}
		if (!pick || !s->name[0] ||
		    (pick->name[0] && s->at_ms < pick->at_ms))
			pick = s;
	}
	snprintf(pick->name, sizeof(pick->name), "%s", name);
	pick->known = known;
	pick->at_ms = now;
	pthread_mutex_unlock(&mc->lock);
}

/* ---- the question to aid ------------------------------------------------ */

/* name %XX-escaped for a path segment (aid decodes it; slashes stay,
 * aid's route is a prefix).  CHAT_ETOOBIG when out is short. */
static int model_check_escape(const char *name, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (; *name; name++) {
		unsigned char ch = (unsigned char)*name;

		if (n + 4 > outlen)
			return CHAT_ETOOBIG;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || strchr("-._~/", ch)) {
			out[n++] = (char)ch;
		} else {
			out[n++] = '%';
			out[n++] = hex[ch >> 4];
			out[n++] = hex[ch & 15];
		}
	}
	out[n] = '\0';
	return 0;
}

/* True for a string safe in a header line. */
static bool model_check_header_safe(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

/* Asks aid, as the caller (its route wants an authenticated one): 1
 * known, 0 unknown, a negative CHAT_E... when aid cannot say. */
static int model_check_ask(struct chatd *cd, const struct model_check_who *who,
			   const char *name)
{
	char url[128 + 3 * CHATD_MODEL_MAX + 32], esc[3 * CHATD_MODEL_MAX + 1];
	char h_int[128], h_uid[128], h_role[64], h_rid[192];
	const char *headers[5];
	struct http_request hr = { 0 };
	struct buf body;
	int status = 0, n, rc;

	buf_init(&body, MODEL_CHECK_BODY_MAX);
	rc = model_check_escape(name, esc, sizeof(esc));
	if (rc < 0)
		goto out;
	if ((size_t)snprintf(url, sizeof(url), "%s/v1/models/%s",
			     cd->aid_url, esc) >= sizeof(url)) {
		rc = CHAT_ETOOBIG;
		goto out;
	}
	n = 0;
	snprintf(h_int, sizeof(h_int), "%s: %s", HTTP_H_INTERNAL,
		 cd->d.internal_secret);
	headers[n++] = h_int;
	snprintf(h_uid, sizeof(h_uid), "%s: %s", HTTP_H_USER_ID,
		 who->user_id);
	headers[n++] = h_uid;
	snprintf(h_role, sizeof(h_role), "%s: %s", HTTP_H_ROLE,
		 who->role && model_check_header_safe(who->role) &&
		 strlen(who->role) < 32 ? who->role : "user");
	headers[n++] = h_role;
	if (who->request_id && model_check_header_safe(who->request_id) &&
	    (size_t)snprintf(h_rid, sizeof(h_rid), "%s: %s",
			     HTTP_H_REQUEST_ID, who->request_id) <
	    sizeof(h_rid))
		headers[n++] = h_rid;
	headers[n] = NULL;
	hr.method = "GET";
	hr.url = url;
	hr.headers = headers;
	hr.connect_timeout_ms = 2000;
	hr.timeout_ms = MODEL_CHECK_TIMEOUT_MS;
	hr.max_response = MODEL_CHECK_BODY_MAX;
	rc = http_out_fetch(cd->d.out, &hr, &status, &body);
	if (rc < 0)
		goto out;
	if (status == 200)
		rc = 1;
	else if (status == 404)
		rc = 0;
	else
		rc = CHAT_EUPSTREAM;
out:
	buf_release(&body);
	return rc;
}

/* ---- public ------------------------------------------------------------- */

int model_check_new(struct model_check **out)
{
	struct model_check *mc = calloc(1, sizeof(*mc));

	*out = NULL;
	if (!mc)
		return CHAT_ENOMEM;
	if (pthread_mutex_init(&mc->lock, NULL) != 0) {
		free(mc);
		return CHAT_ENOMEM;
	}
	*out = mc;
	return 0;
}

void model_check_free(struct model_check *mc)
{
	if (!mc)
		return;
	pthread_mutex_destroy(&mc->lock);
	free(mc);
}

int model_check_known(struct chatd *cd, const struct model_check_who *who,
		      const char *name)
{
	int64_t now = mono_ms();
	int known;

	if (!name)
		return 0;		/* aid's default */
	if (strlen(name) > CHATD_MODEL_MAX)
		return CHAT_ENOTFOUND;	/* no such name can be kept */
	known = model_check_lookup(cd->models, name, now);
	if (known < 0) {
		known = model_check_ask(cd, who, name);
		if (known < 0) {
			log_warn("cannot ask aid about model '%s': %s", name,
				 chat_strerror(known));
			return 0;	/* aid cannot say: let it pass */
		}
		model_check_keep(cd->models, name, known == 1, now);
	}
	return known ? 0 : CHAT_ENOTFOUND;
}
