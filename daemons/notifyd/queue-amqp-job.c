/*
 * queue-amqp-job.c - the pure parts of the RabbitMQ delivery queue
 * (queue-amqp.c, contracts in queue.h): a job as the JSON body of a
 * message and back, and which queue a job due at some time goes to.
 * No broker, store or clock here, so the unit test drives them alone
 * (tests/unit/test-notifyd-queue-amqp.c).
 */
#include "queue.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "err.h"
#include "banned.h"

#define QAJ_ATTEMPTS_MAX 1000		/* more is not one of ours */

char *queue_amqp_job_encode(const struct queue_job *j)
{
	cJSON *o = cJSON_CreateObject();
	char *s = NULL;

	if (o &&
	    cJSON_AddStringToObject(o, "id", j->id) &&
	    cJSON_AddStringToObject(o, "msg_id", j->msg_id) &&
	    cJSON_AddStringToObject(o, "endpoint_id", j->endpoint_id) &&
	    cJSON_AddNumberToObject(o, "attempts", j->attempts) &&
	    cJSON_AddNumberToObject(o, "created_ms", (double)j->created_ms) &&
	    cJSON_AddNumberToObject(o, "next_ms", (double)j->next_ms))
		s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

static int qaj_copy_id(char out[QUEUE_ID_MAX], const cJSON *v)
{
	size_t n;

	if (!cJSON_IsString(v))
		return CHAT_EINVAL;
	n = strlen(v->valuestring);
	if (n == 0 || n >= QUEUE_ID_MAX)
		return CHAT_EINVAL;
	memcpy(out, v->valuestring, n + 1);
	return 0;
}

/* A whole number of milliseconds that a double holds exactly. */
static bool qaj_ms(const cJSON *v, int64_t *out)
{
	if (!cJSON_IsNumber(v) || v->valuedouble < 0 ||
	    v->valuedouble > 9007199254740992.0 ||
	    v->valuedouble != (double)(int64_t)v->valuedouble)
		return false;
	*out = (int64_t)v->valuedouble;
	return true;
}

int queue_amqp_job_decode(const char *body, struct queue_job *j)
{
	cJSON *o = cJSON_Parse(body);
	const cJSON *at;
	int64_t attempts = 0;
	int rc = CHAT_EINVAL;

	memset(j, 0, sizeof(*j));
	if (!cJSON_IsObject(o))
		goto out;
	at = cJSON_GetObjectItemCaseSensitive(o, "attempts");
	if (qaj_copy_id(j->id, cJSON_GetObjectItemCaseSensitive(o, "id")) ||
	    qaj_copy_id(j->msg_id,
			cJSON_GetObjectItemCaseSensitive(o, "msg_id")) ||
	    qaj_copy_id(j->endpoint_id,
			cJSON_GetObjectItemCaseSensitive(o, "endpoint_id")) ||
	    !qaj_ms(at, &attempts) || attempts > QAJ_ATTEMPTS_MAX ||
	    !qaj_ms(cJSON_GetObjectItemCaseSensitive(o, "created_ms"),
		    &j->created_ms) ||
	    !qaj_ms(cJSON_GetObjectItemCaseSensitive(o, "next_ms"),
		    &j->next_ms)) {
		memset(j, 0, sizeof(*j));
		goto out;
	}
	j->attempts = (int)attempts;
	j->state = QUEUE_PENDING;
	rc = 0;
out:
	cJSON_Delete(o);
	return rc;
}

void queue_amqp_route(const int64_t *delays, size_t n, int64_t wait_ms,
		      char *key, size_t keylen, int64_t *expiration)
{
	size_t i;

	*expiration = 0;
	if (wait_ms <= QUEUE_AMQP_EARLY_MS || n == 0) {
		snprintf(key, keylen, "work");
		return;
	}
	/* the largest TTL that does not overshoot: the job comes back
	 * before its time at worst, and goes round again */
	for (i = n; i-- > 0;) {
		if (delays[i] <= wait_ms) {
			snprintf(key, keylen, "delay.%" PRId64, delays[i]);
			return;
		}
	}
	/* shorter than every TTL: the shortest queue, with an expiration
	 * of its own (a message ahead of it holds it back by at most that
	 * queue's TTL) */
	snprintf(key, keylen, "delay.%" PRId64, delays[0]);
	*expiration = wait_ms;
}
