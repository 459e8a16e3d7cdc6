/*
 * mail.h - notifyd's email channel (issue 15): rule notices and
 * userd's code mails, as multipart/alternative mails over SMTP.
 *
 * Files, one concern each:
 *   mail-msg.c     a message's bytes from its parts (pure: headers made
 *                  safe, RFC 2047 words, HTML escaping, base64 parts)
 *   mail-tmpl.c    the templates per kind, built in or DATA/templates/
 *   mail-config.c  the smtp.* keys and the password (never logged)
 *   mail-jobs.c    the mail_jobs table and the sender thread: attempts,
 *                  backoff, expiry of codes; survives a restart
 *   mail-send.c    one job: the user's contact from userd, the
 *                  template, the message, the SMTP module (chat-smtp.so)
 *   mail-unsub.c   signed unsubscribe tokens and their public route
 *   mail-api.c     POST /internal/mail, userd's code mails
 *
 * Without smtp.url the channel is off: no job is ever stored, the
 * internal route answers 503 and the log says so at start.
 */
#ifndef CHAT_NOTIFYD_MAIL_H
#define CHAT_NOTIFYD_MAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct daemon;
struct db_conn;
struct http_req;
struct http_res;
struct mailer;
struct notice;
struct smtp_curl_ops;

#define MAIL_ADDR_MAX 254		/* RFC 5321's path limit */
#define MAIL_MSG_MAX (1u << 20)		/* bytes of one built message */
#define MAIL_CODE_MAX 128		/* bytes of a code */
#define MAIL_CODE_TTL_MS (30 * 60 * 1000)	/* a code job's life */
#define MAIL_RETRY_CAP_MS (3600 * 1000)	/* the longest backoff */

/* --- mail-msg.c: a message from its parts (pure, any thread) --- */
struct mail_msg {
	const char *from;		/* addr-spec, mail_addr_valid */
	const char *to;			/* addr-spec, mail_addr_valid */
	const char *to_name;		/* display name, NULL or "": none */
	const char *subject;		/* UTF-8 */
	const char *text;		/* UTF-8, the text/plain part */
	const char *html;		/* UTF-8, the text/html part */
	const char *unsubscribe_url;	/* NULL: not unsubscribable */
	const char *message_id;		/* "<id@domain>" */
	const char *boundary;		/* the multipart boundary: [0-9a-z_=]
					 * only, unguessable */
	int64_t date_ms;		/* the Date header */
};

/* True for an address notifyd will put in a header and an envelope:
 * local@domain, printable ASCII without blanks, quotes, angle brackets,
 * commas or semicolons, one '@', at most MAIL_ADDR_MAX bytes. */
bool mail_addr_valid(const char *addr);
/* Appends s as header text: CR, LF and other controls become spaces,
 * invalid UTF-8 '?', and anything but plain printable ASCII (or a
 * "=?" that would read as an encoded word) becomes RFC 2047 "B" words
 * of whole characters, folded; plain text stays as it is. */
int mail_header_text(struct buf *out, const char *s);
/* Appends s with & < > " ' escaped for HTML text and attributes. */
int mail_html_escape(struct buf *out, const char *s);
/* The whole message (CRLF lines, base64 parts) into out (reset first).
 * CHAT_EINVAL for an address that is not valid, a boundary of the wrong
 * alphabet or a part that holds it; CHAT_ETOOBIG over MAIL_MSG_MAX;
 * CHAT_ENOMEM. */
int mail_msg_build(const struct mail_msg *m, struct buf *out);

/* --- mail-tmpl.c: texts per kind --- */
struct mail_var {
	const char *name;		/* "username" for {{username}} */
	const char *value;		/* UTF-8; NULL reads as "" */
};

/* The rendered mail of template name: malloc'd strings, the caller's
 * (free).  {{name}} takes the variable's value, escaped in the HTML;
 * an unknown {{x}} stays as it is.  A file DATA/templates/<name>.txt
 * (a first line "Subject: ..." sets the subject) or <name>.html
 * replaces the built-in part.  CHAT_ENOTFOUND for a name no built-in
 * has; CHAT_ETOOBIG, CHAT_ENOMEM, CHAT_EIO (a file that cannot be read). */
int mail_tmpl_render(const char *data_dir, const char *name,
		     const struct mail_var *vars, size_t nvars,
		     char **subject, char **text, char **html);
/* True when a built-in template of that name exists. */
bool mail_tmpl_exists(const char *name);

/* --- mail-config.c --- */
struct mail_config {
	char *url;			/* owned; NULL: the channel is off */
	bool starttls_required;
	char *ca_file;			/* owned, may be NULL */
	char *from;			/* owned */
	char *user;			/* owned, may be NULL */
	char *password;			/* owned, may be NULL; never logged */
	long timeout_ms;
	long retry_ms;			/* the first backoff */
	long attempts;			/* before a job is dropped */
	long idle_ms;			/* the sender thread without a
					 * job this long ends */
	char *public_url;		/* owned, no trailing '/' */
	unsigned char unsub_key[32];	/* HMAC key of unsubscribe tokens */
};

/* Reads the keys of d's config into cfg (cfg->url NULL when the
 * channel is off).  CHAT_EINVAL with err naming the key (never the
 * password) on a bad value or an unreadable password file. */
int mail_config_load(struct daemon *d, struct mail_config *cfg, char *err,
		     size_t errlen);
/* Frees the strings and wipes the password. */
void mail_config_release(struct mail_config *cfg);

/* --- mail-jobs.c: the jobs and the sender thread --- */
struct mail_job {
	char id[40];			/* UUIDv7 */
	char user_id[40];
	char kind[32];			/* a template name */
	char category[16];		/* "" for a code mail */
	char *rcpt;			/* owned; NULL: the user's verified
					 * address at send time */
	char *code;			/* owned; NULL for a notice */
	char *data;			/* owned; the notice's data (JSON) */
	int attempts;			/* made before this one */
};

/* Opens the mailer of d with cfg (taken over: released by
 * mailer_free); the sender thread starts when jobs wait, else at the
 * first kick.  With cfg->url NULL the mailer exists but is off
 * (mailer_on false) and starts no thread. */
int mailer_new(struct daemon *d, struct mail_config *cfg,
	       struct mailer **out, char *err, size_t errlen);
/* Stops the thread (a send in flight finishes) and frees. */
void mailer_free(struct mailer *m);
bool mailer_on(const struct mailer *m);
const struct mail_config *mailer_config(const struct mailer *m);
/* Wakes the sender thread, starting it when it is not running (it ends
 * after smtp.idle_ms with no job stored at all): a job was stored.  Any
 * thread but the event loop (it may create a thread). */
void mailer_kick(struct mailer *m);
/* Stores a job in c's open transaction (id, attempts ignored: a new
 * UUIDv7, 0); ttl_ms > 0 makes it expire (a code's life). */
int mail_job_put(struct db_conn *c, struct mail_job *job, int64_t ttl_ms);
void mail_job_release(struct mail_job *job);

/* --- mail-send.c: one attempt of one job --- */
enum mail_outcome {
	MAIL_SENT,			/* the server took it: remove */
	MAIL_DROP,			/* nothing to send (no verified
					 * address, the user is gone) */
	MAIL_RETRY,			/* failed: try again later */
};
enum mail_outcome mail_send_job(struct mailer *m, struct daemon *d,
				const struct mail_job *job);
/* The SMTP module's ops (loaded by mailer_new). */
const struct smtp_curl_ops *mailer_smtp(const struct mailer *m);

/* --- mail-unsub.c --- */
#define MAIL_TOKEN_MAX 192		/* bytes of a token, NUL included */
/* The token that unsubscribes user_id from category's mails; nonce (a
 * job id) makes it single-use. */
int mail_unsub_token(const struct mail_config *cfg, const char *user_id,
		     const char *category, const char *nonce,
		     char out[MAIL_TOKEN_MAX]);
void mail_unsub_handler(struct http_req *req, struct http_res *res);
void mail_unsub_page_handler(struct http_req *req, struct http_res *res);

/* --- mail-api.c --- */
void mail_api_handler(struct http_req *req, struct http_res *res);

#endif
