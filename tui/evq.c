/*
 * evq.c - the UI thread's event queue: the workers post answers and
 * frames, one byte on a non-blocking pipe wakes the UI's poll(), and the
 * UI takes everything queued at once.
 */
#include "chatui.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "banned.h"

int evq_init(struct evq *q)
{
	int fds[2];

	memset(q, 0, sizeof(*q));
	q->pipe_rd = q->pipe_wr = -1;
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
		return CHAT_EIO;
	q->pipe_rd = fds[0];
	q->pipe_wr = fds[1];
	pthread_mutex_init(&q->mu, NULL);
	return 0;
}

void evq_release(struct evq *q)
{
	struct ui_event *ev = q->head, *next;

	for (; ev; ev = next) {
		next = ev->next;
		ui_event_free(ev);
	}
	q->head = q->tail = NULL;
	if (q->pipe_rd >= 0) {
		close(q->pipe_rd);
		close(q->pipe_wr);
		pthread_mutex_destroy(&q->mu);
	}
	q->pipe_rd = q->pipe_wr = -1;
}

struct ui_event *ui_event_new(enum ev_kind kind)
{
	struct ui_event *ev = calloc(1, sizeof(*ev));

	if (ev)
		ev->kind = kind;
	return ev;
}

void ui_event_free(struct ui_event *ev)
{
	if (!ev)
		return;
	cJSON_Delete(ev->json);
	free(ev);
}

void evq_wake(struct evq *q)
{
	char c = 1;
	ssize_t n;

	/* a full pipe already wakes the UI: EAGAIN is fine */
	do {
		n = write(q->pipe_wr, &c, 1);
	} while (n < 0 && errno == EINTR);
}

void evq_post(struct evq *q, struct ui_event *ev)
{
	if (!ev)
		return;
	ev->next = NULL;
	pthread_mutex_lock(&q->mu);
	if (q->tail)
		q->tail->next = ev;
	else
		q->head = ev;
	q->tail = ev;
	pthread_mutex_unlock(&q->mu);
	evq_wake(q);
}

struct ui_event *evq_take_all(struct evq *q)
{
	struct ui_event *all;
	char drain[256];

	while (read(q->pipe_rd, drain, sizeof(drain)) > 0)
		;
	pthread_mutex_lock(&q->mu);
	all = q->head;
	q->head = q->tail = NULL;
	pthread_mutex_unlock(&q->mu);
	return all;
}
