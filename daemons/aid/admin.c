/*
 * admin.c - aid's part of the admin API and of account erasure:
 *
 *   GET  /v1/admin/models             (admin) every model, its provider,
 *                                     context window, and whether the
 *                                     provider's upstream answers now
 *   POST /internal/users/{id}/erase   (internal, userd) the user's usage
 *
 * Both run on the worker pool (they block).  The probe asks each upstream
 * provider in use for its model list, all providers at once (a thread
 * each), every probe bounded by ADMIN_PROBE_TIMEOUT_MS, so the call never
 * takes much longer than one probe; an answer is kept ADMIN_PROBE_KEEP_MS
 * so that a script polling the list does not hammer the upstreams.  A
 * dead upstream is "up": false with the reason, never a failed call.
 * The kept answers are file-scope: one aid per process.
 */
#include "aid.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "err.h"
#include "events.h"
#include "http-out.h"
#include "log.h"
#include "util.h"
#include "uuid.h"
#include "banned.h"

#define ADMIN_PROBE_CONNECT_MS 1000
#define ADMIN_PROBE_TIMEOUT_MS 2000
#define ADMIN_PROBE_KEEP_MS 5000
#define ADMIN_PROBE_BYTES ((size_t)4 << 20)
#define ADMIN_DRAIN_WAIT_MS 2000	/* longest wait for the usage writer */

/* One provider's last probe. */
struct admin_probe {
	bool wanted;			/* a listed model uses it (this call) */
	bool up;
	char error[AID_ERRMSG_MAX];	/* why not up */
	int64_t at_ms;			/* mono_ms of the probe; 0: never */
	struct aid *a;			/* for the probe thread */
	enum aid_prov prov;
};

static pthread_mutex_t admin_lock = PTHREAD_MUTEX_INITIALIZER;
static struct admin_probe admin_probes[AID_PROV_COUNT];	/* admin_lock */

/* The models of the list: a JSON array being filled. */
struct admin_list {
	struct aid *a;
	cJSON *data;
	bool failed;			/* out of memory */
};

/* Probe thread: asks p's upstream for its model list. */
static void *admin_probe_run(void *arg)
{
	struct admin_probe *pr = arg;
	struct aid_provider *p = &pr->a->prov[pr->prov];
	struct prov_http h = { 0 };
	struct http_request req = { 0 };
	struct buf body;
	int status = 0, rc = CHAT_ENOTFOUND;

	buf_init(&body, ADMIN_PROBE_BYTES);
	pr->up = false;
	if (p->ops && p->ops->models_build)
		rc = p->ops->models_build(&p->conf, &h);
	if (rc == 0) {
		req.method = h.method;
		req.url = h.url;
		req.headers = (const char *const *)h.headers;
		req.connect_timeout_ms = ADMIN_PROBE_CONNECT_MS;
		req.timeout_ms = ADMIN_PROBE_TIMEOUT_MS;
		req.max_response = ADMIN_PROBE_BYTES;
		rc = http_out_fetch(pr->a->d.out, &req, &status, &body);
	}
	if (rc == CHAT_ENOTFOUND)
		snprintf(pr->error, sizeof(pr->error), "'%s' cannot be probed",
			 p->kind);
	else if (rc < 0)
		snprintf(pr->error, sizeof(pr->error), "%s",
			 chat_strerror(rc));
	else if (status != 200)
		snprintf(pr->error, sizeof(pr->error), "the upstream answered "
			 "%d", status);
	else
		pr->up = true;
	prov_http_release(&h);
	buf_release(&body);
	return NULL;
}

/* Probes the wanted providers whose answer is older than the keep time,
 * concurrently; under admin_lock. */
static void admin_probe_all(struct aid *a)
{
	pthread_t th[AID_PROV_COUNT];
	bool started[AID_PROV_COUNT] = { false };
	int64_t now = mono_ms();
	int i;

	for (i = 0; i < AID_PROV_COUNT; i++) {
		struct admin_probe *pr = &admin_probes[i];

		if (!pr->wanted ||
		    (pr->at_ms && now - pr->at_ms < ADMIN_PROBE_KEEP_MS))
			continue;
		pr->a = a;
		pr->prov = (enum aid_prov)i;
		if (pthread_create(&th[i], NULL, admin_probe_run, pr) == 0) {
			started[i] = true;
			continue;
		}
		/* no thread: probe here, one after the other */
		admin_probe_run(pr);
		pr->at_ms = mono_ms();
	}
	for (i = 0; i < AID_PROV_COUNT; i++)
		if (started[i]) {
			pthread_join(th[i], NULL);
			admin_probes[i].at_ms = mono_ms();
		}
}

/* models_each callback: which providers the list needs. */
static void admin_want(void *arg, const char *name, const char *owner)
{
	struct admin_list *l = arg;
	struct aid_target t;

	(void)owner;
	if (models_resolve(l->a, name, &t) == 0 && t.prov < AID_PROV_COUNT)
		admin_probes[t.prov].wanted = true;
}

/* models_each callback: one AdminModel. */
static void admin_add(void *arg, const char *name, const char *owner)
{
	struct admin_list *l = arg;
	const struct admin_probe *pr = NULL;
	struct aid_target t;
	cJSON *o;
	bool ok;

	if (l->failed)
		return;
	if (models_resolve(l->a, name, &t) < 0)
		return;			/* listed names resolve; be safe */
	if (t.prov < AID_PROV_COUNT)
		pr = &admin_probes[t.prov];
	o = cJSON_CreateObject();
	ok = o && cJSON_AddStringToObject(o, "id", name) &&
	     cJSON_AddStringToObject(o, "provider", owner) &&
	     (t.context_window > 0 ?
		      cJSON_AddNumberToObject(o, "context_window",
					      (double)t.context_window) :
		      cJSON_AddNullToObject(o, "context_window")) &&
	     cJSON_AddBoolToObject(o, "up", !pr || pr->up) &&
	     (pr && !pr->up ? cJSON_AddStringToObject(o, "error", pr->error) :
			      cJSON_AddNullToObject(o, "error"));
	if (!ok || !cJSON_AddItemToArray(l->data, o)) {
		cJSON_Delete(o);
		l->failed = true;
	}
}

void admin_models_handler(struct http_req *req, struct http_res *res)
{
	struct admin_list l = { .a = req->app };
	cJSON *obj = cJSON_CreateObject();
	int i;

	l.data = obj ? cJSON_AddArrayToObject(obj, "data") : NULL;
	if (!l.data) {
		http_res_chat_error(res, CHAT_ENOMEM, "out of memory");
		goto out;
	}
	pthread_mutex_lock(&admin_lock);
	for (i = 0; i < AID_PROV_COUNT; i++)
		admin_probes[i].wanted = false;
	models_each(l.a, admin_want, &l);
	admin_probe_all(l.a);
	models_each(l.a, admin_add, &l);
	pthread_mutex_unlock(&admin_lock);
	if (l.failed) {
		http_res_chat_error(res, CHAT_ENOMEM, "out of memory");
		goto out;
	}
	http_res_json(res, 200, obj);
	obj = NULL;
out:
	cJSON_Delete(obj);
}

void admin_erase_usage_handler(struct http_req *req, struct http_res *res)
{
	struct aid *a = req->app;
	struct db_conn *c = NULL;
	char user[UUID_STR_LEN];
	int64_t n = 0;
	int rc;

	if (!uuid_norm(http_req_param(req, "id"), user)) {
		http_res_error(res, 404, "not_found", "no such user");
		return;
	}
	/* rows still queued, or still to come from generations running
	 * now, would be written after the delete */
	usage_forget_user(a, user, ADMIN_DRAIN_WAIT_MS);
	if (daemon_db(req, &c) < 0)
		return;
	/* the usage rows and aid's events of the user (events.h) */
	rc = db_begin(c);
	if (rc == 0)
		rc = db_exec(c, "DELETE FROM usage WHERE user_id = $1",
			     (struct db_param[]){ db_p_text(user) }, 1, &n);
	if (rc == 0)
		rc = events_erase_user(c, &a->d, user);
	if (rc == 0)
		rc = db_commit(c);
	else
		db_rollback(c);
	db_release(c);
	if (rc < 0) {
		http_res_chat_error(res, rc, "cannot erase the user's usage");
		return;
	}
	log_info("user '%s' erased: %lld usage rows", user, (long long)n);
	http_res_json(res, 204, NULL);
}
