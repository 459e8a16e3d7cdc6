/*
 * tokens.c - the Ed25519 signing keys, access tokens and the JWKS.
 *
 * The keys live in signing_keys (base64url); all of them are loaded at
 * start into ud->keys, oldest first, and the newest signs.  Older keys
 * stay in the JWKS so tokens they signed keep verifying until they
 * expire.  The first key is made at the first start, under the role lock
 * so that two processes starting at once agree on one key.
 */
#include "userd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64url.h"
#include "db.h"
#include "err.h"
#include "log.h"
#include "util.h"
#include "banned.h"

/* Decodes a base64url column into exactly n bytes. */
static int tokens_decode(const char *text, unsigned char *out, size_t n)
{
	size_t written = 0;
	int rc;

	if (!text)
		return CHAT_EPARSE;
	rc = b64url_decode(text, strlen(text), out, n, &written);
	if (rc < 0)
		return rc;
	return written == n ? 0 : CHAT_EPARSE;
}

/* Loads every stored key into ud->keys, oldest first. */
static int tokens_load(struct userd *ud, struct db_conn *c, char *err,
		       size_t errlen)
{
	struct db_rows *r = NULL;
	struct jwt_key key;
	int rc;

	rc = db_query(c,
		      "SELECT kid, public_key, secret_key FROM signing_keys"
		      " ORDER BY created_at, kid",
		      NULL, 0, &r);
	if (rc < 0) {
		snprintf(err, errlen, "cannot read 'signing_keys': %s",
			 chat_strerror(rc));
		goto out;
	}
	for (size_t i = 0; i < db_rows_count(r); i++) {
		const char *kid = db_rows_get(r, i, 0);
		memset(&key, 0, sizeof(key));
		if (!kid || strlen(kid) >= sizeof(key.kid)) {
			rc = CHAT_EPARSE;
		} else {
			memcpy(key.kid, kid, strlen(kid) + 1);
			rc = tokens_decode(db_rows_get(r, i, 1), key.pk,
					   sizeof(key.pk));
		}
		if (rc == 0)
			rc = tokens_decode(db_rows_get(r, i, 2), key.sk,
					   sizeof(key.sk));
		if (rc < 0) {
			snprintf(err, errlen, "signing key '%s' is corrupt",
				 kid ? kid : "");
			goto out;
		}
		key.has_sk = 1;
		rc = jwt_keyset_add(&ud->keys, &key);
		if (rc < 0) {
			snprintf(err, errlen, "cannot load signing keys: %s",
				 chat_strerror(rc));
			goto out;
		}
	}
out:
	sodium_memzero(&key, sizeof(key));
	db_rows_free(r);
	return rc;
}

/* Makes and stores the first key unless another process just did. */
static int tokens_create_first(struct userd *ud, struct db_conn *c,
			       char *err, size_t errlen)
{
	char pk[B64URL_ENCODED_SIZE(crypto_sign_PUBLICKEYBYTES)];
	char sk[B64URL_ENCODED_SIZE(crypto_sign_SECRETKEYBYTES)];
	struct db_rows *r = NULL;
	struct jwt_key key;
	int rc;

	rc = jwt_key_generate(&key);
	if (rc == 0)
		rc = b64url_encode(key.pk, sizeof(key.pk), pk, sizeof(pk));
	if (rc == 0)
		rc = b64url_encode(key.sk, sizeof(key.sk), sk, sizeof(sk));
	if (rc < 0) {
		snprintf(err, errlen, "cannot make a signing key: %s",
			 chat_strerror(rc));
		goto done;
	}
	rc = db_begin(c);
	if (rc < 0)
		goto fail;
	rc = users_lock_roles(ud, c);
	if (rc == 0)
		rc = db_query(c, "SELECT kid FROM signing_keys LIMIT 1", NULL,
			      0, &r);
	if (rc == 0 && db_rows_count(r) == 0)
		rc = db_exec(c,
			     "INSERT INTO signing_keys (kid, public_key,"
			     " secret_key, created_at) VALUES ($1, $2, $3, $4)",
			     (struct db_param[]){ db_p_text(key.kid),
						  db_p_text(pk), db_p_text(sk),
						  DB_P_INT(now_ms()) },
			     4, NULL);
	if (rc == 0)
		rc = db_commit(c);
	if (rc == 0) {
		log_info("made signing key '%s'", key.kid);
		goto done;
	}
	db_rollback(c);
fail:
	snprintf(err, errlen, "cannot store a signing key: %s",
		 chat_strerror(rc));
done:
	db_rows_free(r);
	sodium_memzero(&key, sizeof(key));
	sodium_memzero(sk, sizeof(sk));
	return rc;
}

int tokens_init(struct userd *ud, char *err, size_t errlen)
{
	struct db_conn *c = NULL;
	int rc;

	rc = db_acquire(ud->d.db, USERD_DB_WAIT_MS, &c);
	if (rc < 0) {
		snprintf(err, errlen, "cannot reach the store: %s",
			 chat_strerror(rc));
		return rc;
	}
	rc = tokens_load(ud, c, err, errlen);
	if (rc == 0 && ud->keys.n == 0) {
		rc = tokens_create_first(ud, c, err, errlen);
		if (rc == 0)
			rc = tokens_load(ud, c, err, errlen);
	}
	db_release(c);
	if (rc < 0)
		return rc;
	if (ud->keys.n == 0) {
		snprintf(err, errlen, "no signing key in 'signing_keys'");
		return CHAT_ECRYPTO;
	}
	ud->signer = &ud->keys.keys[ud->keys.n - 1];
	ud->jwks = jwt_keyset_to_jwks(&ud->keys);
	if (!ud->jwks) {
		snprintf(err, errlen, "cannot build the JWKS");
		return CHAT_ENOMEM;
	}
	return 0;
}

void tokens_release(struct userd *ud)
{
	free(ud->jwks);
	ud->jwks = NULL;
	ud->signer = NULL;
	if (ud->keys.keys)
		sodium_memzero(ud->keys.keys,
			       ud->keys.n * sizeof(*ud->keys.keys));
	jwt_keyset_release(&ud->keys);
}

/* Copies s into a claims field; CHAT_EINVAL when it does not fit. */
static int tokens_claim(char *dst, size_t dstlen, const char *s)
{
	size_t len = strlen(s);

	if (len >= dstlen)
		return CHAT_EINVAL;
	memcpy(dst, s, len + 1);
	return 0;
}

int tokens_issue(struct userd *ud, const char *user_id,
		 const char *session_id, const char *role, char **token)
{
	struct jwt_claims cl;
	int rc;

	memset(&cl, 0, sizeof(cl));
	*token = NULL;
	rc = tokens_claim(cl.sub, sizeof(cl.sub), user_id);
	if (rc == 0)
		rc = tokens_claim(cl.sid, sizeof(cl.sid), session_id);
	if (rc == 0)
		rc = tokens_claim(cl.role, sizeof(cl.role), role);
	if (rc == 0)
		rc = tokens_claim(cl.typ, sizeof(cl.typ), "access");
	if (rc == 0) {
		char jti[UUID_STR_LEN];
		rc = uuid_v7(jti);
		if (rc == 0)
			rc = tokens_claim(cl.jti, sizeof(cl.jti), jti);
	}
	if (rc < 0)
		return rc;
	cl.iat = now_ms() / 1000;
	cl.exp = cl.iat + ud->access_ttl_s;
	return jwt_sign(ud->signer, &cl, token);
}

void tokens_handle_jwks(struct http_req *req, struct http_res *res)
{
	struct userd *ud = userd_of(req);
	char *body = strdup(ud->jwks);

	if (!body) {
		http_res_error(res, 500, "internal", "out of memory");
		return;
	}
	http_res_header(res, "Cache-Control", "public, max-age=300");
	http_res_send(res, 200, "application/json", body, strlen(body));
}
