/*
 * sessiond.h - the sessions daemon: device sessions (one refresh-token
 * family each), refresh-token rotation with reuse detection, the
 * revocation list the gateway polls, and the cleanup of old rows.
 *
 * Files: main.c (spec, routes, config, cron), migrations.c (schema),
 * sessions.c (session store, public list/delete, create), refresh.c
 * (rotation), revocations.c (revoke and the revocation list), feed.c
 * (the revocation feed the gateways hold open), export.c (a user's
 * sessions for userd's account export), admin.c (the admin routes and a
 * user's erasure).
 *
 * Every handler runs on the worker pool and may block on the store.
 */
#ifndef CHAT_SESSIOND_H
#define CHAT_SESSIOND_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon.h"
#include "db.h"
#include "http-server.h"
#include "uuid.h"

/* Refresh tokens: 32 random bytes in base64url (43 chars). */
#define SESSIOND_TOKEN_BYTES 32
#define SESSIOND_TOKEN_LEN 64		/* buffer for the text form */
/* A store connection must come within this time or the request fails. */
#define SESSIOND_DB_WAIT_MS 5000
/* Rows revoked or expired longer than this ago are deleted. */
#define SESSIOND_KEEP_MS (24LL * 3600 * 1000)

struct sessiond {
	struct daemon d;		/* first: req->app points here */
	int64_t refresh_ttl_ms;		/* sessiond.refresh_ttl_s */
	int64_t refresh_grace_ms;	/* sessiond.refresh_grace_s; 0: off */
	int64_t access_ttl_ms;		/* userd.access_ttl_s: the age at
					 * which revocations stop mattering */
	int64_t cleanup_interval_ms;	/* sessiond.cleanup_interval_s */
	int64_t cleanup_last_ms;	/* loop thread only */
	atomic_bool cleanup_running;	/* a cleanup is queued or running */
	struct feed *feed;		/* owned */
};

/* migrations.c */
extern const struct db_migration migrations_table[];
extern const size_t migrations_count;

/* sessions.c */
/* Makes a new refresh token of session_id into tok (text for the client)
 * and stores its hash, valid until expires_at.  Inside the caller's
 * transaction. */
int sessions_token_insert(struct db_conn *c, const char *session_id,
			  const char *user_id, int64_t now, int64_t expires_at,
			  char tok[SESSIOND_TOKEN_LEN]);
/* Stores the hash of the given token tok the same way (refresh.c's
 * derived successors). */
int sessions_token_store(struct db_conn *c, const char *session_id,
			 const char *user_id, int64_t now, int64_t expires_at,
			 const char *tok);
/* Revokes session id (when live) with reason; *changed = rows revoked.
 * user_id may be NULL (any owner).  A revoked session's
 * chat.session.revoked event goes into the same transaction. */
int sessions_mark_revoked(struct sessiond *s, struct db_conn *c,
			  const char *id, const char *user_id,
			  const char *reason, int64_t now, int64_t *changed);
/* Writes chat.session.<verb> (type) of session_id into c's open
 * transaction (events_emit): data {session_id, reason (NULL: none),
 * expires_at (0: none)}.  Never a token in it. */
int sessions_event(struct sessiond *s, struct db_conn *c, const char *type,
		   const char *user_id, const char *session_id,
		   const char *reason, int64_t expires_at);
/* Emits chat.session.revoked with reason for each row of rows (columns:
 * session id, user id), as a revoking UPDATE ... RETURNING gave them. */
int sessions_revoked_events(struct sessiond *s, struct db_conn *c,
			    const struct db_rows *rows, const char *reason);
/* Deletes rows revoked or expired before now - SESSIOND_KEEP_MS.  Worker
 * thread. */
int sessions_cleanup(struct sessiond *s, int64_t now);
/* Common request plumbing: parses the body as a JSON object or answers
 * 400 "invalid_json" (then returns NULL). */
struct cJSON *sessions_body(struct http_req *req, struct http_res *res);

/* One row of a session listing as its API object; current is the
 * caller's session id (NULL when the listing marks none). */
typedef struct cJSON *(*sessions_row_fn)(const struct db_rows *r, size_t i,
					 const char *current);
/* The page of a session listing: the first limit of rows (the query
 * asked for limit + 1) drawn by row, and next_cursor the id (column 0)
 * of the last one when a row follows.  NULL when out of memory. */
struct cJSON *sessions_page(const struct db_rows *rows, long limit,
			    sessions_row_fn row, const char *current);

void sessions_create_handler(struct http_req *req, struct http_res *res);
void sessions_list_handler(struct http_req *req, struct http_res *res);
void sessions_delete_handler(struct http_req *req, struct http_res *res);

/* refresh.c */
void refresh_handler(struct http_req *req, struct http_res *res);
/* POST /internal/refresh/session: the session of a refresh token (a
 * browser's logout by its cookie). */
void refresh_session_handler(struct http_req *req, struct http_res *res);

/* revocations.c */
void revocations_session_handler(struct http_req *req, struct http_res *res);
void revocations_user_handler(struct http_req *req, struct http_res *res);
void revocations_list_handler(struct http_req *req, struct http_res *res);
void revocations_record_handler(struct http_req *req, struct http_res *res);
/* ?since=MS of the list and the feed: absent means "as far back as
 * matters" (0); CHAT_EINVAL with err set for anything but digits. */
int revocations_since(struct http_req *req, int64_t *since, char *err,
		      size_t errlen);

/* admin.c: the admin routes and the erasure of a user (userd's call) */
void admin_sessions_list_handler(struct http_req *req, struct http_res *res);
void admin_sessions_delete_handler(struct http_req *req,
				   struct http_res *res);
void admin_erase_sessions_handler(struct http_req *req, struct http_res *res);

/* export.c */
void export_sessions_handler(struct http_req *req, struct http_res *res);

/* feed.c */
struct feed;
int feed_new(struct sessiond *s, struct feed **out);
/* Ends every listener's answer; after the loop stopped. */
void feed_free(struct feed *f);
/* Any thread: something was revoked here, read the store now. */
void feed_notify(struct sessiond *s);
/* Begins a revoking transaction and then reads the clock: a revoked_at
 * taken before waiting for the write lock could be older than the feed's
 * margin by the time it commits. */
int feed_begin(struct db_conn *c, int64_t *now);
/* Records a revocation of kind "user" or "apikey" (sessions have their
 * own revoked_at), inside the caller's transaction or alone. */
int feed_record(struct db_conn *c, const char *kind, const char *subject,
		const char *user_id, int64_t now);
/* Deletes recorded revocations older than before. */
int feed_cleanup(struct db_conn *c, int64_t before);
void feed_handler(struct http_req *req, struct http_res *res);

#endif
