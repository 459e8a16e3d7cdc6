/*
 * tail.c - GET /v1/admin/events: a live SSE tail of the events analyticsd
 * consumes, for admins, filtered by type (exact, or a prefix "chat.user.*")
 * and by user.  The handler answers the head and registers the stream;
 * the consumer's threads write each applied event to the streams that
 * match (tail_publish, after the batch committed), and the cron sends
 * keep-alives and ends the streams whose client left.  No worker is held
 * by a stream.
 */
#include "analyticsd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "events.h"
#include "json.h"
#include "log.h"
#include "sse.h"
#include "banned.h"

#define TAIL_MAX_STREAMS 64
#define TAIL_FILTER_MAX 128

struct tail_stream {
	struct http_res *res;		/* open until ended here */
	char type[TAIL_FILTER_MAX];	/* "" any */
	char user[TAIL_FILTER_MAX];	/* "" any */
	bool dead;			/* a write failed */
	struct tail_stream *next;
};

struct tail {
	pthread_mutex_t lock;
	struct tail_stream *head;	/* owned, under lock */
	size_t n;
};

int tail_new(struct tail **out)
{
	struct tail *t = calloc(1, sizeof(*t));

	*out = NULL;
	if (!t)
		return CHAT_ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	*out = t;
	return 0;
}

void tail_free(struct tail *t)
{
	struct tail_stream *s, *next;

	if (!t)
		return;
	for (s = t->head; s; s = next) {
		next = s->next;
		http_res_end(s->res);
		free(s);
	}
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static bool tail_match(const struct tail_stream *s, const char *type,
		       const char *user)
{
	size_t n = strlen(s->type);

	if (s->user[0] && (!user || strcmp(s->user, user) != 0))
		return false;
	if (!s->type[0])
		return true;
	if (n >= 2 && s->type[n - 1] == '*' && s->type[n - 2] == '.')
		return strncmp(type, s->type, n - 1) == 0;
	return strcmp(type, s->type) == 0;
}

void tail_publish(void *app, const cJSON *event)
{
	struct analyticsd *a = app;
	struct tail *t = a->tail;
	const char *type = json_str(event, "type");
	const char *user = json_str(event, "userid");
	const char *id = json_str(event, "id");
	struct tail_stream *s;
	struct buf b;
	char *text = NULL;
	int rc;

	if (!t || !type)
		return;
	buf_init(&b, EVENTS_MAX_BYTES * 2);
	pthread_mutex_lock(&t->lock);
	for (s = t->head; s; s = s->next) {
		if (s->dead || !tail_match(s, type, user))
			continue;
		if (!text) {
			text = json_print(event);
			if (!text || sse_format(&b, id, type, text,
						strlen(text)) < 0)
				break;
		}
		rc = http_res_write(s->res, b.data, b.len);
		if (rc < 0)
			s->dead = true;	/* the cron ends it */
	}
	pthread_mutex_unlock(&t->lock);
	cJSON_free(text);
	buf_release(&b);
}

void tail_cron(struct tail *t)
{
	struct tail_stream **pp, *s;
	static const char ping[] = ": keep-alive\n\n";

	pthread_mutex_lock(&t->lock);
	pp = &t->head;
	while ((s = *pp)) {
		if (!s->dead && !http_res_closed(s->res) &&
		    http_res_write(s->res, ping, sizeof(ping) - 1) == 0) {
			pp = &s->next;
			continue;
		}
		*pp = s->next;
		t->n--;
		http_res_end(s->res);
		free(s);
	}
	pthread_mutex_unlock(&t->lock);
}

void tail_handler(struct http_req *req, struct http_res *res)
{
	struct analyticsd *a = req->app;
	struct tail *t = a->tail;
	struct tail_stream *s;
	int rc;

	s = calloc(1, sizeof(*s));
	if (!s) {
		http_res_chat_error(res, CHAT_ENOMEM, "out of memory");
		return;
	}
	rc = http_req_query(req, "type", s->type, sizeof(s->type));
	if (rc == 0 || rc == CHAT_ENOTFOUND)
		rc = http_req_query(req, "user", s->user, sizeof(s->user));
	if (rc < 0 && rc != CHAT_ENOTFOUND) {
		free(s);
		http_res_error(res, 400, "invalid_request",
			       "'type' and 'user' are at most %d bytes",
			       TAIL_FILTER_MAX - 1);
		return;
	}
	s->res = res;
	pthread_mutex_lock(&t->lock);
	if (t->n == TAIL_MAX_STREAMS) {
		pthread_mutex_unlock(&t->lock);
		free(s);
		http_res_header(res, "Retry-After", "5");
		http_res_error(res, 503, "busy", "too many event tails");
		return;
	}
	/* the head goes out under the lock, so no event reaches the stream
	 * before it */
	http_res_header(res, "Cache-Control", "no-store");
	rc = http_res_begin(res, 200, "text/event-stream");
	if (rc == 0)
		rc = http_res_write(res, ": tail\n\n", 8);
	if (rc < 0) {
		pthread_mutex_unlock(&t->lock);
		free(s);
		http_res_end(res);
		return;
	}
	s->next = t->head;
	t->head = s;
	t->n++;
	pthread_mutex_unlock(&t->lock);
}
