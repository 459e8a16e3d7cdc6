/*
 * mail-unsub.c - one-click unsubscribe (RFC 8058) from a category's
 * mails: the signed token a mail's List-Unsubscribe URL carries, and
 * the public route it is POSTed to,
 * POST /v1/notifications/unsubscribe?token=TOKEN (through gatewayd, no
 * sign-in: the token is the credential), which switches the email
 * channel of that user's category off.
 *
 * A token is "USER.CATEGORY.NONCE.MAC": the MAC is HMAC-SHA256, keyed
 * from the internal secret (mail-config.c), of the three before it, so
 * a token names one user and one category and cannot be made for
 * another; the nonce is the mail's job id, recorded when the token is
 * used (mail_unsubscribed), so each token works once.  Security mails
 * carry no token and a token for a locked category is refused.
 *
 * GET of the same URL shows a page with the button that POSTs: a link
 * scanner that follows every link in a mail unsubscribes nobody.  The
 * token of an erased account is refused like a forged one: it would
 * store a preference of someone notifyd must hold nothing of.
 */
#include "mail.h"
#include "notifyd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "b64url.h"
#include "err.h"
#include "log.h"
#include "util.h"
#include "uuid.h"
#include "banned.h"

#define UNSUB_MAC_B64 B64URL_ENCODED_SIZE(crypto_auth_hmacsha256_BYTES)

static const char sql_unsub_erased[] =
	"SELECT 1 FROM erased WHERE user_id = $1";
static const char sql_unsub_use[] =
	"INSERT INTO mail_unsubscribed (nonce, user_id, category, used_ms)"
	" VALUES ($1, $2, $3, $4) ON CONFLICT (nonce) DO NOTHING";

/* The MAC of "user.category.nonce", base64url, into out. */
static int unsub_mac(const struct mail_config *cfg, const char *signed_part,
		     size_t len, char out[UNSUB_MAC_B64])
{
	unsigned char mac[crypto_auth_hmacsha256_BYTES];

	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, cfg->unsub_key,
				    sizeof(cfg->unsub_key));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)signed_part,
				      len);
	crypto_auth_hmacsha256_final(&st, mac);
	return b64url_encode(mac, sizeof(mac), out, UNSUB_MAC_B64);
}

int mail_unsub_token(const struct mail_config *cfg, const char *user_id,
		     const char *category, const char *nonce,
		     char out[MAIL_TOKEN_MAX])
{
	char mac[UNSUB_MAC_B64];
	int n, rc;

	n = snprintf(out, MAIL_TOKEN_MAX, "%s.%s.%s", user_id, category,
		     nonce);
	if (n < 0 || (size_t)n + UNSUB_MAC_B64 + 1 > MAIL_TOKEN_MAX)
		return CHAT_ETOOBIG;
	rc = unsub_mac(cfg, out, (size_t)n, mac);
	if (rc == 0)
		snprintf(out + n, MAIL_TOKEN_MAX - (size_t)n, ".%s", mac);
	return rc;
}

/* Splits and checks token: its user, category and nonce into the
 * buffers.  false for anything but a token this notifyd signed. */
static bool unsub_parse(const struct mail_config *cfg, char *token,
			char user_id[UUID_STR_LEN],
			const struct notify_category **cat, char **nonce)
{
	char *dot[3], *p = token, mac[UNSUB_MAC_B64];
	size_t i;

	for (i = 0; i < 3; i++) {
		dot[i] = strchr(p, '.');
		if (!dot[i])
			return false;
		p = dot[i] + 1;
	}
	if (strchr(p, '.') || strlen(p) != UNSUB_MAC_B64 - 1 ||
	    unsub_mac(cfg, token, (size_t)(dot[2] - token), mac) < 0 ||
	    sodium_memcmp(mac, p, UNSUB_MAC_B64 - 1) != 0)
		return false;
	*dot[0] = *dot[1] = *dot[2] = '\0';
	*cat = notify_category_find(dot[0] + 1);
	*nonce = dot[1] + 1;
	return uuid_norm(token, user_id) && *cat && !(*cat)->locked &&
	       uuid_valid(*nonce);
}

/* Whether user_id was erased (chat.user.deleted). */
static int unsub_erased(struct db_conn *c, const char *user_id, bool *yes)
{
	struct db_rows *r = NULL;
	struct db_param p[1] = { db_p_text(user_id) };
	int rc = db_query(c, sql_unsub_erased, p, 1, &r);

	*yes = rc == 0 && db_rows_count(r) > 0;
	db_rows_free(r);
	return rc;
}

void mail_unsub_handler(struct http_req *req, struct http_res *res)
{
	struct notifyd *nd = req->app;
	const struct notify_category *cat = NULL;
	char token[MAIL_TOKEN_MAX], user_id[UUID_STR_LEN];
	struct db_conn *c = NULL;
	struct db_param p[4];
	unsigned mask = 0;
	int64_t added = 0;
	bool erased = false;
	char *nonce = NULL;
	cJSON *out = NULL;
	int rc;

	if (!nd->mailer || !mailer_on(nd->mailer) ||
	    http_req_query(req, "token", token, sizeof(token)) < 0 ||
	    !unsub_parse(mailer_config(nd->mailer), token, user_id, &cat,
			 &nonce)) {
		http_res_error(res, 400, "invalid_token",
			       "the unsubscribe link is not valid");
		return;
	}
	if (daemon_db(req, &c) < 0)
		return;
	p[0] = db_p_text(nonce);
	p[1] = db_p_text(user_id);
	p[2] = db_p_text(cat->name);
	p[3] = DB_P_INT(now_ms());
	rc = db_begin(c);
	if (rc == 0)
		rc = unsub_erased(c, user_id, &erased);
	if (rc == 0 && erased) {
		http_res_error(res, 400, "invalid_token",
			       "the unsubscribe link is not valid");
		goto out;
	}
	if (rc == 0)
		rc = db_exec(c, sql_unsub_use, p, 4, &added);
	if (rc == 0 && added == 0) {
		http_res_error(res, 410, "token_used", "this unsubscribe link "
			       "was used already");
		goto out;
	}
	if (rc == 0)
		rc = prefs_channels(c, user_id, cat, &mask);
	if (rc == 0)
		rc = prefs_store(c, user_id, cat, mask & ~(unsigned)NOTIFY_EMAIL);
	if (rc == 0)
		rc = db_commit(c);
	if (rc < 0) {
		http_res_chat_error(res, rc, "cannot store the preference");
		goto out;
	}
	log_info("user '%s' unsubscribed from '%s' mails", user_id,
		 cat->name);
	out = cJSON_CreateObject();
	if (!out || !cJSON_AddStringToObject(out, "category", cat->name) ||
	    !cJSON_AddBoolToObject(out, "email", false)) {
		cJSON_Delete(out);
		http_res_chat_error(res, CHAT_ENOMEM, "out of memory");
		goto out;
	}
	http_res_json(res, 200, out);
out:
	db_release(c);
}

void mail_unsub_page_handler(struct http_req *req, struct http_res *res)
{
	char token[MAIL_TOKEN_MAX];
	struct buf b;
	char *page;
	int rc;

	buf_init(&b, 16384);
	if (http_req_query(req, "token", token, sizeof(token)) < 0) {
		http_res_error(res, 400, "invalid_token",
			       "the unsubscribe link is not valid");
		return;
	}
	rc = buf_puts(&b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8"
		      "\"><title>Unsubscribe</title></head><body>\n"
		      "<form method=\"post\" action=\"/v1/notifications/"
		      "unsubscribe?token=");
	if (rc == 0)
		rc = mail_html_escape(&b, token);
	if (rc == 0)
		rc = buf_puts(&b, "\"><p>Stop these mails?</p>\n<button "
			      "type=\"submit\">Unsubscribe</button></form>\n"
			      "</body></html>\n");
	if (rc == 0)
		rc = buf_append(&b, "", 1);
	page = rc == 0 ? buf_detach(&b, NULL) : NULL;
	buf_release(&b);
	if (!page) {
		http_res_chat_error(res, rc < 0 ? rc : CHAT_ENOMEM,
				    "cannot make the page");
		return;
	}
	http_res_send(res, 200, "text/html; charset=utf-8", page,
		      strlen(page));
}
