/*
 * gen.c - one generation: the call to aid's /internal/generate, its SSE
 * stream read on the server's loop thread, the answer kept in memory and
 * published as it comes (the deltas of one read of aid's answer as one
 * delta event: aid already gathers those that come within
 * aid.coalesce_ms), stop, and the end (final store write, the
 * done/error event, the waiting answers); and the title request after
 * the first answer of an untitled conversation (asked by the owner).
 *
 * One owner per struct: struct chat_gen is this file's alone.  live.c
 * drives it through the functions of live.h and keeps the lists it is
 * on (registry, writer queues) in a wrapper of its own; this file calls
 * nothing of live.c.  What a generation has to tell its owner goes
 * through the two callbacks of struct gen_owner (note: rows to store,
 * text to store, the end; call: start the request to aid) or back as
 * return values (struct gen_end).  It publishes to the hub itself,
 * except the end, which the owner publishes together with the registry
 * removal.
 *
 * Threads.  gen_start runs on a worker; owner->call hands the request
 * to the daemon's outbound door (http-out.h), which runs it on the loop
 * thread, or on the curl thread when aid's URL is one the loop client
 * cannot serve.  The stream callbacks (on_head, on_data, on_done,
 * keep_going) run there and never block: they only touch the
 * generation under its lock (held elsewhere only for short copies),
 * publish to the hub (which only queues bytes) and note new text to
 * the owner.  The writer calls gen_write_text (every GEN_WRITE_MS at
 * most) and, once the stream has ended, gen_finish and gen_reply, the
 * last things that touch the generation before gen_free.  A failed
 * start ends g through gen_cb_done on the starting thread instead.
 *
 * Stop: a flag the stream callbacks read; keep_going, polled about ten
 * times a second by the http client even while aid is silent (and once
 * more before a deferred start), closes the aid request, and closing it
 * is how aid learns to stop upstream.
 */
#include "live.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "json.h"
#include "log.h"
#include "sse-parse.h"
#include "utf8.h"
#include "util.h"
#include "banned.h"

#define GEN_ERRBODY_MAX (64 * 1024)
/* Bytes of history content sent to aid at most (aid.max_body is 16 MiB
 * by default; a message is at most 1 MiB). */
#define GEN_HISTORY_MAX (8 * 1024 * 1024)
/* One event of aid: a delta may carry much of the answer at once. */
#define GEN_EVENT_MAX (GEN_TEXT_MAX + 64 * 1024)
/* One generation (see live.h for who calls what). */
struct chat_gen {
	struct chatd *cd;
	struct hub *hub;		/* events go there */
	struct gen_owner owner;		/* where g reports */

	/* fixed once started */
	char conv_id[UUID_STR_LEN];
	char user_id[65];
	char role[16];
	char request_id[129];
	char idem_key[129];		/* "" when none */
	char *user_msg_json;		/* the message answered */
	struct chat_msg asst;		/* ids, times; owns no strings */
	struct http_res *waiter;	/* the 201 form, or NULL */
	bool want_title;
	char *title_question;		/* the first user message */
	int64_t t0;			/* mono_ms at the start */

	/* the new rows: stored by the writer before anything else of g,
	 * in one transaction with the leaf (writer thread only) */
	struct chat_msg ins_user;	/* owned; id "" for a regenerate */
	struct chat_msg ins_asst;	/* owned */
	bool stored;			/* committed */
	bool store_failed;		/* could not be: g ends in error */

	/* the end, from gen_finish to gen_reply (writer thread only) */
	bool end_error;			/* the answer failed */
	char *end_message;		/* its error message, or NULL */
	char *result;			/* the 201 form's body, or NULL */

	/* the stream: the thread of its callbacks only (loop or curl) */
	struct sse_parser parser;
	int http_status;
	struct buf errbody;		/* a non-200 answer's body */
	struct buf pend;		/* deltas of this read, not published */

	atomic_int stop;		/* enum gen_stop */
	/* shared with the writer, under lock */
	pthread_mutex_t lock;
	struct buf text;		/* the answer so far */
	bool text_full;			/* past GEN_TEXT_MAX */
	char *model_used;		/* aid's "start" or "done" */
	int64_t ttft_ms;		/* -1 until the first delta */
	int64_t latency_ms;
	int64_t prompt_tokens;
	int64_t completion_tokens;
	bool got_done;
	bool got_error;
	char *err_code;			/* aid's error event */
	char *err_message;
	bool ended;			/* the stream's on_done ran */
	int end_rc;
};

/* ---- small helpers ------------------------------------------------------ */

static char *gen_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void gen_set_str(char **dst, const char *s)
{
	free(*dst);
	*dst = gen_strdup(s);
}

/* An integer member of obj, or def. */
static int64_t gen_json_int(const cJSON *obj, const char *key, int64_t def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!cJSON_IsNumber(v) || v->valuedouble < 0 ||
	    v->valuedouble > 9e15)
		return def;
	return (int64_t)v->valuedouble;
}

/* True for a string safe in a header line. */
static bool gen_header_safe(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

void gen_headers(struct chatd *cd, const char *user_id, const char *role,
		 const char *request_id, char h[6][256], const char *out[8])
{
	int n = 0;

	snprintf(h[0], sizeof(h[0]), "%s: %s", HTTP_H_INTERNAL,
		 cd->d.internal_secret);
	out[n++] = "Content-Type: application/json";
	out[n++] = "Accept: text/event-stream";
	out[n++] = h[0];
	if (gen_header_safe(user_id)) {
		snprintf(h[1], sizeof(h[1]), "%s: %s", HTTP_H_USER_ID,
			 user_id);
		out[n++] = h[1];
	}
	if (role && *role && gen_header_safe(role)) {
		snprintf(h[2], sizeof(h[2]), "%s: %s", HTTP_H_ROLE, role);
		out[n++] = h[2];
	}
	if (request_id && *request_id && gen_header_safe(request_id) &&
	    strlen(request_id) < 200) {
		snprintf(h[3], sizeof(h[3]), "%s: %s", HTTP_H_REQUEST_ID,
			 request_id);
		out[n++] = h[3];
	}
	out[n] = NULL;
}

/* ---- the stream (loop thread, or the curl thread) ---------------------- */

static int gen_on_start(struct chat_gen *g, const cJSON *data)
{
	const char *model = json_str(data, "model");

	if (model) {
		pthread_mutex_lock(&g->lock);
		gen_set_str(&g->model_used, model);
		pthread_mutex_unlock(&g->lock);
	}
	return 0;
}

/* Publishes the deltas gathered from one read of aid's answer as one
 * delta event: what arrived together travels on together (the first
 * included, which therefore waits for nothing). */
static void gen_publish_pend(struct chat_gen *g)
{
	cJSON *ev;
	char *json = NULL;

	if (g->pend.len == 0)
		return;
	ev = cJSON_CreateObject();
	if (ev && cJSON_AddStringToObject(ev, "message_id", g->asst.id) &&
	    cJSON_AddStringToObject(ev, "text", g->pend.data))
		json = json_print(ev);
	cJSON_Delete(ev);
	if (!json ||
	    hub_publish(g->hub, g->user_id, g->conv_id, EV_DELTA, json,
			NULL) < 0)
		log_error("cannot publish a delta of '%s'", g->asst.id);
	free(json);
	buf_reset(&g->pend);
	g->owner.note(g->owner.arg, GEN_NOTE_TEXT);
}

static int gen_on_delta(struct chat_gen *g, const cJSON *data)
{
	const char *text = json_str(data, "text");
	int rc = 0;

	if (!text || !*text)
		return 0;
	pthread_mutex_lock(&g->lock);
	if (g->ttft_ms < 0)
		g->ttft_ms = mono_ms() - g->t0;
	if (buf_puts(&g->text, text) < 0) {
		g->text_full = true;
		rc = CHAT_ETOOBIG;
	}
	pthread_mutex_unlock(&g->lock);
	if (rc < 0)
		return rc;
	/* pend's ceiling is the text's: what the text took, pend takes */
	if (buf_puts(&g->pend, text) < 0) {
		gen_publish_pend(g);
		(void)buf_puts(&g->pend, text);
	}
	return 0;
}

static int gen_on_done_event(struct chat_gen *g, const cJSON *data)
{
	const cJSON *usage = cJSON_GetObjectItemCaseSensitive(data, "usage");
	const char *model = json_str(data, "model");

	pthread_mutex_lock(&g->lock);
	g->got_done = true;
	if (model)
		gen_set_str(&g->model_used, model);
	g->prompt_tokens = gen_json_int(usage, "prompt_tokens", -1);
	g->completion_tokens = gen_json_int(usage, "completion_tokens", -1);
	pthread_mutex_unlock(&g->lock);
	return 0;
}

static int gen_on_error_event(struct chat_gen *g, const cJSON *data)
{
	const char *code = json_str(data, "code");
	const char *msg = json_str(data, "message");

	pthread_mutex_lock(&g->lock);
	g->got_error = true;
	gen_set_str(&g->err_code, code ? code : "upstream_error");
	gen_set_str(&g->err_message, msg ? msg : "the model failed");
	pthread_mutex_unlock(&g->lock);
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(struct chat_gen *g, const cJSON *data);
} gen_events[] = {
	{ "start", gen_on_start },
	{ "delta", gen_on_delta },
	{ "done", gen_on_done_event },
	{ "error", gen_on_error_event },
};

static int gen_sse_event(void *arg, const struct sse_event *ev)
{
	struct chat_gen *g = arg;
	cJSON *data;
	size_t i;
	int rc = 0;

	for (i = 0; i < sizeof(gen_events) / sizeof(gen_events[0]); i++)
		if (strcmp(ev->event, gen_events[i].name) == 0)
			break;
	if (i == sizeof(gen_events) / sizeof(gen_events[0]))
		return 0;		/* unknown events are ignored */
	data = cJSON_ParseWithLength(ev->data, ev->data_len);
	if (!cJSON_IsObject(data)) {
		log_warn("aid sent a malformed '%s' event", ev->event);
		cJSON_Delete(data);
		return 0;
	}
	rc = gen_events[i].fn(g, data);
	cJSON_Delete(data);
	return rc;
}

static int gen_cb_head(void *arg, int status, const char *const *headers,
		       size_t n)
{
	struct chat_gen *g = arg;

	(void)headers;
	(void)n;
	g->http_status = status;
	return 0;
}

static int gen_cb_data(void *arg, const char *data, size_t len)
{
	struct chat_gen *g = arg;
	int rc;

	if (atomic_load(&g->stop) != GEN_RUN)
		return 1;
	if (g->http_status != 200) {
		/* an error envelope; what passes the ceiling is dropped */
		(void)buf_append(&g->errbody, data, len);
		return 0;
	}
	rc = sse_parse_feed(&g->parser, data, len);
	/* also after a failed feed: what was taken into the text is
	 * published, so the stream and the stored answer agree */
	gen_publish_pend(g);
	if (rc == CHAT_ETOOBIG) {
		pthread_mutex_lock(&g->lock);
		g->text_full = true;
		pthread_mutex_unlock(&g->lock);
	}
	return rc != 0;
}

static int gen_cb_keep_going(void *arg)
{
	struct chat_gen *g = arg;

	return atomic_load(&g->stop) == GEN_RUN;
}

static void gen_cb_done(void *arg, int rc)
{
	struct chat_gen *g = arg;

	pthread_mutex_lock(&g->lock);
	g->ended = true;
	g->end_rc = rc;
	g->latency_ms = mono_ms() - g->t0;
	pthread_mutex_unlock(&g->lock);
	g->owner.note(g->owner.arg, GEN_NOTE_END);
}

static const struct http_client_cb gen_cb = {
	.on_head = gen_cb_head,
	.on_data = gen_cb_data,
	.on_done = gen_cb_done,
	.keep_going = gen_cb_keep_going,
};

/* ---- start --------------------------------------------------------------- */

int gen_new(struct chatd *cd, struct hub *hub, const char *conv_id,
	    const struct gen_owner *owner, struct chat_gen **out)
{
	struct chat_gen *g = calloc(1, sizeof(*g));

	*out = NULL;
	if (!g)
		return CHAT_ENOMEM;
	if (pthread_mutex_init(&g->lock, NULL) != 0) {
		free(g);
		return CHAT_ENOMEM;
	}
	g->cd = cd;
	g->hub = hub;
	g->owner = *owner;
	snprintf(g->conv_id, sizeof(g->conv_id), "%s", conv_id);
	buf_init(&g->text, GEN_TEXT_MAX);
	buf_init(&g->errbody, GEN_ERRBODY_MAX);
	buf_init(&g->pend, GEN_TEXT_MAX);
	sse_parse_init(&g->parser, GEN_EVENT_MAX, gen_sse_event, NULL, g);
	atomic_init(&g->stop, GEN_RUN);
	g->ttft_ms = g->latency_ms = -1;
	g->prompt_tokens = g->completion_tokens = -1;
	*out = g;
	return 0;
}

/* The body of the aid request (caller frees). */
static char *gen_request_body(const struct gen_spec *spec)
{
	cJSON *root = cJSON_CreateObject(), *msgs, *m;
	char *text = NULL;
	size_t i, first, budget;

	if (!root)
		return NULL;
	if (!(spec->model ? cJSON_AddStringToObject(root, "model", spec->model)
			  : cJSON_AddNullToObject(root, "model")) ||
	    !(spec->system_prompt ?
		      cJSON_AddStringToObject(root, "system_prompt",
					      spec->system_prompt) :
		      cJSON_AddNullToObject(root, "system_prompt")) ||
	    !cJSON_AddStringToObject(root, "purpose", "chat") ||
	    !cJSON_AddStringToObject(root, "conversation_id", spec->conv->id) ||
	    !cJSON_AddStringToObject(root, "message_id", spec->asst->id))
		goto out;
	msgs = cJSON_AddArrayToObject(root, "messages");
	if (!msgs)
		goto out;
	/* aid trims to the model's context window; what it is sent is
	 * bounded too, newest turns first, so that a long conversation
	 * never passes aid's body ceiling */
	budget = GEN_HISTORY_MAX;
	if (spec->new_user_msg && spec->user_msg->content)
		budget -= strlen(spec->user_msg->content);
	for (first = spec->nhistory; first > 0; first--) {
		const char *c = spec->history[first - 1].content;
		size_t n = c ? strlen(c) : 0;

		if (n > budget)
			break;
		budget -= n;
	}
	for (i = first; i <= spec->nhistory; i++) {
		const struct chat_msg *h = i < spec->nhistory ?
			&spec->history[i] : spec->user_msg;

		if (i == spec->nhistory && !spec->new_user_msg)
			break;

		/* an answer that failed before its first word says nothing */
		if (!h->content || !*h->content)
			continue;
		m = cJSON_CreateObject();
		if (!m || !cJSON_AddItemToArray(msgs, m)) {
			cJSON_Delete(m);
			goto out;
		}
		if (!cJSON_AddStringToObject(m, "role", h->role) ||
		    !cJSON_AddStringToObject(m, "content", h->content))
			goto out;
	}
	text = json_print(root);
out:
	cJSON_Delete(root);
	return text;
}

/* A row to store: src with its strings copied (error fields left out). */
static int gen_msg_copy(struct chat_msg *dst, const struct chat_msg *src)
{
	*dst = *src;
	dst->content = strdup(src->content ? src->content : "");
	dst->model = gen_strdup(src->model);
	dst->error_code = dst->error_message = NULL;
	if (!dst->content || (src->model && !dst->model)) {
		chat_msg_release(dst);
		return CHAT_ENOMEM;
	}
	return 0;
}

void gen_start(struct chat_gen *g, const struct gen_spec *spec,
	       uint64_t *message_id)
{
	char url[256], hbuf[6][256];
	const char *headers[8];
	struct http_request hr = { 0 };
	cJSON *um;
	char *body = NULL;
	int rc = 0;

	*message_id = 0;
	snprintf(g->user_id, sizeof(g->user_id), "%s", spec->user_id);
	snprintf(g->role, sizeof(g->role), "%s", spec->role ? spec->role : "");
	snprintf(g->request_id, sizeof(g->request_id), "%s",
		 spec->request_id ? spec->request_id : "");
	snprintf(g->idem_key, sizeof(g->idem_key), "%s",
		 spec->idem_key ? spec->idem_key : "");
	g->asst = *spec->asst;
	g->asst.content = NULL;
	g->asst.model = NULL;
	g->asst.error_code = g->asst.error_message = NULL;
	g->model_used = gen_strdup(spec->asst->model);
	g->waiter = spec->waiter;
	g->want_title = spec->want_title;
	g->title_question = gen_strdup(spec->first_user_content);
	g->t0 = mono_ms();
	um = chat_msg_json(spec->user_msg);
	g->user_msg_json = um ? json_print(um) : NULL;
	cJSON_Delete(um);

	/* the rows go to the writer first: it stores them before any
	 * other write of g, even if g fails below */
	rc = gen_msg_copy(&g->ins_asst, spec->asst);
	if (rc == 0 && spec->new_user_msg)
		rc = gen_msg_copy(&g->ins_user, spec->user_msg);
	if (rc < 0) {
		g->store_failed = true;
		gen_request_stop(g, GEN_STOP_STORE);
	} else {
		g->owner.note(g->owner.arg, GEN_NOTE_ROWS);
	}
	if (!g->user_msg_json ||
	    hub_publish(g->hub, g->user_id, g->conv_id, EV_MESSAGE,
			g->user_msg_json, message_id) < 0) {
		rc = CHAT_ENOMEM;
		goto fail;
	}
	body = gen_request_body(spec);
	if (!body) {
		rc = CHAT_ENOMEM;
		goto fail;
	}
	if ((size_t)snprintf(url, sizeof(url), "%s/internal/generate",
			     g->cd->aid_url) >= sizeof(url)) {
		rc = CHAT_EINVAL;
		goto fail;
	}
	gen_headers(g->cd, g->user_id, g->role, g->request_id, hbuf, headers);
	hr.method = "POST";
	hr.url = url;
	hr.headers = headers;
	hr.body = body;
	hr.body_len = strlen(body);
	hr.connect_timeout_ms = 2000;
	hr.idle_timeout_ms = GEN_IDLE_MS;
	hr.max_response = (size_t)GEN_TEXT_MAX * 8;
	/* from here g may end at any time on the loop thread */
	rc = g->owner.call(g->owner.arg, &hr, &gen_cb, g);
	free(body);
	if (rc < 0)
		goto fail;
	return;
fail:
	/* ends like a stream that could not connect */
	log_error("cannot start the generation of '%s': %s", g->asst.id,
		  chat_strerror(rc));
	gen_cb_done(g, rc == CHAT_ECANCELED ? rc : CHAT_EUPSTREAM);
}

/* ---- the writer's side ------------------------------------------------- */

void gen_request_stop(struct chat_gen *g, int why)
{
	int expected = GEN_RUN;

	atomic_compare_exchange_strong(&g->stop, &expected, why);
}

int gen_store_rows(struct chat_gen *g, struct db_conn *c)
{
	int rc = 0;

	if (g->ins_user.id[0])
		rc = store_msg_insert(c, &g->cd->d, &g->ins_user);
	if (rc == 0)
		rc = store_msg_insert(c, &g->cd->d, &g->ins_asst);
	if (rc == 0)
		rc = store_conv_set_leaf(c, g->conv_id, g->ins_asst.id,
					 g->ins_asst.created_at);
	/* in the same transaction: after a crash the key names these
	 * messages (the answer's parent is the message answered, new or
	 * not), or nothing was stored and a retry runs again */
	if (rc == 0 && g->idem_key[0])
		rc = store_idem_bind(c, g->user_id, g->idem_key, g->conv_id,
				     g->ins_asst.parent_id, g->ins_asst.id);
	return rc;
}

void gen_store_failed(struct chat_gen *g, int rc)
{
	if (rc != CHAT_ENOTFOUND)	/* else: deleted meanwhile */
		log_error("cannot store the messages of '%s': %s",
			  g->ins_asst.id, chat_strerror(rc));
	g->store_failed = true;
	gen_request_stop(g, GEN_STOP_STORE);
}

void gen_rows_stored(struct chat_gen *g)
{
	g->stored = true;
}

int gen_write_text(struct chat_gen *g, struct db_conn *c)
{
	struct chat_msg m;
	int rc;

	if (!g->stored)
		return 0;		/* nothing to update yet */
	pthread_mutex_lock(&g->lock);
	if (g->ended) {
		pthread_mutex_unlock(&g->lock);
		return 0;		/* the final write covers it */
	}
	m = g->asst;
	m.content = strdup(g->text.data ? g->text.data : "");
	m.model = gen_strdup(g->model_used);
	pthread_mutex_unlock(&g->lock);
	if (!m.content)
		return CHAT_ENOMEM;
	snprintf(m.status, sizeof(m.status), "%s", MSG_STREAMING);
	m.updated_at = now_ms();
	rc = store_msg_update(c, &m);
	free(m.content);
	free(m.model);
	return rc;
}

/*
 * The final form of the answer, from how the stream ended.  Returns true
 * when it is an error (event "error", the 201 form's 502).
 */
static bool gen_final_msg(struct chat_gen *g, struct chat_msg *m)
{
	struct {
		const char *status, *code, *message;
	} end = { MSG_COMPLETE, NULL, NULL };
	cJSON *env = NULL;
	const cJSON *e;
	int stop = atomic_load(&g->stop);
	bool is_error;

	pthread_mutex_lock(&g->lock);
	*m = g->asst;
	m->content = strdup(g->text.data ? g->text.data : "");
	m->model = gen_strdup(g->model_used);
	m->error_code = m->error_message = NULL;
	m->prompt_tokens = g->prompt_tokens;
	m->completion_tokens = g->completion_tokens;
	m->ttft_ms = g->ttft_ms;
	m->latency_ms = g->latency_ms;
	if (g->store_failed) {
		end.status = MSG_ERROR;
		end.code = "store_failed";
		end.message = "the messages could not be stored";
	} else if (g->got_done) {
		end.status = MSG_COMPLETE;
	} else if (stop == GEN_STOP_CLIENT) {
		end.status = MSG_STOPPED;
	} else if (stop == GEN_STOP_EXIT) {
		end.status = MSG_INTERRUPTED;
		end.code = MSG_INTERRUPTED_CODE;
		end.message = MSG_INTERRUPTED_WHY;
	} else if (g->text_full) {
		end.status = MSG_TRUNCATED;
		end.code = "truncated";
		end.message = "the answer passed its size ceiling";
	} else if (g->got_error) {
		end.status = strcmp(g->err_code, "truncated") == 0 ?
			MSG_TRUNCATED : MSG_ERROR;
		end.code = g->err_code;
		end.message = g->err_message;
	} else if (g->http_status != 0 && g->http_status != 200) {
		env = cJSON_ParseWithLength(g->errbody.data ? g->errbody.data :
					    "", g->errbody.len);
		e = cJSON_GetObjectItemCaseSensitive(env, "error");
		end.status = MSG_ERROR;
		end.code = json_str(e, "code");
		end.message = json_str(e, "message");
		if (!end.code)
			end.code = "upstream_error";
		if (!end.message)
			end.message = "aid refused the request";
	} else if (g->end_rc == CHAT_EUPSTREAM) {
		end.status = MSG_ERROR;
		end.code = "upstream_unavailable";
		end.message = "cannot reach the model service";
	} else if (g->end_rc == CHAT_ETIMEDOUT) {
		end.status = MSG_ERROR;
		end.code = "upstream_timeout";
		end.message = "the model service went silent";
	} else if (g->end_rc == 0) {
		end.status = MSG_TRUNCATED;
		end.code = "truncated";
		end.message = "the answer stream ended early";
	} else {
		end.status = MSG_ERROR;
		end.code = "upstream_error";
		end.message = chat_strerror(g->end_rc);
	}
	snprintf(m->status, sizeof(m->status), "%s", end.status);
	m->error_code = gen_strdup(end.code);
	m->error_message = gen_strdup(end.message);
	pthread_mutex_unlock(&g->lock);
	cJSON_Delete(env);
	m->updated_at = now_ms();
	is_error = strcmp(m->status, MSG_COMPLETE) != 0 &&
		   strcmp(m->status, MSG_STOPPED) != 0;
	return is_error;
}

/* {"user_message":..., "assistant_message":...} (caller frees). */
static char *gen_result_json(const struct chat_gen *g, const cJSON *asst)
{
	cJSON *root = cJSON_CreateObject(), *um, *am;
	char *text = NULL;

	um = g->user_msg_json ? cJSON_Parse(g->user_msg_json) : NULL;
	am = asst ? cJSON_Duplicate(asst, true) : NULL;
	if (!root || !um || !am) {
		cJSON_Delete(um);
		cJSON_Delete(am);
		goto out;
	}
	cJSON_AddItemToObject(root, "user_message", um);
	cJSON_AddItemToObject(root, "assistant_message", am);
	text = json_print(root);
out:
	cJSON_Delete(root);
	return text;
}


/*
 * The answer's final row and its chat.message.finished, in one
 * transaction.  clients_connected counts the user's clients there at
 * the end: the hub's WebSockets and SSE streams, and the client waiting
 * for the 201 form (notifyd tells the user of a long answer that
 * finished while none was).  CHAT_ENOTFOUND when the answer was deleted
 * meanwhile (nothing written).
 */
static int gen_store_end(struct chat_gen *g, struct db_conn *c,
			 const struct chat_msg *m)
{
	size_t clients = hub_clients(g->hub, g->user_id);
	int rc;

	if (g->waiter && !http_res_closed(g->waiter))
		clients++;
	rc = db_begin(c);
	if (rc < 0)
		return rc;
	rc = store_msg_update(c, m);
	if (rc == 0)
		rc = store_events_finished(c, &g->cd->d, m, clients);
	if (rc == 0)
		rc = db_commit(c);
	if (rc < 0)
		db_rollback(c);
	return rc;
}

void gen_finish(struct chat_gen *g, struct db_conn *c, struct gen_end *end)
{
	struct chat_msg m;
	cJSON *asst = NULL, *err;
	char *asst_json = NULL;
	int rc;

	memset(end, 0, sizeof(*end));
	g->end_error = gen_final_msg(g, &m);
	if (c && g->stored) {
		rc = gen_store_end(g, c, &m);
		if (rc < 0 && rc != CHAT_ENOTFOUND)
			log_error("cannot store the answer '%s': %s", m.id,
				  chat_strerror(rc));
	}
	asst = chat_msg_json(&m);
	asst_json = asst ? json_print(asst) : NULL;
	g->result = gen_result_json(g, asst);
	if (c && g->idem_key[0]) {
		/* the answer for retries; nothing stored: they run again */
		if (g->stored && g->result)
			rc = store_idem_finish(c, g->user_id, g->idem_key, 201,
					       g->result);
		else
			rc = store_idem_drop(c, g->user_id, g->idem_key);
		if (rc < 0)
			log_error("cannot record the idempotency key: %s",
				  chat_strerror(rc));
	}

	/* the event, for the owner to publish */
	end->event = g->end_error ? EV_ERROR : EV_DONE;
	if (g->end_error) {
		cJSON *root = cJSON_CreateObject();

		err = cJSON_AddObjectToObject(root, "error");
		if (err && m.error_code) {
			cJSON_AddStringToObject(err, "code", m.error_code);
			cJSON_AddStringToObject(err, "message",
						m.error_message ?
						m.error_message : "");
		}
		if (root && asst)
			cJSON_AddItemToObject(root, "message",
					      cJSON_Duplicate(asst, true));
		end->data = root ? json_print(root) : NULL;
		cJSON_Delete(root);
	} else {
		end->data = asst_json;
		asst_json = NULL;
	}
	end->user_id = g->user_id;
	end->message_id = g->asst.id;
	end->stopped = strcmp(m.status, MSG_STOPPED) == 0;
	g->end_message = gen_strdup(m.error_message);
	if (g->want_title && g->stored &&
	    strcmp(m.status, MSG_COMPLETE) == 0) {
		end->want_title = true;
		end->role = g->role;
		end->request_id = g->request_id;
		end->question = g->title_question;
		end->model = gen_strdup(m.model);
	}
	cJSON_Delete(asst);
	free(asst_json);
	chat_msg_release(&m);
}

void gen_reply(struct chat_gen *g)
{
	if (!g->waiter)
		return;
	if (g->store_failed) {
		http_res_error(g->waiter, 500, "store_failed",
			       "the messages could not be stored");
	} else if (g->end_error) {
		http_res_error(g->waiter, 502, "upstream_error",
			       "the answer failed: %s",
			       g->end_message ? g->end_message :
			       "unknown error");
	} else if (g->result) {
		http_res_send(g->waiter, 201, "application/json", g->result,
			      strlen(g->result));
		g->result = NULL;		/* the server's now */
	} else {
		http_res_error(g->waiter, 500, "internal", "out of memory");
	}
	g->waiter = NULL;
}

void gen_end_release(struct gen_end *end)
{
	free(end->data);
	free(end->model);
	memset(end, 0, sizeof(*end));
}

void gen_free(struct chat_gen *g)
{
	if (!g)
		return;
	sse_parse_release(&g->parser);
	buf_release(&g->text);
	buf_release(&g->errbody);
	buf_release(&g->pend);
	free(g->user_msg_json);
	free(g->title_question);
	free(g->model_used);
	free(g->err_code);
	free(g->err_message);
	free(g->end_message);
	free(g->result);
	chat_msg_release(&g->ins_user);
	chat_msg_release(&g->ins_asst);
	pthread_mutex_destroy(&g->lock);
	free(g);
}
