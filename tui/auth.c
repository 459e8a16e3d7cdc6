/*
 * auth.c - chatui's login, shared by the REST worker and the WebSocket
 * thread.
 *
 * The calls and the token rules are chatctl's, from shared/client.c: an
 * access token is refreshed when it has less than 30 s left and once more
 * when the server still calls it expired; a refresh runs under the
 * credentials file's lock after re-reading the file (chatctl or another
 * chatui may have refreshed meanwhile), and a file that now holds another
 * login (or none) is never written over.
 */
#include "chatui.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "banned.h"

#define AUTH_CONNECT_TIMEOUT_MS 5000L
#define AUTH_TIMEOUT_MS 120000L

int ui_auth_client_init(struct client *c, const char *server)
{
	int rc = client_init(c, server, "chatui/" CHATUI_VERSION);

	if (rc == 0) {
		c->connect_timeout_ms = AUTH_CONNECT_TIMEOUT_MS;
		c->timeout_ms = AUTH_TIMEOUT_MS;
	}
	return rc;
}

/* One POST on the login's client (under a->mu), with token when one is
 * given (logout) and without (login, register, refresh). */
static int ui_auth_call(struct auth *a, const char *path, const char *token,
			const cJSON *body, struct client_res *res)
{
	struct client_req req = { .method = "POST", .path = path,
				  .json = body, .token = token };

	return client_call(&a->client, &req, res);
}

/* ---- the login ---- */

static bool ui_auth_same(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

int ui_auth_init(struct auth *a, const char *server)
{
	char dir[PATH_MAX];

	memset(a, 0, sizeof(*a));
	pthread_mutex_init(&a->mu, NULL);
	snprintf(a->server, sizeof(a->server), "%s", server);
	if (creds_default_path(a->path, sizeof(a->path)) < 0)
		a->path[0] = '\0';
	/* as chatctl does (it says so on stderr; curses may own the
	 * terminal here): repaired, or not used */
	if (a->path[0] && creds_secure_dir(a->path, dir, sizeof(dir)) < 0)
		a->path[0] = '\0';
	/* this server's login, whichever server the file has current */
	if (a->path[0] &&
	    creds_load_server(a->path, a->server, &a->creds) == 0)
		a->have = ui_auth_same(a->creds.server, a->server);
	return ui_auth_client_init(&a->client, server);
}

void ui_auth_release(struct auth *a)
{
	creds_release(&a->creds);
	client_release(&a->client);
	pthread_mutex_destroy(&a->mu);
}

bool ui_auth_have(struct auth *a)
{
	bool have;

	pthread_mutex_lock(&a->mu);
	have = a->have;
	pthread_mutex_unlock(&a->mu);
	return have;
}

void ui_auth_username(struct auth *a, char *out, size_t outlen)
{
	pthread_mutex_lock(&a->mu);
	snprintf(out, outlen, "%s", a->have && a->creds.username ?
				    a->creds.username : "");
	pthread_mutex_unlock(&a->mu);
}

void ui_auth_forget(struct auth *a)
{
	pthread_mutex_lock(&a->mu);
	a->have = false;
	pthread_mutex_unlock(&a->mu);
}

int ui_auth_logout(struct auth *a, char *err, size_t errlen)
{
	struct client_res res;
	int rc = 0, rm = 0;

	pthread_mutex_lock(&a->mu);
	a->have = false;
	if (a->creds.access_token && a->creds.access_token[0]) {
		rc = ui_auth_call(a, "/v1/auth/logout", a->creds.access_token,
				  NULL, &res);
		if (rc == CHAT_EAUTH)
			rc = 0;		/* the session had ended already */
		else if (rc < 0)
			chat_errf(err, errlen, "cannot revoke the session: %s; "
				  "the local credentials were removed",
				  res.message);
		client_res_release(&res);
	}
	/* only this server's login: the file may keep other servers' */
	if (a->path[0])
		rm = creds_forget(a->path, a->server);
	if (rm < 0) {
		chat_errf(err, errlen, "cannot remove '%s'", a->path);
		rc = rm;
	}
	creds_release(&a->creds);
	memset(&a->creds, 0, sizeof(a->creds));
	pthread_mutex_unlock(&a->mu);
	return rc < 0 && rm == 0 ? CHAT_EUPSTREAM : rc;
}

/* Under a->mu. */
static int ui_auth_refresh(struct auth *a, bool force, char *err,
			   size_t errlen)
{
	struct client_res res;
	int rc, save_rc = 0;

	rc = client_refresh(&a->client, a->path, &a->creds, force, &res,
			    &save_rc);
	if (rc == 0 && save_rc < 0) {
		chat_errf(err, errlen, "cannot write '%s'", a->path);
	} else if (rc == CHAT_EAUTH) {
		chat_errf(err, errlen, "the session has ended (%s); log in "
			  "again", res.code[0] ? res.code : "unauthorized");
		a->have = false;
	} else if (rc < 0) {
		chat_errf(err, errlen, "cannot refresh the login: %s",
			  res.message);
		rc = CHAT_EUPSTREAM;
	}
	client_res_release(&res);
	return rc;
}

int ui_auth_token_ex(struct auth *a, bool force, int64_t after, char *out,
		     size_t outlen, int64_t *expires_at, char *err,
		     size_t errlen)
{
	bool stale;
	int rc = 0;

	pthread_mutex_lock(&a->mu);
	if (!a->have) {
		chat_errf(err, errlen, "not logged in");
		rc = CHAT_EAUTH;
		goto out;
	}
	/* a token no newer than the caller's is as good as refused: a
	 * file holding it does not count as fresher either */
	stale = after && a->creds.expires_at <= after;
	if (force || stale || client_expiring(&a->creds, time(NULL)))
		rc = ui_auth_refresh(a, force || stale, err, errlen);
	if (rc == 0 && strlen(a->creds.access_token) >= outlen)
		rc = CHAT_ETOOBIG;
	if (rc == 0) {
		snprintf(out, outlen, "%s", a->creds.access_token);
		if (expires_at)
			*expires_at = a->creds.expires_at;
	}
out:
	pthread_mutex_unlock(&a->mu);
	return rc;
}

int ui_auth_token(struct auth *a, bool force, char *out, size_t outlen,
		  char *err, size_t errlen)
{
	return ui_auth_token_ex(a, force, 0, out, outlen, NULL, err, errlen);
}

int ui_auth_login(struct auth *a, const char *username, const char *password,
		  bool do_register, char *err, size_t errlen)
{
	struct client_res res = { 0 };
	cJSON *body;
	int rc;

	body = cJSON_CreateObject();
	if (!body || !cJSON_AddStringToObject(body, "username", username) ||
	    !cJSON_AddStringToObject(body, "password", password)) {
		cJSON_Delete(body);
		return CHAT_ENOMEM;
	}
	pthread_mutex_lock(&a->mu);
	if (do_register) {
		rc = ui_auth_call(a, "/v1/auth/register", NULL, body, &res);
		if (rc < 0) {
			chat_errf(err, errlen, "%s", res.message);
			goto out;
		}
		client_res_release(&res);
	}
	rc = ui_auth_call(a, "/v1/auth/login", NULL, body, &res);
	if (rc < 0) {
		chat_errf(err, errlen, "%s", res.message);
		rc = res.status ? CHAT_EAUTH : rc;
		goto out;
	}
	rc = client_take_login(&a->creds, a->server, username, res.json,
			       time(NULL));
	if (rc < 0) {
		chat_errf(err, errlen, "%s", rc == CHAT_EPARSE ?
			  "the server's token answer is malformed" :
			  chat_strerror(rc));
		goto out;
	}
	a->have = true;
	if (!a->path[0] || creds_save(a->path, &a->creds) < 0)
		chat_errf(err, errlen, "logged in, but cannot write the "
			  "credentials file");
out:
	pthread_mutex_unlock(&a->mu);
	client_res_release(&res);
	cJSON_Delete(body);
	return rc;
}
