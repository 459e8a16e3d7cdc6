/*
 * test-client.c - the API client chatctl and chatui share
 * (shared/client.c) against a small HTTP/1.1 server inside the test (one
 * thread, a connection at a time, each answer closing its connection):
 * a JSON call and the headers it sends, error envelopes, no server, a
 * body past its ceiling, an event stream stopped by its callback, a call
 * cancelled, and the token rules: expiry, a token answer, and a refresh
 * that re-reads the credentials file (someone refreshed meanwhile, force,
 * another login in the file, the session ended, a malformed answer).
 */
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>
#include <curl/curl.h>

#include "client.h"
#include "creds.h"
#include "err.h"

/* ---- the test server ---- */

enum refresh_mode { RF_OK, RF_ENDED, RF_MALFORMED };

static int srv_fd = -1;
static int srv_port;
static pthread_t srv_thread;
static volatile int srv_quit;
static volatile enum refresh_mode srv_refresh_mode;
static volatile int srv_refreshes;	/* POST /v1/auth/refresh seen */
static char srv_last_refresh[256];	/* the refresh_token it got */

static void srv_send(int fd, int status, const char *type, const char *body)
{
	char head[512];
	size_t len = strlen(body);
	int n;

	n = snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nContent-Type: %s"
		     "\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
		     status, type, len);
	if (send(fd, head, (size_t)n, MSG_NOSIGNAL) < 0 ||
	    (len && send(fd, body, len, MSG_NOSIGNAL) < 0))
		return;
}

/* The value of header name in the request head (lowercase name), into
 * out ("" when absent). */
static void srv_header(const char *head, const char *name, char *out,
		       size_t outlen)
{
	const char *p = strcasestr(head, name), *e;

	out[0] = '\0';
	if (!p)
		return;
	p += strlen(name);
	while (*p == ' ')
		p++;
	e = strstr(p, "\r\n");
	if (!e)
		return;
	snprintf(out, outlen, "%.*s", (int)(e - p), p);
}

static void srv_answer(int fd, const char *head, const char *body)
{
	char method[16] = "", path[256] = "", auth[512], accept[128],
	     ctype[128], idem[128], out[4096];

	if (sscanf(head, "%15s %255s", method, path) != 2)
		return;
	srv_header(head, "\nauthorization:", auth, sizeof(auth));
	srv_header(head, "\naccept:", accept, sizeof(accept));
	srv_header(head, "\ncontent-type:", ctype, sizeof(ctype));
	srv_header(head, "\nidempotency-key:", idem, sizeof(idem));
	if (strcmp(path, "/echo") == 0) {
		cJSON *j = cJSON_CreateObject();
		char *text;

		cJSON_AddStringToObject(j, "method", method);
		cJSON_AddStringToObject(j, "auth", auth);
		cJSON_AddStringToObject(j, "accept", accept);
		cJSON_AddStringToObject(j, "ctype", ctype);
		cJSON_AddStringToObject(j, "idem", idem);
		cJSON_AddStringToObject(j, "body", body);
		text = cJSON_PrintUnformatted(j);
		srv_send(fd, 200, "application/json", text);
		cJSON_free(text);
		cJSON_Delete(j);
	} else if (strcmp(path, "/401") == 0) {
		srv_send(fd, 401, "application/json", "{\"error\":{\"code\":"
			 "\"token_expired\",\"message\":\"the access token "
			 "has expired\",\"request_id\":\"r\"}}");
	} else if (strcmp(path, "/500") == 0) {
		srv_send(fd, 500, "text/plain", "boom");
	} else if (strcmp(path, "/big") == 0) {
		static char big[100001];

		memset(big, 'x', sizeof(big) - 1);
		srv_send(fd, 200, "text/plain", big);
	} else if (strcmp(path, "/sse") == 0) {
		srv_send(fd, 200, "text/event-stream",
			 "data: one\n\ndata: two\n\n");
	} else if (strcmp(path, "/slow") == 0) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int i;

		/* nothing, until the client goes (at most 5 s) */
		for (i = 0; i < 100 && !srv_quit; i++)
			if (poll(&p, 1, 50) > 0)
				break;
	} else if (strcmp(path, "/v1/auth/refresh") == 0) {
		cJSON *j = cJSON_Parse(body);
		const cJSON *rt = cJSON_GetObjectItem(j, "refresh_token");

		srv_refreshes++;
		snprintf(srv_last_refresh, sizeof(srv_last_refresh), "%s",
			 cJSON_IsString(rt) ? rt->valuestring : "");
		cJSON_Delete(j);
		if (srv_refresh_mode == RF_ENDED) {
			srv_send(fd, 401, "application/json", "{\"error\":{"
				 "\"code\":\"session_revoked\",\"message\":"
				 "\"the session has ended\"}}");
		} else if (srv_refresh_mode == RF_MALFORMED) {
			srv_send(fd, 200, "application/json",
				 "{\"access_token\":5}");
		} else {
			snprintf(out, sizeof(out), "{\"access_token\":\"A%d\","
				 "\"refresh_token\":\"R%d\",\"expires_in\":"
				 "900}", srv_refreshes, srv_refreshes);
			srv_send(fd, 200, "application/json", out);
		}
	} else {
		srv_send(fd, 404, "application/json", "{}");
	}
}

/* Reads one request (head and a Content-Length body) and answers it. */
static void srv_conn(int fd)
{
	char buf[16384], *end, cl[32];
	size_t len = 0, need;
	ssize_t n;

	for (;;) {
		n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
		if (n <= 0)
			return;
		len += (size_t)n;
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (!end)
			continue;
		srv_header(buf, "\ncontent-length:", cl, sizeof(cl));
		need = (size_t)(end + 4 - buf) + (size_t)atoi(cl);
		if (len >= need || len == sizeof(buf) - 1)
			break;
	}
	end[2] = '\0';	/* the last header keeps its CRLF */
	srv_answer(fd, buf, end + 4);
}

static void *srv_main(void *arg)
{
	int fd;

	(void)arg;
	while (!srv_quit) {
		fd = accept(srv_fd, NULL, NULL);
		if (fd < 0)
			continue;
		srv_conn(fd);
		close(fd);
	}
	return NULL;
}

static int srv_start(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	struct timeval tv = { .tv_sec = 0, .tv_usec = 100000 };

	(void)state;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	srv_fd = socket(AF_INET, SOCK_STREAM, 0);
	if (srv_fd < 0 || bind(srv_fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(srv_fd, 16) ||
	    getsockname(srv_fd, (struct sockaddr *)&sa, &sl))
		return -1;
	/* accept() wakes up now and then to see srv_quit */
	setsockopt(srv_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	srv_port = ntohs(sa.sin_port);
	return pthread_create(&srv_thread, NULL, srv_main, NULL) ? -1 : 0;
}

static int srv_stop(void **state)
{
	(void)state;
	srv_quit = 1;
	pthread_join(srv_thread, NULL);
	close(srv_fd);
	curl_global_cleanup();
	return 0;
}

/* ---- helpers ---- */

static void new_client(struct client *c)
{
	char url[64];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d//", srv_port);
	assert_int_equal(client_init(c, url, "test/1"), 0);
	c->timeout_ms = 10000;
}

static int call(struct client *c, const char *method, const char *path,
		const char *token, const cJSON *body, struct client_res *res)
{
	struct client_req req = { .method = method, .path = path,
				  .json = body, .token = token };

	return client_call(c, &req, res);
}

static const char *jstr(const cJSON *j, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);

	assert_true(cJSON_IsString(v));
	return v->valuestring;
}

/* ---- calls ---- */

static void test_client__init(void **state)
{
	static const char *const bad[] = {
		"", "ftp://x", "http://", "https://", "127.0.0.1:80", "///",
	};
	struct client c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(client_init(&c, bad[i], "t"), CHAT_EINVAL);
	assert_int_equal(client_init(&c, "https://example.com///", "t"), 0);
	assert_string_equal(c.server, "https://example.com");
	client_release(&c);
}

static void test_client__json_call(void **state)
{
	struct client c;
	struct client_res res;
	struct client_req req = { .method = "POST", .path = "/echo",
				  .token = "tok", .idempotency_key = "k1" };
	cJSON *body = cJSON_CreateObject();

	(void)state;
	new_client(&c);
	assert_int_not_equal(c.server[strlen(c.server) - 1], '/');
	cJSON_AddStringToObject(body, "password", "secret");
	req.json = body;
	assert_int_equal(client_call(&c, &req, &res), 0);
	assert_int_equal(res.status, 200);
	assert_non_null(res.json);
	assert_string_equal(jstr(res.json, "method"), "POST");
	assert_string_equal(jstr(res.json, "auth"), "Bearer tok");
	assert_string_equal(jstr(res.json, "accept"), "application/json");
	assert_string_equal(jstr(res.json, "ctype"), "application/json");
	assert_string_equal(jstr(res.json, "idem"), "k1");
	assert_string_equal(jstr(res.json, "body"),
			    "{\"password\":\"secret\"}");
	client_res_release(&res);
	/* no token, no body: no credential; a POST has an empty body */
	assert_int_equal(call(&c, "POST", "/echo", NULL, NULL, &res), 0);
	assert_string_equal(jstr(res.json, "auth"), "");
	assert_string_equal(jstr(res.json, "idem"), "");
	assert_string_equal(jstr(res.json, "body"), "");
	client_res_release(&res);
	cJSON_Delete(body);
	client_release(&c);
}

static void test_client__errors(void **state)
{
	struct client c, none;
	struct client_res res;
	char path[4000];

	(void)state;
	new_client(&c);
	assert_int_equal(call(&c, "GET", "/401", "t", NULL, &res),
			 CHAT_EAUTH);
	assert_int_equal(res.status, 401);
	assert_string_equal(res.code, "token_expired");
	assert_string_equal(res.message, "the access token has expired");
	client_res_release(&res);
	assert_int_equal(call(&c, "GET", "/500", NULL, NULL, &res),
			 CHAT_EUPSTREAM);
	assert_int_equal(res.status, 500);
	assert_null(res.json);
	assert_string_equal(res.code, "");
	assert_string_equal(res.message, "the server answered HTTP 500");
	client_res_release(&res);
	/* a body past the ceiling */
	c.body_max = 1000;
	assert_int_equal(call(&c, "GET", "/big", NULL, NULL, &res),
			 CHAT_ETOOBIG);
	assert_string_equal(res.message, "the answer is too large");
	client_res_release(&res);
	/* a URL too long */
	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(call(&c, "GET", path, NULL, NULL, &res),
			 CHAT_ETOOBIG);
	assert_int_equal(res.status, 0);
	client_res_release(&res);
	/* a line break in a header value is refused, never sent on as a
	 * header of its own */
	assert_int_equal(call(&c, "GET", "/echo", "t\r\nX-Evil: 1", NULL,
			      &res), CHAT_EINVAL);
	assert_int_equal(res.status, 0);
	assert_string_equal(res.message, "a header value has a line break");
	client_res_release(&res);
	{
		struct client_req req = { .method = "POST", .path = "/echo",
					  .idempotency_key = "k\nX-Evil: 1" };

		assert_int_equal(client_call(&c, &req, &res), CHAT_EINVAL);
		client_res_release(&res);
	}
	client_release(&c);
	/* nobody listens (port 1 of loopback) */
	assert_int_equal(client_init(&none, "http://127.0.0.1:1", "t"), 0);
	assert_int_equal(call(&none, "GET", "/echo", NULL, NULL, &res),
			 CHAT_EUPSTREAM);
	assert_int_equal(res.status, 0);
	assert_non_null(strstr(res.message, "cannot reach "
			       "'http://127.0.0.1:1'"));
	client_res_release(&res);
	client_release(&none);
}

struct sse_seen {
	char data[256];
	size_t len;
	int stop_with;
};

static int on_sse(void *arg, const char *data, size_t len)
{
	struct sse_seen *s = arg;

	if (s->len + len < sizeof(s->data)) {
		memcpy(s->data + s->len, data, len);
		s->len += len;
		s->data[s->len] = '\0';
	}
	return s->stop_with;
}

static void test_client__stream(void **state)
{
	struct sse_seen seen = { .stop_with = 0 };
	struct client_req req = { .method = "GET", .path = "/sse",
				  .sse = true, .on_data = on_sse,
				  .arg = &seen };
	struct client c;
	struct client_res res;

	(void)state;
	new_client(&c);
	assert_int_equal(client_call(&c, &req, &res), 0);
	assert_string_equal(seen.data, "data: one\n\ndata: two\n\n");
	assert_int_equal(res.body.len, 0);
	client_res_release(&res);
	/* the callback stops it: its value comes back */
	memset(&seen, 0, sizeof(seen));
	seen.stop_with = 7;
	assert_int_equal(client_call(&c, &req, &res), CHAT_ECANCELED);
	assert_int_equal(res.data_rc, 7);
	assert_false(res.canceled);
	client_res_release(&res);
	/* a JSON answer to an sse request is buffered as usual */
	req.path = "/echo";
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(client_call(&c, &req, &res), 0);
	assert_int_equal(seen.len, 0);
	assert_string_equal(jstr(res.json, "accept"), "text/event-stream");
	client_res_release(&res);
	client_release(&c);
}

static int cancel_polls;

static bool cancel_now(void *arg)
{
	(void)arg;
	return ++cancel_polls > 1;
}

static void test_client__cancel(void **state)
{
	struct client c;
	struct client_res res;
	time_t t0 = time(NULL);

	(void)state;
	new_client(&c);
	c.cancel = cancel_now;
	assert_int_equal(call(&c, "GET", "/slow", NULL, NULL, &res),
			 CHAT_ECANCELED);
	assert_true(res.canceled);
	assert_string_equal(res.message, "interrupted");
	assert_true(time(NULL) - t0 < 4);
	client_res_release(&res);
	client_release(&c);
}

/* ---- tokens ---- */

static void test_client__expiring_and_pair(void **state)
{
	struct creds l = { 0 };
	cJSON *j;

	(void)state;
	l.expires_at = 1000;
	assert_true(client_expiring(&l, 971));
	assert_false(client_expiring(&l, 970));
	j = cJSON_Parse("{\"access_token\":\"a\",\"refresh_token\":\"r\","
			"\"expires_in\":60}");
	assert_int_equal(client_take_pair(&l, j, 2000), 0);
	cJSON_Delete(j);
	assert_string_equal(l.access_token, "a");
	assert_string_equal(l.refresh_token, "r");
	assert_int_equal(l.expires_at, 2060);
	/* malformed answers leave the login alone */
	j = cJSON_Parse("{\"access_token\":\"b\",\"expires_in\":60}");
	assert_int_equal(client_take_pair(&l, j, 3000), CHAT_EPARSE);
	cJSON_Delete(j);
	j = cJSON_Parse("{\"access_token\":\"\",\"refresh_token\":\"r\","
			"\"expires_in\":60}");
	assert_int_equal(client_take_pair(&l, j, 3000), CHAT_EPARSE);
	cJSON_Delete(j);
	assert_int_equal(client_take_pair(&l, NULL, 3000), CHAT_EPARSE);
	/* an expiry no token has (1e300 s, negative) */
	j = cJSON_Parse("{\"access_token\":\"b\",\"refresh_token\":\"r\","
			"\"expires_in\":1e300}");
	assert_int_equal(client_take_pair(&l, j, 3000), CHAT_EPARSE);
	cJSON_Delete(j);
	j = cJSON_Parse("{\"access_token\":\"b\",\"refresh_token\":\"r\","
			"\"expires_in\":-5}");
	assert_int_equal(client_take_pair(&l, j, 3000), CHAT_EPARSE);
	cJSON_Delete(j);
	assert_string_equal(l.access_token, "a");
	assert_int_equal(l.expires_at, 2060);
	creds_release(&l);

	/* a login answer: the server's spelling of the username wins */
	j = cJSON_Parse("{\"user\":{\"username\":\"Alice\"},"
			"\"access_token\":\"a2\",\"refresh_token\":\"r2\","
			"\"expires_in\":900}");
	assert_int_equal(client_take_login(&l, "http://s", "alice", j, 100), 0);
	cJSON_Delete(j);
	assert_string_equal(l.server, "http://s");
	assert_string_equal(l.username, "Alice");
	assert_string_equal(l.access_token, "a2");
	assert_int_equal(l.expires_at, 1000);
	/* no user object: the name typed; a malformed pair: EPARSE, the
	 * old tokens gone with the old login */
	j = cJSON_Parse("{\"access_token\":\"a3\",\"expires_in\":9}");
	assert_int_equal(client_take_login(&l, "http://t", "bob", j, 100),
			 CHAT_EPARSE);
	cJSON_Delete(j);
	assert_string_equal(l.server, "http://t");
	assert_string_equal(l.username, "bob");
	assert_null(l.access_token);
	creds_release(&l);
}

static char tmpdir[64];
static char cred_path[128];

/* A login (server, user, access, refresh, expires_at) into l. */
static void login(struct creds *l, const char *user, const char *at,
		  const char *rt, int64_t exp)
{
	char url[64];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d", srv_port);
	memset(l, 0, sizeof(*l));
	l->server = strdup(url);
	l->username = strdup(user);
	l->access_token = strdup(at);
	l->refresh_token = strdup(rt);
	l->expires_at = exp;
}

static void save_file(const char *user, const char *at, const char *rt,
		      int64_t exp)
{
	struct creds f;

	login(&f, user, at, rt, exp);
	assert_int_equal(creds_save(cred_path, &f), 0);
	creds_release(&f);
}

static void file_has(const char *user, const char *at, const char *rt)
{
	struct creds f;

	assert_int_equal(creds_load(cred_path, &f), 0);
	assert_string_equal(f.username, user);
	assert_string_equal(f.access_token, at);
	assert_string_equal(f.refresh_token, rt);
	creds_release(&f);
}

static int refresh(struct client *c, struct creds *l, bool force,
		   struct client_res *res)
{
	int save_rc = -1, rc;

	rc = client_refresh(c, cred_path, l, force, res, &save_rc);
	assert_int_equal(save_rc, 0);
	return rc;
}

static void test_client__refresh(void **state)
{
	struct client c;
	struct client_res res;
	struct creds l;
	int64_t now = time(NULL), before;
	int save_rc;

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test-client.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	snprintf(cred_path, sizeof(cred_path), "%s/credentials", tmpdir);
	new_client(&c);

	/* the file holds this login: refreshed over HTTP and saved */
	srv_refresh_mode = RF_OK;
	login(&l, "ann", "A0", "R0", now + 5);
	save_file("ann", "A0", "R0", now + 5);
	before = srv_refreshes;
	assert_int_equal(refresh(&c, &l, false, &res), 0);
	client_res_release(&res);
	assert_int_equal(srv_refreshes, before + 1);
	assert_string_equal(srv_last_refresh, "R0");
	assert_string_equal(l.refresh_token, "R1");
	assert_true(l.expires_at >= now + 899);
	file_has("ann", "A1", "R1");

	/* another process refreshed meanwhile (the file's refresh token
	 * differs and is fresh): taken from the file, no HTTP call */
	save_file("ann", "Aother", "Rother", now + 600);
	before = srv_refreshes;
	assert_int_equal(refresh(&c, &l, false, &res), 0);
	client_res_release(&res);
	assert_int_equal(srv_refreshes, before);
	assert_string_equal(l.access_token, "Aother");
	assert_string_equal(l.refresh_token, "Rother");

	/* force: the server refused the access token the file holds too;
	 * the file's refresh token is spent over HTTP */
	creds_release(&l);
	login(&l, "ann", "Aold", "Rold", now + 600);
	save_file("ann", "Aold", "Rnew", now + 600);
	before = srv_refreshes;
	assert_int_equal(refresh(&c, &l, true, &res), 0);
	client_res_release(&res);
	assert_int_equal(srv_refreshes, before + 1);
	assert_string_equal(srv_last_refresh, "Rnew");
	file_has("ann", l.access_token, l.refresh_token);

	/* the file holds another login: refreshed, the file left alone */
	save_file("bob", "Ab", "Rb", now + 600);
	before = srv_refreshes;
	assert_int_equal(refresh(&c, &l, true, &res), 0);
	client_res_release(&res);
	assert_int_equal(srv_refreshes, before + 1);
	file_has("bob", "Ab", "Rb");

	/* the session has ended */
	srv_refresh_mode = RF_ENDED;
	save_file("ann", l.access_token, l.refresh_token, l.expires_at);
	assert_int_equal(refresh(&c, &l, true, &res), CHAT_EAUTH);
	assert_string_equal(res.code, "session_revoked");
	client_res_release(&res);

	/* a malformed answer changes nothing */
	srv_refresh_mode = RF_MALFORMED;
	before = l.expires_at;
	assert_int_equal(refresh(&c, &l, true, &res), CHAT_EPARSE);
	client_res_release(&res);
	assert_int_equal(l.expires_at, before);

	/* no file at all: no lock, nothing written */
	srv_refresh_mode = RF_OK;
	assert_int_equal(client_refresh(&c, "", &l, true, &res, &save_rc),
			 0);
	assert_int_equal(save_rc, 0);
	client_res_release(&res);

	creds_release(&l);
	client_release(&c);
	unlink(cred_path);
	snprintf(cred_path + strlen(cred_path),
		 sizeof(cred_path) - strlen(cred_path), ".lock");
	unlink(cred_path);
	rmdir(tmpdir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client__init),
		cmocka_unit_test(test_client__json_call),
		cmocka_unit_test(test_client__errors),
		cmocka_unit_test(test_client__stream),
		cmocka_unit_test(test_client__cancel),
		cmocka_unit_test(test_client__expiring_and_pair),
		cmocka_unit_test(test_client__refresh),
	};

	return cmocka_run_group_tests(tests, srv_start, srv_stop);
}
