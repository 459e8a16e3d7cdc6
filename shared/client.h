/*
 * client.h - the API client that chatctl and chatui share: one blocking
 * call on a reused libcurl easy handle (calls share a kept-alive
 * connection), its JSON answer parsed and an error envelope read into
 * code and message; and the token rules of a login kept in the
 * credentials file (creds.h).
 *
 * Token rules: an access token is refreshed when it has less than
 * CLIENT_REFRESH_MARGIN_S left, and once more when the server still
 * answers 401 token_expired (clock skew).  Refresh tokens are single-use
 * and a reused one revokes the whole session, so a refresh runs under
 * the file's lock and first re-reads the file (another process, chatctl
 * or chatui, may have refreshed meanwhile), and a file that now holds
 * another login, or none, is never written over.
 *
 * A struct client belongs to one thread at a time.  Nothing here prints;
 * the caller needs curl_global_init() done.
 */
#ifndef CHAT_CLIENT_H
#define CHAT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "buf.h"
#include "creds.h"

#define CLIENT_REFRESH_MARGIN_S 30
#define CLIENT_BODY_MAX (64u * 1024 * 1024)	/* a whole conversation */

/* A streamed 2xx body's bytes; nonzero stops the transfer (the value is
 * handed back in client_res.data_rc). */
typedef int (*client_data_fn)(void *arg, const char *data, size_t len);
/* Polled during a transfer: true cancels it. */
typedef bool (*client_cancel_fn)(void *arg);

struct client {
	void *curl;			/* CURL *, owned */
	char server[1024];		/* base URL, no trailing / */
	char user_agent[64];
	long connect_timeout_ms;	/* default 10000 */
	long timeout_ms;		/* whole transfer, 0 (default) none */
	size_t body_max;		/* default CLIENT_BODY_MAX */
	client_cancel_fn cancel;	/* may be NULL */
	void *cancel_arg;
};

struct client_req {
	const char *method;		/* "GET", "POST", ... */
	const char *path;		/* "/v1/...", already escaped */
	const cJSON *json;		/* the body, may be NULL */
	const char *token;		/* bearer credential, NULL none */
	const char *idempotency_key;	/* may be NULL */
	bool sse;			/* Accept: text/event-stream; a 2xx
					 * event stream goes to on_data */
	client_data_fn on_data;
	void *arg;
};

struct client_res {
	long status;			/* 0: no answer */
	struct buf body;		/* a body not streamed, owned */
	cJSON *json;			/* owned: the body when it is JSON */
	char code[64];			/* error.code of an error answer */
	char message[512];		/* error.message or a transport error */
	bool canceled;			/* client.cancel stopped it */
	int data_rc;			/* on_data's nonzero return */
};

/* True when s is an http:// or https:// URL with something after the
 * scheme (what client_init accepts as a server). */
bool client_valid_server(const char *s);
/* Opens the handle for server (trailing slashes dropped).  CHAT_EINVAL
 * when server is not an http:// or https:// URL or is too long,
 * CHAT_ENOMEM.  On failure c needs no release. */
int client_init(struct client *c, const char *server,
		const char *user_agent);
void client_release(struct client *c);
/* Performs one call.  0 on a 2xx answer; CHAT_EAUTH on a 401 and
 * CHAT_EUPSTREAM on any other status (code and message from the error
 * envelope, else "the server answered HTTP N"); CHAT_EUPSTREAM with a
 * transport error in message (status 0 when no answer came);
 * CHAT_ECANCELED when cancel or on_data stopped it (canceled, data_rc);
 * CHAT_ETOOBIG when the URL, a header or the body passes its ceiling;
 * CHAT_EINVAL for a token or Idempotency-Key with a line break;
 * CHAT_ENOMEM.
 * res is filled in every case: release it with client_res_release. */
int client_call(struct client *c, const struct client_req *req,
		struct client_res *res);
void client_res_release(struct client_res *res);

/* True when login l's access token has less than
 * CLIENT_REFRESH_MARGIN_S left at now (unix seconds). */
bool client_expiring(const struct creds *l, int64_t now);
/* A token answer ({access_token, refresh_token, expires_in}) into l's
 * tokens and expires_at.  CHAT_EPARSE (l unchanged) or CHAT_ENOMEM. */
int client_take_pair(struct creds *l, const cJSON *answer, int64_t now);
/* A login answer ({user: {username}, access_token, ...}) from server into
 * l, which it replaces: the server, the username the answer gives (else
 * username), the token pair.  CHAT_ENOMEM (l unchanged), or CHAT_EPARSE
 * for a malformed token answer (l then holds server and username only). */
int client_take_login(struct creds *l, const char *server,
		      const char *username, const cJSON *answer, int64_t now);
/* Refreshes login l (its server and username say whose file entry it
 * is) as the rules above say, with the credentials file at path ("":
 * none, no lock).  force: the server refused l's access token, so a
 * file holding that same token does not count as fresher.  0: l holds a
 * token good for a while (*save_rc: 0, or creds_save's error when the
 * new pair could not be written to the file).  CHAT_EAUTH: the session
 * has ended (the server refused the refresh token; res->code says how);
 * CHAT_EPARSE: the server's token answer is malformed; CHAT_EIO: the
 * lock could not be taken; else client_call's error, res saying why.
 * res is filled in every case (release it). */
int client_refresh(struct client *c, const char *path, struct creds *l,
		   bool force, struct client_res *res, int *save_rc);

#endif
