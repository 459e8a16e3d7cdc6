/*
 * userd.h - the users/auth daemon: accounts, passwords, roles, profiles,
 * API keys, access tokens and the JWKS.  Device sessions and refresh
 * tokens belong to sessiond, which userd calls over internal HTTP.
 *
 * Threads: handlers run on the worker pool, except GET /v1/users/me,
 * which starts on the loop thread (answered from me_cache, else handed to
 * the pool), and register and login, which start on the loop thread and
 * hand their argon2id work to the small hash_pool (503 when its queue is
 * full), so that anonymous callers never delay signed-in ones.  struct userd is written only during init; afterwards
 * everything in it is read-only except the throttle table and the
 * me_cache, which have their own locks.
 */
#ifndef USERD_H
#define USERD_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "crypto.h"
#include "daemon.h"
#include "db.h"
#include "http-server.h"
#include "jwt.h"
#include "uuid.h"

#define USERD_USERNAME_MIN 3
#define USERD_USERNAME_MAX 64
#define USERD_PASSWORD_MIN 8
#define USERD_PASSWORD_MAX 1024
#define USERD_DB_WAIT_MS 5000	/* longest wait for a store connection */

/* ---- throttle.c: slowing down guessing and registration floods ---- */

#define THROTTLE_IP_MAX 63		/* longest client address kept */

struct throttle_entry;

/* What throttle_init is given (from the userd.* settings). */
struct throttle_settings {
	int pair_free;			/* failures of (username, address) */
	int addr_free;			/* failures of an address */
	int64_t base_ms;		/* first wait, doubled per failure */
	int64_t cap_ms;			/* longest wait */
	int register_per_hour;		/* registrations of an address */
	size_t max_entries;		/* 0: the default ceiling */
};

struct throttle {
	pthread_mutex_t lock;
	struct throttle_entry **buckets;	/* owned chains */
	size_t nbuckets;
	struct throttle_entry *oldest;	/* least recently used entry */
	struct throttle_entry *newest;	/* most recently used entry */
	size_t count;			/* entries in the table */
	size_t max_entries;		/* ceiling; the oldest goes beyond it */
	int pair_free;			/* free failures per pair */
	int addr_free;			/* free failures per address */
	int64_t base_ms;		/* first wait, doubled per failure */
	int64_t cap_ms;			/* longest wait */
	int64_t window_ms;		/* quiet time that forgets an entry */
	int register_per_hour;		/* registrations per address */
};

/* How a reserved login attempt ended. */
enum throttle_outcome {
	THROTTLE_OK,			/* the right password */
	THROTTLE_FAILED,		/* wrong username or password */
	THROTTLE_CANCELLED,		/* never checked (busy, store error) */
};

/* Sets up an empty table. */
int throttle_init(struct throttle *t, const struct throttle_settings *s);
void throttle_release(struct throttle *t);
/*
 * A login attempt from address ip for username key user (NULL for a
 * name that cannot exist: only the address counts).  0 after reserving
 * the attempt, which the caller must end with throttle_login_end;
 * CHAT_EBUSY when the pair or the address must wait, with the seconds
 * (rounded up) in *retry_after_s and nothing reserved.  Any thread;
 * never blocks beyond the table's lock.
 */
int throttle_login_begin(struct throttle *t, const char *ip,
			 const char *user, int64_t now,
			 int64_t *retry_after_s);
/* Ends an attempt throttle_login_begin reserved, with the same ip and
 * user.  Any thread. */
void throttle_login_end(struct throttle *t, const char *ip, const char *user,
			enum throttle_outcome outcome, int64_t now);
/* A registration from ip: 0 after counting it, CHAT_EBUSY with
 * *retry_after_s when ip has used up its hour.  Any thread. */
int throttle_register_begin(struct throttle *t, const char *ip, int64_t now,
			    int64_t *retry_after_s);
/* Gives back a registration that was never tried (busy). */
void throttle_register_cancel(struct throttle *t, const char *ip);
/* Drops entries that no longer matter; housekeeping. */
void throttle_prune(struct throttle *t, int64_t now);
/* Entries in the table (tests). */
size_t throttle_count(struct throttle *t);

/* ---- me-cache.c: recent answers of GET /v1/users/me ---- */

#define ME_CACHE_SLOTS 256
/* How long an answer is kept: the bound on how stale it can be after a
 * write by another userd process on the same store (writes in this
 * process forget it at once). */
#define ME_CACHE_TTL_MS 1000

struct me_cache_entry {
	char id[UUID_STR_LEN];		/* the user; "" when free */
	char *json;			/* owned answer body; NULL when free */
	size_t len;
	int64_t expires_ms;		/* monotonic clock */
};

struct me_cache {
	pthread_mutex_t lock;
	uint64_t generation;		/* bumped by every forget */
	struct me_cache_entry slots[ME_CACHE_SLOTS];
};

void me_cache_init(struct me_cache *c);
void me_cache_release(struct me_cache *c);
/* 0 and a copy of the answer for user id (*json the caller's, free()) when
 * one is kept and fresh at now (mono_ms); CHAT_ENOTFOUND otherwise. */
int me_cache_get(struct me_cache *c, const char *id, int64_t now,
		 char **json, size_t *len);
/* The generation to pass to me_cache_put: read it before the store read
 * whose answer will be put. */
uint64_t me_cache_generation(struct me_cache *c);
/* Keeps json (copied) as the answer for id, unless a write was announced
 * since generation. */
void me_cache_put(struct me_cache *c, const char *id, const char *json,
		  size_t len, int64_t now, uint64_t generation);
/* A users row changed (after the commit): drops its answer and refuses
 * puts of reads that began before. */
void me_cache_forget(struct me_cache *c, const char *id);
/* Frees expired answers; housekeeping. */
void me_cache_prune(struct me_cache *c, int64_t now);

/* ---- user-events.c: userd's events (events.h) ---- */

#define USER_EVENTS_QUEUE_MAX 256	/* login outcomes per window */
#define USER_EVENTS_FLUSH_MS 100	/* the window */

/* A login outcome waiting for its write. */
struct user_login_event {
	char type[32];			/* chat.user.logged_in / login_failed */
	char user_id[UUID_STR_LEN];	/* "" when unknown */
	char username[USERD_USERNAME_MAX + 1];
	char address[64];
	char reason[32];		/* login_failed: why */
	int64_t at;			/* unix ms of the login */
};

struct user_login_queue {
	pthread_mutex_t lock;		/* everything below */
	struct user_login_event *items;	/* owned, USER_EVENTS_QUEUE_MAX */
	size_t n;
	uint64_t dropped;		/* past the ceiling since the last write */
	bool armed;			/* a write is due */
	bool ready;			/* user_events_init succeeded */
};

struct userd;

/*
 * Writes event type concerning user_id (may be NULL) about subject
 * ("users/<id>", may be NULL) in c's open transaction; data is the
 * NULL-terminated key/value string pairs kv (a NULL value is left out).
 * The caller rolls back on failure.  Worker threads.
 */
int user_event(struct userd *ud, struct db_conn *c, const char *type,
	       const char *user_id, const char *subject,
	       const char *const *kv);
/* Queues a login outcome (no write on the login's path); any thread. */
void user_event_login(struct userd *ud, const char *type,
		      const char *user_id, const char *username,
		      const char *address, const char *reason);
/* Writes the queued outcomes in one transaction; worker thread. */
void user_events_flush(struct userd *ud);
int user_events_init(struct userd *ud);
/* Writes what is queued and frees the queue; after the pool stopped. */
void user_events_release(struct userd *ud);

/* ---- email-rules.c: what an address and a one-time code may be ---- */

#define EMAIL_MAX 254			/* RFC 5321's longest path */
#define EMAIL_LOCAL_MAX 64
#define CODE_LEN 12			/* characters of a one-time code */
/* No 0/O, 1/I/L nor U: a code read aloud or retyped stays right.  30
 * symbols, 12 of them: 59 bits, the whole credential of a reset. */
#define CODE_ALPHABET "23456789ABCDEFGHJKMNPQRSTVWXYZ"
#define CODE_INPUT_MAX 64		/* longest code field accepted */

/* True for an address of at most EMAIL_MAX bytes of valid UTF-8 with one
 * '@' between a local part (1-64 bytes) and a domain of non-empty
 * dot-separated labels, and no space, control or DEL byte. */
bool email_valid(const char *s);
/* The address's key (ASCII letters lowercased) into out, EMAIL_MAX + 1
 * bytes; s must be valid. */
void email_key(const char *s, char out[EMAIL_MAX + 1]);
/* A fresh random code of CODE_LEN symbols of CODE_ALPHABET.  Needs
 * crypto_init. */
void code_new(char out[CODE_LEN + 1]);
/* The code in s as stored: letters uppercased, spaces and '-' dropped.
 * CHAT_EINVAL unless that leaves CODE_LEN symbols of CODE_ALPHABET. */
int code_normalize(const char *s, char out[CODE_LEN + 1]);
/* The hex SHA-256 of a normalized code: what the store keeps.  A fast
 * hash suffices: the code has 59 random bits and attempts are limited. */
void code_hash(const char *code, char out[65]);

/* ---- the daemon ---- */

struct userd {
	struct daemon d;		/* first: req->app points here */
	bool pg;			/* the store is PostgreSQL */
	struct jwt_keyset keys;		/* every signing key, oldest first */
	const struct jwt_key *signer;	/* the newest key, inside keys */
	char *jwks;			/* JWKS text of keys, owned */
	char dummy_hash[PWHASH_STR_LEN];/* verified when the user is unknown */
	int64_t access_ttl_s;		/* access token lifetime */
	bool registration_open;		/* userd.registration = open */
	char sessiond_url[256];		/* "http://127.0.0.1:PORT" */
	struct throttle throttle;	/* logins and registrations */
	struct pool *hash_pool;		/* argon2id of anonymous callers */
	struct me_cache me;		/* GET /v1/users/me answers */
	struct user_login_queue logins;	/* login events, user-events.c */
	char notifyd_url[256];		/* "http://127.0.0.1:PORT" */
	int64_t code_ttl_ms;		/* a mailed code's lifetime */
	int code_attempts;		/* wrong tries that end a code */
	int email_codes_per_hour;	/* verification mails per account */
	int reset_per_hour;		/* reset requests per address, and
					 * reset mails per account */
};

static inline struct userd *userd_of(const struct http_req *req)
{
	return (struct userd *)req->app;
}

/* ---- migrations.c ---- */

extern const struct db_migration userd_migrations[];
extern const size_t userd_nmigrations;

/* ---- request.c: helpers every handler shares ---- */

/* Parses the body as a JSON object into *out (the caller's, cJSON_Delete).
 * On failure answers 400 "invalid_json" and returns -1. */
int request_body(struct http_req *req, cJSON **out);
/* Reads string field key of obj, [minlen, maxlen] bytes.  Returns 1 when
 * present, 0 when absent and not required, -1 after answering 400 with
 * `code` (a wrong type or a missing required field always answers
 * "invalid_field"). */
int request_string(struct http_req *req, const cJSON *obj, const char *key,
		   bool required, size_t minlen, size_t maxlen,
		   const char *code, const char **out);
/* Takes a store connection; answers 503 and returns -1 on failure. */
int request_db(struct http_req *req, struct db_conn **out);
/* Answers an unexpected failure rc (500, or 503 for a busy store) and
 * logs what failed. */
void request_fail(struct http_req *req, int rc, const char *what);
/* The client address: the last X-Forwarded-For entry (the one the gateway
 * added) when the request proved the internal secret, else the peer.
 * Printable ASCII only, truncated to outlen. */
void request_client_ip(struct http_req *req, char *out, size_t outlen);
/* The User-Agent as display-safe UTF-8 (text_clean: controls and bad
 * bytes become U+FFFD), cut to outlen - 1 bytes, at most
 * TEXT_USER_AGENT_MAX. */
void request_user_agent(struct http_req *req, char *out, size_t outlen);

/* ---- users.c: the users table ---- */

struct user {
	char id[UUID_STR_LEN];
	char username[USERD_USERNAME_MAX + 1];
	char password_hash[PWHASH_STR_LEN];
	char role[16];			/* "admin", "user", "guest" */
	bool disabled;
	char *display_name;		/* owned, NULL when unset */
	char *default_model;		/* owned, NULL when unset */
	char *system_prompt;		/* owned, NULL when unset */
	char *theme;			/* owned, NULL when unset */
	int64_t created_at;		/* unix ms */
	int64_t updated_at;		/* unix ms */
	char *email;			/* owned, NULL when unset */
	bool email_verified;		/* the owner proved they read it */
};

/* The column list users_from_row expects, in order. */
#define USERS_COLUMNS "id, username, password_hash, role, disabled, " \
	"display_name, default_model, system_prompt, theme, created_at, " \
	"updated_at, email, email_verified"

void users_release(struct user *u);
/* Fills out from row `row` of a result selected with USERS_COLUMNS. */
int users_from_row(const struct db_rows *r, size_t row, struct user *out);
/* The public JSON of u (never the password hash); NULL on ENOMEM. */
cJSON *users_to_json(const struct user *u);

/* True for 3-64 characters of [A-Za-z0-9._-]. */
bool users_username_valid(const char *s);
/* Lowercase copy of a valid username into out (65 bytes). */
void users_username_key(const char *s, char out[USERD_USERNAME_MAX + 1]);

/* CHAT_ENOTFOUND when there is no such user. */
int users_get_by_id(struct db_conn *c, const char *id, struct user *out);
int users_get_by_key(struct db_conn *c, const char *username_key,
		     struct user *out);
/*
 * Creates an account in one transaction: the first account becomes admin,
 * later ones "user".  CHAT_EPERM when !open and accounts exist,
 * CHAT_ECONFLICT when the username is taken.
 */
int users_register(struct userd *ud, struct db_conn *c, const char *username,
		   const char *password_hash, bool open, struct user *out);
/*
 * Changes role (NULL keeps it) and disabled (-1 keeps it) in one
 * transaction, with the events of what changed (actor: the admin's id,
 * in their data as "by").  CHAT_ENOTFOUND for an unknown id, CHAT_ECONFLICT when no
 * enabled admin would remain.  *was_disabled gets the previous state.
 */
int users_admin_update(struct userd *ud, struct db_conn *c, const char *id,
		       const char *role, int disabled, const char *actor,
		       bool *was_disabled, struct user *out);
/* Serialises changes to who is admin (inside a transaction). */
int users_lock_roles(struct userd *ud, struct db_conn *c);

/* ---- tokens.c: signing keys, access tokens, JWKS ---- */

/* Loads the signing keys, creating the first one when there is none. */
int tokens_init(struct userd *ud, char *err, size_t errlen);
void tokens_release(struct userd *ud);
/* A signed access token for user/session (session_id may be ""); the
 * caller frees *token. */
int tokens_issue(struct userd *ud, const char *user_id,
		 const char *session_id, const char *role, char **token);
void tokens_handle_jwks(struct http_req *req, struct http_res *res);

/* ---- sessions-client.c: calls to sessiond ---- */

/* sessiond's refusal, passed on to our client. */
struct sessions_error {
	int status;
	char code[64];
	char message[256];
};

/* A session and its current refresh token. */
struct sessions_grant {
	char session_id[64];
	char user_id[64];
	char refresh_token[128];
	int64_t expires_in_s;		/* the refresh token's lifetime left */
};

/* 0, or CHAT_EUPSTREAM when sessiond is down or answers nonsense. */
int sessions_create(struct userd *ud, const char *request_id,
		    const char *user_id, const char *user_agent,
		    const char *ip, struct sessions_grant *out);
/* 0; CHAT_EAUTH when sessiond refused the token (details in *err);
 * CHAT_EUPSTREAM when it is down. */
int sessions_refresh(struct userd *ud, const char *request_id,
		     const char *refresh_token, struct sessions_grant *out,
		     struct sessions_error *err);
/* The session refresh_token belongs to (used or not), into session_id
 * (len bytes); CHAT_ENOTFOUND when sessiond knows no such token,
 * CHAT_EUPSTREAM when it is down. */
int sessions_lookup(struct userd *ud, const char *request_id,
		    const char *refresh_token, char *session_id, size_t len);
/* 0 (also for a session sessiond does not know); CHAT_EUPSTREAM.
 * reason (sessiond's ?reason=, told in its chat.session.revoked event):
 * "logout" or "user_disabled". */
int sessions_revoke(struct userd *ud, const char *request_id,
		    const char *session_id, const char *reason);
/* Revokes every live session of user_id; 0 or CHAT_EUPSTREAM.  reason:
 * "user_disabled", "role_changed", "password_changed", "user_erased". */
int sessions_revoke_user(struct userd *ud, const char *request_id,
			 const char *user_id, const char *reason);
/* Revokes every live session of user_id but keep_session_id (a password
 * change), leaving the user's API keys alone; 0 or CHAT_EUPSTREAM. */
int sessions_revoke_others(struct userd *ud, const char *request_id,
			   const char *user_id, const char *keep_session_id);
/* Tells the gateways (through sessiond's revocation feed) that API key
 * key_id of user_id was revoked; 0 or CHAT_EUPSTREAM. */
int sessions_revoke_key(struct userd *ud, const char *request_id,
			const char *key_id, const char *user_id);

/* ---- email.c: addresses, codes and their mails ---- */

/* Sets (email non-NULL, valid) or removes user_id's address, unverified,
 * and ends every code of the user (they were for the old address).  An
 * autocommit write, or inside c's transaction.  Worker threads. */
int email_store(struct userd *ud, struct db_conn *c, const char *user_id,
		const char *email);
/* Mails u's unverified address a fresh verification code, unless another
 * account has verified that address (then nothing is sent, silently).
 * 0; CHAT_EBUSY with *retry_s when the account had its hourly
 * email_codes_per_hour; CHAT_EUPSTREAM when notifyd did not take the
 * mail.  Blocks: worker or hash-pool threads. */
int email_start_verification(struct userd *ud, const char *request_id,
			     const struct user *u, int64_t *retry_s);
/* Reads optional "email" of body: 1 with *email (NULL: remove) when
 * present, 0 when absent, -1 after answering 400.  allow_null: null
 * removes (PATCH); else only a string is accepted. */
int email_read(struct http_req *req, const cJSON *body, bool allow_null,
	       const char **email);
/* A new code of kind for user_id, to address key ekey, in c's open
 * transaction; the user's earlier live codes of that kind end. */
int email_code_create(struct userd *ud, struct db_conn *c,
		      const char *user_id, const char *kind,
		      const char *ekey, char code[CODE_LEN + 1]);
/* How many codes of kind user_id got since since_ms; the oldest one's
 * time in *oldest (for Retry-After). */
int email_code_count(struct db_conn *c, const char *user_id,
		     const char *kind, int64_t since_ms, int64_t *n,
		     int64_t *oldest);
/* Asks notifyd (POST /internal/mail) to send kind with code to `to`;
 * 0 once it queued it, CHAT_EUPSTREAM otherwise.  Blocks. */
int email_mail(struct userd *ud, const char *request_id,
	       const char *user_id, const char *to, const char *kind,
	       const char *code);

void email_handle_contact(struct http_req *req, struct http_res *res);
void email_handle_verify(struct http_req *req, struct http_res *res);
void email_handle_resend(struct http_req *req, struct http_res *res);

/* ---- reset.c: password reset by a mailed code ---- */

void reset_handle_request(struct http_req *req, struct http_res *res);
void reset_handle_confirm(struct http_req *req, struct http_res *res);

/* password.c: checks cur as u's password like a login (the login
 * throttle under u's username and the caller's address): 0 when right,
 * -1 after answering 401 or 429.  Blocks (argon2id). */
int password_check_current(struct http_req *req, const struct user *u,
			   const char *cur);

/* ---- handlers ---- */

/* auth.c: the registration rule for a password (8-1024 bytes of UTF-8),
 * also for a new one (password.c). */
bool auth_password_valid(const char *pw);
/* Answers 429 `code` with Retry-After: retry_s ("too many `what`"). */
void auth_answer_wait(struct http_res *res, const char *code,
		      const char *what, int64_t retry_s);

void auth_handle_register(struct http_req *req, struct http_res *res);
void auth_handle_login(struct http_req *req, struct http_res *res);
void auth_handle_refresh(struct http_req *req, struct http_res *res);
void auth_handle_logout(struct http_req *req, struct http_res *res);

void profile_handle_get(struct http_req *req, struct http_res *res);
void profile_handle_patch(struct http_req *req, struct http_res *res);

/* apikeys.c: the public JSON of row i of a result whose first columns are
 * id, name, prefix, created_at, last_used_at, scopes, expires_at (never
 * the hash); NULL on ENOMEM.  Also for the account export. */
cJSON *apikeys_row_json(const struct db_rows *r, size_t i);

void apikeys_handle_create(struct http_req *req, struct http_res *res);
void apikeys_handle_list(struct http_req *req, struct http_res *res);
void apikeys_handle_delete(struct http_req *req, struct http_res *res);
void apikeys_handle_verify(struct http_req *req, struct http_res *res);

void password_handle_change(struct http_req *req, struct http_res *res);
void export_handle_me(struct http_req *req, struct http_res *res);

/* ---- admin*.c: /v1/admin/users and /v1/admin/apikeys ---- */

/* 0 when the caller is an enabled admin in the store now (a token
 * outlives a demotion); otherwise answers 403 (or the store's failure)
 * and returns -1.  Worker threads. */
int admin_caller_current(struct http_req *req, struct db_conn *c);
/* The user named by ref: a user id (any case) or a username (any case;
 * tried when no user has ref as id); CHAT_ENOTFOUND when none. */
int admin_user_find(struct db_conn *c, const char *ref, struct user *out);
/* True for "admin", "user", "guest". */
bool admin_role_valid(const char *s);

void admin_handle_list(struct http_req *req, struct http_res *res);
void admin_handle_patch(struct http_req *req, struct http_res *res);
void admin_handle_get(struct http_req *req, struct http_res *res);
void admin_handle_create(struct http_req *req, struct http_res *res);
void admin_handle_password(struct http_req *req, struct http_res *res);
void admin_handle_delete(struct http_req *req, struct http_res *res);
void admin_handle_keys_list(struct http_req *req, struct http_res *res);
void admin_handle_keys_delete(struct http_req *req, struct http_res *res);

#endif
