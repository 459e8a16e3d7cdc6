/*
 * request.c - what every userd handler does the same way: parse the body
 * or answer 400, read a typed field or answer 400, take a store
 * connection or answer 503, and read the caller's address and agent.
 */
#include "userd.h"

#include <stdio.h>
#include <string.h>

#include "db.h"
#include "err.h"
#include "json.h"
#include "log.h"
#include "text.h"
#include "banned.h"

int request_body(struct http_req *req, cJSON **out)
{
	/* \u0000 refused too: a password or name would be cut short */
	return daemon_body(req, out) < 0 ? -1 : 0;
}

int request_string(struct http_req *req, const cJSON *obj, const char *key,
		   bool required, size_t minlen, size_t maxlen,
		   const char *code, const char **out)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
	char err[160];

	if (!item) {
		if (!required)
			return 0;
		http_res_error(req->res, 400, "invalid_field",
			       "'%s' is required", key);
		return -1;
	}
	if (!cJSON_IsString(item) || !item->valuestring) {
		http_res_error(req->res, 400, "invalid_field",
			       "'%s' must be a string", key);
		return -1;
	}
	if (json_get_string(obj, key, true, minlen, maxlen, out, err,
			    sizeof(err)) < 0) {
		http_res_error(req->res, 400, code, "%s", err);
		return -1;
	}
	return 1;
}

int request_db(struct http_req *req, struct db_conn **out)
{
	return daemon_db(req, out) < 0 ? -1 : 0;
}

void request_fail(struct http_req *req, int rc, const char *what)
{
	if (rc == CHAT_EBUSY || rc == CHAT_ETIMEDOUT) {
		log_warn("%s: %s", what, chat_strerror(rc));
		http_res_error(req->res, 503, "busy",
			       "the service is busy, try again");
		return;
	}
	log_error("%s: %s", what, chat_strerror(rc));
	http_res_error(req->res, 500, "internal",
		       "internal error while %s", what);
}

/* Copies the printable ASCII of s[0..len) into out, others as '?'. */
static void request_copy_printable(const char *s, size_t len, char *out,
				   size_t outlen)
{
	size_t n = 0;

	if (outlen == 0)
		return;
	for (size_t i = 0; i < len && n + 1 < outlen; i++) {
		unsigned char ch = (unsigned char)s[i];
		out[n++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
	}
	out[n] = '\0';
}

void request_client_ip(struct http_req *req, char *out, size_t outlen)
{
	const char *xff = http_req_header(req, "X-Forwarded-For");
	const char *s = req->peer ? req->peer : "";
	size_t len;

	/* only the gateway's word counts: a client on loopback that calls
	 * userd directly must not choose the address stored for it */
	if (xff && *xff && req->internal) {
		const char *comma = strrchr(xff, ',');
		s = comma ? comma + 1 : xff;
	}
	while (*s == ' ' || *s == '\t')
		s++;
	len = strlen(s);
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	request_copy_printable(s, len, out, outlen);
}

void request_user_agent(struct http_req *req, char *out, size_t outlen)
{
	const char *ua = http_req_header(req, "User-Agent");

	if (!ua)
		ua = "";
	/* UTF-8 text without controls, as sessiond stores it: a browser's
	 * non-ASCII agent survives, an ESC sequence does not */
	if (outlen > TEXT_USER_AGENT_MAX + 1)
		outlen = TEXT_USER_AGENT_MAX + 1;
	text_clean(ua, strlen(ua), out, outlen);
}
