/*
 * main.c - userd: accounts, passwords, roles, profiles, API keys, access
 * tokens and the JWKS.  The route table, the settings it reads, and the
 * start-up work (argon2id cost, dummy hash, signing keys).
 *
 * Settings:
 *   auth.argon2_ops       argon2id passes (libsodium INTERACTIVE)
 *   auth.argon2_mem_kib   argon2id memory in KiB (INTERACTIVE)
 *   userd.access_ttl_s    access token lifetime (900)
 *   userd.registration    open | closed (open; the first account is
 *                         always allowed)
 *   userd.login_lockout_s first lockout after repeated login failures
 *                         (30; doubles per further failure, up to 900)
 */
#include "userd.h"

#include <stdio.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "err.h"
#include "log.h"
#include "util.h"
#include "banned.h"

#define USERD_CRON_MS 60000

static const char *const registration_modes[] = { "open", "closed", NULL };

/* Reads the argon2id cost and sets it for the whole process. */
static int userd_init_pwhash(struct daemon *d, char *err, size_t errlen)
{
	long ops = 0, mem_kib = 0;
	int rc;

	rc = config_get_int(d->cfg, "auth.argon2_ops", 1, 64,
			    crypto_pwhash_OPSLIMIT_INTERACTIVE, &ops, err,
			    errlen);
	if (rc == 0)
		rc = config_get_int(d->cfg, "auth.argon2_mem_kib", 8,
				    4L * 1024 * 1024,
				    crypto_pwhash_MEMLIMIT_INTERACTIVE / 1024,
				    &mem_kib, err, errlen);
	if (rc < 0)
		return rc;
	pwhash_set_limits((unsigned long long)ops, (size_t)mem_kib * 1024);
	return 0;
}

/* A hash of a random password: unknown users are verified against it so
 * that they cost the same time as known ones. */
static int userd_init_dummy(struct userd *ud, char *err, size_t errlen)
{
	char pw[64];
	int rc = crypto_random_token("", 32, pw, sizeof(pw));

	if (rc == 0)
		rc = pwhash_hash(pw, strlen(pw), ud->dummy_hash);
	sodium_memzero(pw, sizeof(pw));
	if (rc < 0)
		snprintf(err, errlen, "cannot make the dummy password hash: %s",
			 chat_strerror(rc));
	return rc;
}

static int userd_init(struct daemon *d, char *err, size_t errlen)
{
	struct userd *ud = (struct userd *)d;
	const char *mode = NULL;
	long ttl = 0, lockout = 0;
	int rc;

	me_cache_init(&ud->me);
	rc = crypto_init();
	if (rc < 0) {
		snprintf(err, errlen, "cannot initialise libsodium");
		return rc;
	}
	rc = userd_init_pwhash(d, err, errlen);
	if (rc == 0)
		rc = config_get_int(d->cfg, "userd.access_ttl_s", 60, 86400,
				    900, &ttl, err, errlen);
	if (rc == 0)
		rc = config_get_enum(d->cfg, "userd.registration",
				     registration_modes, "open", &mode, err,
				     errlen);
	if (rc == 0)
		rc = config_get_int(d->cfg, "userd.login_lockout_s", 1, 900,
				    30, &lockout, err, errlen);
	if (rc < 0)
		return rc;
	ud->access_ttl_s = ttl;
	ud->registration_open = strcmp(mode, "open") == 0;
	ud->pg = strcmp(db_backend(d->db), "postgres") == 0;

	rc = daemon_peer_url(d, "sessiond", ud->sessiond_url,
			     sizeof(ud->sessiond_url));
	if (rc < 0) {
		snprintf(err, errlen, "cannot find the address of 'sessiond'");
		return rc;
	}
	rc = userd_init_dummy(ud, err, errlen);
	if (rc < 0)
		return rc;
	rc = throttle_init(&ud->throttle, lockout);
	if (rc < 0) {
		snprintf(err, errlen, "cannot set up the login throttle");
		return rc;
	}
	return tokens_init(ud, err, errlen);
}

static void userd_release(struct daemon *d)
{
	struct userd *ud = (struct userd *)d;

	tokens_release(ud);
	throttle_release(&ud->throttle);
	me_cache_release(&ud->me);
}

static void userd_cron(void *app)
{
	struct userd *ud = app;

	throttle_prune(&ud->throttle, now_ms());
	me_cache_prune(&ud->me, mono_ms());
}

static const struct http_route userd_routes[] = {
	{ "GET", "/healthz", HTTP_PERM_PUBLIC, daemon_healthz,
	  HTTP_ROUTE_ON_LOOP },
	{ "GET", "/readyz", HTTP_PERM_PUBLIC, daemon_readyz, 0 },
	{ "GET", "/.well-known/jwks.json", HTTP_PERM_PUBLIC,
	  tokens_handle_jwks, HTTP_ROUTE_ON_LOOP },
	{ "POST", "/v1/auth/register", HTTP_PERM_PUBLIC,
	  auth_handle_register, 0 },
	{ "POST", "/v1/auth/login", HTTP_PERM_PUBLIC, auth_handle_login, 0 },
	{ "POST", "/v1/auth/refresh", HTTP_PERM_PUBLIC, auth_handle_refresh,
	  0 },
	{ "POST", "/v1/auth/logout", HTTP_PERM_GUEST, auth_handle_logout, 0 },
	{ "GET", "/v1/users/me", HTTP_PERM_GUEST, profile_handle_get,
	  HTTP_ROUTE_ON_LOOP },
	{ "PATCH", "/v1/users/me", HTTP_PERM_GUEST, profile_handle_patch, 0 },
	/* keys are managed from a signed-in session, never with a key */
	{ "POST", "/v1/apikeys", HTTP_PERM_USER, apikeys_handle_create,
	  HTTP_ROUTE_SESSION },
	{ "GET", "/v1/apikeys", HTTP_PERM_USER, apikeys_handle_list,
	  HTTP_ROUTE_SESSION },
	{ "DELETE", "/v1/apikeys/{id}", HTTP_PERM_USER,
	  apikeys_handle_delete, HTTP_ROUTE_SESSION },
	{ "GET", "/v1/admin/users", HTTP_PERM_ADMIN, admin_handle_list, 0 },
	{ "PATCH", "/v1/admin/users/{id}", HTTP_PERM_ADMIN,
	  admin_handle_patch, 0 },
	{ "POST", "/internal/apikeys/verify", HTTP_PERM_INTERNAL,
	  apikeys_handle_verify, 0 },
};

static const struct daemon_spec userd_spec = {
	.name = "userd",
	.port_offset = 1,
	.routes = userd_routes,
	.nroutes = sizeof(userd_routes) / sizeof(userd_routes[0]),
	.migrations = userd_migrations,
	.app_size = sizeof(struct userd),
	.init = userd_init,
	.release = userd_release,
	.cron = userd_cron,
	.cron_ms = USERD_CRON_MS,
};

int main(int argc, char **argv)
{
	struct daemon_spec spec = userd_spec;

	/* userd_nmigrations is not a constant expression */
	spec.nmigrations = userd_nmigrations;
	return daemon_main(argc, argv, &spec);
}
