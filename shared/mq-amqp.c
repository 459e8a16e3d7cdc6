/*
 * mq-amqp.c - the AMQP client of a durable work queue with delayed
 * retries on librabbitmq (mq-amqp.h): connect, declare the topology,
 * publish with confirms, consume with manual acks.  Built into the
 * run-time module chat-amqp.so (module.h), whose one exported symbol is
 * chat_module_amqp_v1, so that a daemon maps librabbitmq only when
 * rabbitmq.url is set.
 *
 * Each handle is one connection with one channel, used by one thread at
 * a time: a publisher waits for each message's confirm before it
 * returns, so the frames that come back on its socket are only the
 * replies to what it sent (basic.ack, basic.nack, basic.return before
 * the ack of an unroutable message, a channel or connection close), and
 * a consumer only reads deliveries.  No error text carries the URL's
 * user or password.
 */
#include "mq-amqp.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>

#include "err.h"
#include "util.h"
#include "module-ext.h"
#include "banned.h"

MODULE_EXT_INIT;

/* the symbol's name below carries the version */
_Static_assert(MQ_AMQP_VERSION == 1, "rename chat_module_amqp_v1");

#define MQA_CHANNEL 1
#define MQA_FRAME_MAX 131072
#define MQA_NAME_MAX (MQ_AMQP_PREFIX_MAX + 32)	/* PREFIX.delay.<ms> */
#define MQA_BODY_MAX (1u << 20)		/* a delivery's body */

struct mqa {
	amqp_connection_state_t conn;
	enum mq_amqp_role role;
	char prefix[MQ_AMQP_PREFIX_MAX];
	char where[300];		/* "host:port vhost '/'" for errors */
	uint64_t seq;			/* publisher: last delivery tag */
	bool dead;			/* the connection failed */
};

static struct timeval mqa_tv(int ms)
{
	struct timeval tv;

	if (ms < 0)
		ms = 0;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return tv;
}

/* The reply of the last RPC as an error: 0 when it was normal. */
static int mqa_reply(struct mqa *m, amqp_rpc_reply_t r, const char *what,
		     char *err, size_t errlen)
{
	switch (r.reply_type) {
	case AMQP_RESPONSE_NORMAL:
		return 0;
	case AMQP_RESPONSE_NONE:
		chat_errf(err, errlen, "%s at %s: no reply", what, m->where);
		m->dead = true;
		return CHAT_ECLOSED;
	case AMQP_RESPONSE_LIBRARY_EXCEPTION:
		chat_errf(err, errlen, "%s at %s: %s", what, m->where,
			  amqp_error_string2(r.library_error));
		m->dead = true;
		return r.library_error == AMQP_STATUS_TIMEOUT ?
			CHAT_ETIMEDOUT : CHAT_ECLOSED;
	case AMQP_RESPONSE_SERVER_EXCEPTION:
		break;
	}
	m->dead = true;
	if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
		amqp_connection_close_t *c = r.reply.decoded;

		chat_errf(err, errlen, "%s at %s: the broker closed the "
			  "connection: %u %.*s", what, m->where,
			  c->reply_code, (int)c->reply_text.len,
			  (const char *)c->reply_text.bytes);
		return c->reply_code == AMQP_ACCESS_REFUSED ? CHAT_EAUTH :
			CHAT_EUPSTREAM;
	}
	if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
		amqp_channel_close_t *c = r.reply.decoded;

		chat_errf(err, errlen, "%s at %s: the broker closed the "
			  "channel: %u %.*s", what, m->where, c->reply_code,
			  (int)c->reply_text.len,
			  (const char *)c->reply_text.bytes);
		return c->reply_code == AMQP_ACCESS_REFUSED ? CHAT_EAUTH :
			CHAT_EUPSTREAM;
	}
	chat_errf(err, errlen, "%s at %s: unexpected method 0x%08x", what,
		  m->where, (unsigned)r.reply.id);
	return CHAT_EUPSTREAM;
}

static int mqa_check(struct mqa *m, const char *what, char *err,
		     size_t errlen)
{
	return mqa_reply(m, amqp_get_rpc_reply(m->conn), what, err, errlen);
}

static int mqa_name(const struct mqa *m, const char *suffix, char *out,
		    size_t outlen)
{
	int n = snprintf(out, outlen, "%s.%s", m->prefix, suffix);

	return n < 0 || (size_t)n >= outlen ? CHAT_ETOOBIG : 0;
}

/* Declares queue PREFIX.<suffix> (args: NULL or a table) and binds it
 * with routing key suffix. */
static int mqa_queue(struct mqa *m, const char *suffix, amqp_table_t args,
		     char *err, size_t errlen)
{
	char name[MQA_NAME_MAX];
	char what[MQA_NAME_MAX + 32];
	int rc;

	rc = mqa_name(m, suffix, name, sizeof(name));
	if (rc < 0)
		return rc;
	snprintf(what, sizeof(what), "declaring queue '%s'", name);
	amqp_queue_declare(m->conn, MQA_CHANNEL, amqp_cstring_bytes(name), 0,
			   1, 0, 0, args);
	rc = mqa_check(m, what, err, errlen);
	if (rc < 0)
		return rc;
	amqp_queue_bind(m->conn, MQA_CHANNEL, amqp_cstring_bytes(name),
			amqp_cstring_bytes(m->prefix),
			amqp_cstring_bytes(suffix), amqp_empty_table);
	return mqa_check(m, "binding a queue", err, errlen);
}

static int mqa_declare(struct mqa *m, const struct mq_amqp_topology *t,
		       char *err, size_t errlen)
{
	amqp_table_entry_t e[3];
	amqp_table_t args;
	char suffix[48];
	size_t i;
	int rc;

	amqp_exchange_declare(m->conn, MQA_CHANNEL,
			      amqp_cstring_bytes(m->prefix),
			      amqp_cstring_bytes("direct"), 0, 1, 0, 0,
			      amqp_empty_table);
	rc = mqa_check(m, "declaring the exchange", err, errlen);
	if (rc < 0)
		return rc;
	rc = mqa_queue(m, "work", amqp_empty_table, err, errlen);
	if (rc < 0)
		return rc;
	rc = mqa_queue(m, "dead", amqp_empty_table, err, errlen);
	if (rc < 0)
		return rc;
	for (i = 0; i < t->ndelays; i++) {
		snprintf(suffix, sizeof(suffix), "delay.%" PRId64,
			 t->delays_ms[i]);
		e[0].key = amqp_cstring_bytes("x-message-ttl");
		e[0].value.kind = AMQP_FIELD_KIND_I64;
		e[0].value.value.i64 = t->delays_ms[i];
		e[1].key = amqp_cstring_bytes("x-dead-letter-exchange");
		e[1].value.kind = AMQP_FIELD_KIND_UTF8;
		e[1].value.value.bytes = amqp_cstring_bytes(m->prefix);
		e[2].key = amqp_cstring_bytes("x-dead-letter-routing-key");
		e[2].value.kind = AMQP_FIELD_KIND_UTF8;
		e[2].value.value.bytes = amqp_cstring_bytes("work");
		args.num_entries = 3;
		args.entries = e;
		rc = mqa_queue(m, suffix, args, err, errlen);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void mqa_free(struct mqa *m)
{
	if (!m)
		return;
	if (m->conn) {
		if (!m->dead) {
			amqp_channel_close(m->conn, MQA_CHANNEL,
					   AMQP_REPLY_SUCCESS);
			amqp_connection_close(m->conn, AMQP_REPLY_SUCCESS);
		}
		amqp_destroy_connection(m->conn);
	}
	free(m);
}

static int mqa_open(const char *url, const struct mq_amqp_topology *t,
		    enum mq_amqp_role role, int prefetch, int timeout_ms,
		    void **out, char *err, size_t errlen)
{
	struct amqp_connection_info ci;
	struct mqa *m = NULL;
	amqp_socket_t *sock;
	struct timeval tv = mqa_tv(timeout_ms);
	char *copy = NULL;
	int rc = 0, st;

	*out = NULL;
	if (!t->prefix || !*t->prefix ||
	    strlen(t->prefix) >= MQ_AMQP_PREFIX_MAX ||
	    t->ndelays > MQ_AMQP_DELAYS_MAX) {
		chat_errf(err, errlen, "bad queue names or delays");
		return CHAT_EINVAL;
	}
	copy = strdup(url);
	m = calloc(1, sizeof(*m));
	if (!copy || !m) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	m->role = role;
	memcpy(m->prefix, t->prefix, strlen(t->prefix) + 1);
	amqp_default_connection_info(&ci);
	/* the URL itself never goes into a message: it holds a password */
	if (strncmp(url, "amqp://", 7) != 0 && strncmp(url, "amqps://", 8) != 0) {
		chat_errf(err, errlen, "not an amqp://user:password@host:port/"
			  "vhost URL");
		rc = CHAT_EINVAL;
		goto out;
	}
	if (amqp_parse_url(copy, &ci) != AMQP_STATUS_OK) {
		chat_errf(err, errlen, "not an amqp://user:password@host:port/"
			  "vhost URL");
		rc = CHAT_EINVAL;
		goto out;
	}
	snprintf(m->where, sizeof(m->where), "%s:%d vhost '%s'", ci.host,
		 ci.port, ci.vhost);
	if (ci.ssl) {
		chat_errf(err, errlen, "%s: amqps:// is not supported",
			  m->where);
		rc = CHAT_EINVAL;
		goto out;
	}
	m->conn = amqp_new_connection();
	if (!m->conn) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	sock = amqp_tcp_socket_new(m->conn);
	if (!sock) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	st = amqp_socket_open_noblock(sock, ci.host, ci.port, &tv);
	if (st != AMQP_STATUS_OK) {
		chat_errf(err, errlen, "cannot connect to %s: %s (is the "
			  "broker up?)", m->where, amqp_error_string2(st));
		m->dead = true;
		rc = CHAT_EUPSTREAM;
		goto out;
	}
	if (amqp_set_handshake_timeout(m->conn, &tv) != AMQP_STATUS_OK ||
	    amqp_set_rpc_timeout(m->conn, &tv) != AMQP_STATUS_OK) {
		m->dead = true;
		rc = CHAT_EIO;
		goto out;
	}
	rc = mqa_reply(m, amqp_login(m->conn, ci.vhost, 0, MQA_FRAME_MAX,
				     role == MQ_AMQP_CONSUMER ?
				     MQ_AMQP_HEARTBEAT_S : 0,
				     AMQP_SASL_METHOD_PLAIN, ci.user,
				     ci.password), "login", err, errlen);
	if (rc < 0) {
		/* RabbitMQ refuses a bad password with 403 ACCESS_REFUSED
		 * (authentication_failure_close) */
		if (rc == CHAT_EAUTH)
			chat_errf(err, errlen, "%s refused the login of user "
				  "'%s' (wrong user or password?)", m->where,
				  ci.user);
		goto out;
	}
	amqp_channel_open(m->conn, MQA_CHANNEL);
	rc = mqa_check(m, "opening a channel", err, errlen);
	if (rc < 0)
		goto out;
	rc = mqa_declare(m, t, err, errlen);
	if (rc < 0)
		goto out;
	if (role == MQ_AMQP_PUBLISHER) {
		amqp_confirm_select(m->conn, MQA_CHANNEL);
		rc = mqa_check(m, "confirm.select", err, errlen);
	} else {
		char name[MQA_NAME_MAX];

		amqp_basic_qos(m->conn, MQA_CHANNEL, 0,
			       (uint16_t)(prefetch > 0 && prefetch < 65536 ?
					  prefetch : 1), 0);
		rc = mqa_check(m, "basic.qos", err, errlen);
		if (rc < 0)
			goto out;
		rc = mqa_name(m, "work", name, sizeof(name));
		if (rc < 0)
			goto out;
		amqp_basic_consume(m->conn, MQA_CHANNEL,
				   amqp_cstring_bytes(name), amqp_empty_bytes,
				   0, 0, 0, amqp_empty_table);
		rc = mqa_check(m, "basic.consume", err, errlen);
	}
out:
	free(copy);
	if (rc < 0) {
		mqa_free(m);
		return rc;
	}
	*out = m;
	return 0;
}

/* A closing method from the broker: answers it and marks m dead. */
static int mqa_closed_by_broker(struct mqa *m, const amqp_frame_t *f,
				const char *what, char *err, size_t errlen)
{
	amqp_rpc_reply_t r;

	r.reply_type = AMQP_RESPONSE_SERVER_EXCEPTION;
	r.reply = f->payload.method;
	r.library_error = 0;
	return mqa_reply(m, r, what, err, errlen);
}

static int mqa_publish(void *h, const char *key, const char *id,
		       const void *body, size_t len, int64_t expiration_ms,
		       int timeout_ms, char *err, size_t errlen)
{
	struct mqa *m = h;
	amqp_basic_properties_t p;
	amqp_bytes_t b;
	char expiration[24];
	bool returned = false;
	int64_t deadline = mono_ms() + timeout_ms;
	int st;

	if (m->dead || m->role != MQ_AMQP_PUBLISHER)
		return CHAT_ECLOSED;
	memset(&p, 0, sizeof(p));
	p._flags = AMQP_BASIC_CONTENT_TYPE_FLAG |
		AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG;
	p.content_type = amqp_cstring_bytes("application/json");
	p.delivery_mode = AMQP_DELIVERY_PERSISTENT;
	p.message_id = amqp_cstring_bytes(id);
	if (expiration_ms > 0) {
		snprintf(expiration, sizeof(expiration), "%" PRId64,
			 expiration_ms);
		p._flags |= AMQP_BASIC_EXPIRATION_FLAG;
		p.expiration = amqp_cstring_bytes(expiration);
	}
	b.bytes = (void *)body;
	b.len = len;
	st = amqp_basic_publish(m->conn, MQA_CHANNEL,
				amqp_cstring_bytes(m->prefix),
				amqp_cstring_bytes(key), 1, 0, &p, b);
	if (st != AMQP_STATUS_OK) {
		chat_errf(err, errlen, "publishing to %s: %s", m->where,
			  amqp_error_string2(st));
		m->dead = true;
		return CHAT_ECLOSED;
	}
	m->seq++;
	for (;;) {
		amqp_frame_t f;
		struct timeval tv = mqa_tv((int)(deadline - mono_ms()));

		amqp_maybe_release_buffers(m->conn);
		st = amqp_simple_wait_frame_noblock(m->conn, &f, &tv);
		if (st == AMQP_STATUS_TIMEOUT) {
			chat_errf(err, errlen, "publishing to %s: no confirm "
				  "within %d ms", m->where, timeout_ms);
			m->dead = true;
			return CHAT_ETIMEDOUT;
		}
		if (st != AMQP_STATUS_OK) {
			chat_errf(err, errlen, "publishing to %s: %s",
				  m->where, amqp_error_string2(st));
			m->dead = true;
			return CHAT_ECLOSED;
		}
		if (f.frame_type != AMQP_FRAME_METHOD)
			continue;
		switch (f.payload.method.id) {
		case AMQP_BASIC_ACK_METHOD: {
			amqp_basic_ack_t *a = f.payload.method.decoded;

			if (a->delivery_tag < m->seq && !a->multiple)
				continue;
			if (returned) {
				chat_errf(err, errlen, "publishing to %s: no "
					  "queue is bound to '%s'", m->where,
					  key);
				return CHAT_EUPSTREAM;
			}
			return 0;
		}
		case AMQP_BASIC_NACK_METHOD:
			chat_errf(err, errlen, "publishing to %s: the broker "
				  "refused the message", m->where);
			return CHAT_EUPSTREAM;
		case AMQP_BASIC_RETURN_METHOD: {
			amqp_message_t msg;
			amqp_rpc_reply_t r;

			/* the returned message's header and body follow */
			r = amqp_read_message(m->conn, f.channel, &msg, 0);
			if (r.reply_type != AMQP_RESPONSE_NORMAL)
				return mqa_reply(m, r, "publishing", err,
						 errlen);
			amqp_destroy_message(&msg);
			returned = true;
			continue;
		}
		case AMQP_CHANNEL_CLOSE_METHOD:
		case AMQP_CONNECTION_CLOSE_METHOD:
			return mqa_closed_by_broker(m, &f, "publishing", err,
						    errlen);
		default:
			continue;
		}
	}
}

static int mqa_next(void *h, int timeout_ms, struct mq_amqp_delivery *out,
		    char *err, size_t errlen)
{
	struct mqa *m = h;
	amqp_envelope_t env;
	amqp_rpc_reply_t r;
	struct timeval tv = mqa_tv(timeout_ms);
	amqp_frame_t f;
	int st;

	memset(out, 0, sizeof(*out));
	if (m->dead || m->role != MQ_AMQP_CONSUMER)
		return CHAT_ECLOSED;
	amqp_maybe_release_buffers(m->conn);
	r = amqp_consume_message(m->conn, &env, &tv, 0);
	if (r.reply_type == AMQP_RESPONSE_NORMAL) {
		int rc = 1;

		if (env.message.body.len > MQA_BODY_MAX) {
			/* not one of ours: acked away by the caller */
			out->body = strdup("");
		} else {
			out->body = malloc(env.message.body.len + 1);
			if (out->body) {
				memcpy(out->body, env.message.body.bytes,
				       env.message.body.len);
				out->body[env.message.body.len] = '\0';
				out->len = env.message.body.len;
			}
		}
		if (!out->body)
			rc = CHAT_ENOMEM;
		out->tag = env.delivery_tag;
		out->redelivered = env.redelivered != 0;
		amqp_destroy_envelope(&env);
		return rc;
	}
	if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
	    r.library_error == AMQP_STATUS_TIMEOUT)
		return 0;
	if (r.reply_type != AMQP_RESPONSE_LIBRARY_EXCEPTION ||
	    r.library_error != AMQP_STATUS_UNEXPECTED_STATE) {
		mqa_reply(m, r, "consuming", err, errlen);
		m->dead = true;
		return CHAT_ECLOSED;
	}
	/* a frame other than a delivery: a close, or a cancel of the
	 * consumer (its queue deleted) */
	st = amqp_simple_wait_frame(m->conn, &f);
	if (st != AMQP_STATUS_OK) {
		chat_errf(err, errlen, "consuming from %s: %s", m->where,
			  amqp_error_string2(st));
		m->dead = true;
		return CHAT_ECLOSED;
	}
	if (f.frame_type != AMQP_FRAME_METHOD)
		return 0;
	switch (f.payload.method.id) {
	case AMQP_CHANNEL_CLOSE_METHOD:
	case AMQP_CONNECTION_CLOSE_METHOD:
		mqa_closed_by_broker(m, &f, "consuming", err, errlen);
		return CHAT_ECLOSED;
	case AMQP_BASIC_CANCEL_METHOD:
		chat_errf(err, errlen, "consuming from %s: the broker "
			  "cancelled the consumer", m->where);
		m->dead = true;
		return CHAT_ECLOSED;
	default:
		return 0;
	}
}

static int mqa_ack(void *h, uint64_t tag)
{
	struct mqa *m = h;

	if (m->dead)
		return CHAT_ECLOSED;
	if (amqp_basic_ack(m->conn, MQA_CHANNEL, tag, 0) != AMQP_STATUS_OK) {
		m->dead = true;
		return CHAT_ECLOSED;
	}
	return 0;
}

static int mqa_depth(void *h, const char *suffix, uint64_t *n, char *err,
		     size_t errlen)
{
	struct mqa *m = h;
	amqp_queue_declare_ok_t *ok;
	char name[MQA_NAME_MAX];
	int rc;

	*n = 0;
	if (m->dead)
		return CHAT_ECLOSED;
	rc = mqa_name(m, suffix, name, sizeof(name));
	if (rc < 0)
		return rc;
	ok = amqp_queue_declare(m->conn, MQA_CHANNEL,
				amqp_cstring_bytes(name), 1, 0, 0, 0,
				amqp_empty_table);
	rc = mqa_check(m, "counting a queue", err, errlen);
	if (rc < 0)
		return rc;
	*n = ok ? ok->message_count : 0;
	return 0;
}

static int mqa_fd(void *h)
{
	struct mqa *m = h;

	return m->dead ? -1 : amqp_get_sockfd(m->conn);
}

static bool mqa_buffered(void *h)
{
	struct mqa *m = h;

	return !m->dead && (amqp_data_in_buffer(m->conn) ||
			    amqp_frames_enqueued(m->conn));
}

static void mqa_close(void *h)
{
	mqa_free(h);
}

const struct mq_amqp_ops chat_module_amqp_v1 = {
	.open = mqa_open,
	.publish = mqa_publish,
	.next = mqa_next,
	.ack = mqa_ack,
	.depth = mqa_depth,
	.fd = mqa_fd,
	.buffered = mqa_buffered,
	.close = mqa_close,
};
