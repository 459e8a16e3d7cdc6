/*
 * queue.c - the delivery queue's front (queue.h): picks the backend and
 * forwards every call to its ops, so that the deliverer never knows
 * which one runs.
 */
#include "queue.h"

#include <stdlib.h>

#include "config.h"
#include "daemon.h"
#include "err.h"
#include "log.h"
#include "banned.h"

int queue_new(struct daemon *d, void (*on_ready)(void *arg), void *arg,
	      struct queue **out, char *err, size_t errlen)
{
	struct queue *q = calloc(1, sizeof(*q));
	const char *url;
	int rc;

	*out = NULL;
	if (!q)
		return CHAT_ENOMEM;
	q->d = d;
	q->on_ready = on_ready;
	q->on_ready_arg = arg;
	url = config_key_str(d->cfg, "rabbitmq.url");
	q->ops = url && *url ? &queue_amqp_ops : &queue_store_ops;
	rc = q->ops->open(q);
	if (rc < 0) {
		chat_errf(err, errlen, "cannot open the '%s' queue: %s",
			  q->ops->name, chat_strerror(rc));
		free(q);
		return rc;
	}
	log_info("webhook queue: %s", q->ops->name);
	*out = q;
	return 0;
}

void queue_free(struct queue *q)
{
	if (!q)
		return;
	q->ops->close(q);
	free(q);
}

void queue_stop(struct queue *q)
{
	q->stopping = true;
	q->ops->kick(q);
}

int queue_put(struct queue *q, struct db_conn *c, const struct queue_job *job)
{
	return q->ops->put(q, c, job);
}

int queue_take(struct queue *q, struct queue_job *out, size_t max,
	       size_t *n, int wait_ms)
{
	*n = 0;
	if (q->stopping)
		return 0;
	return q->ops->take(q, out, max, n, wait_ms);
}

int queue_done(struct queue *q, const struct queue_job *job)
{
	return q->ops->done(q, job);
}

int queue_retry(struct queue *q, const struct queue_job *job, int64_t at_ms)
{
	return q->ops->retry(q, job, at_ms);
}

int queue_dead(struct queue *q, const struct queue_job *job)
{
	return q->ops->dead(q, job);
}

int queue_list(struct queue *q, const char *endpoint_id,
	       enum queue_state state, struct queue_job *out, size_t max,
	       size_t *n)
{
	*n = 0;
	return q->ops->list(q, endpoint_id, state, out, max, n);
}

void queue_kick(struct queue *q)
{
	q->ops->kick(q);
}

int queue_done_in(struct queue *q, struct db_conn *c,
		  const struct queue_job *job)
{
	return q->ops->done_in ? q->ops->done_in(q, c, job) : 1;
}

int queue_retry_in(struct queue *q, struct db_conn *c,
		   const struct queue_job *job, int64_t at_ms)
{
	return q->ops->retry_in ? q->ops->retry_in(q, c, job, at_ms) : 1;
}

int queue_dead_in(struct queue *q, struct db_conn *c,
		  const struct queue_job *job)
{
	return q->ops->dead_in ? q->ops->dead_in(q, c, job) : 1;
}

int queue_pending(struct queue *q, bool *any)
{
	*any = false;
	return q->ops->pending(q, any);
}

int queue_put_mine(struct queue *q, struct db_conn *c,
		   const struct queue_job *job)
{
	if (!q->ops->put_mine)
		return q->ops->put(q, c, job);
	return q->ops->put_mine(q, c, job);
}

size_t queue_hand(struct queue *q, bool ok)
{
	return q->ops->hand ? q->ops->hand(q, ok) : 0;
}
