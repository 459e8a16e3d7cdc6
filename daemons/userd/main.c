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
 *   userd.login_free_failures       failures of one (username, address)
 *                                   pair before logins wait (5)
 *   userd.login_address_free_failures  failures of one address, any
 *                                   usernames, before logins wait (20)
 *   userd.login_delay_ms            the first wait (1000); doubles per
 *                                   further failure
 *   userd.login_delay_max_s         the longest wait (900)
 *   userd.register_per_hour         registrations per address (10)
 *   userd.hash_workers              threads hashing passwords of anonymous
 *                                   callers (half the cores, at least 1)
 *   userd.hash_queue                how many may wait for them (8); more
 *                                   get 503
 *   userd.code_ttl_s                a mailed code's lifetime (1800)
 *   userd.code_attempts             tries of a verification code (5)
 *   userd.email_codes_per_hour      verification mails per account (5)
 *   userd.reset_per_hour            reset requests per address, and
 *                                   reset mails per account (5)
 */
#include "userd.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "daemon-keys.h"
#include "db.h"
#include "err.h"
#include "log.h"
#include "pool.h"
#include "util.h"
#include "banned.h"

#define USERD_CRON_MS 60000

/* Reads the argon2id cost and sets it for the whole process. */
static int userd_init_pwhash(struct daemon *d, char *err, size_t errlen)
{
	/* the defaults are libsodium's; the bounds: daemon_keys_userd */
	long ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
	long mem_kib = crypto_pwhash_MEMLIMIT_INTERACTIVE / 1024;
	int rc;

	rc = config_key_int(d->cfg, "auth.argon2_ops", &ops, err, errlen);
	if (rc == 0)
		rc = config_key_int(d->cfg, "auth.argon2_mem_kib", &mem_kib,
				    err, errlen);
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

/* The throttle's and the hash pool's settings, in this order. */
enum {
	USERD_PAIR_FREE, USERD_ADDR_FREE, USERD_DELAY_MS, USERD_DELAY_MAX_S,
	USERD_REGISTER_PER_HOUR, USERD_HASH_WORKERS, USERD_HASH_QUEUE,
	USERD_NLIMITS,
};

/* Their keys; bounds and defaults are in daemon_keys_userd. */
static const char *const userd_limits[USERD_NLIMITS] = {
	[USERD_PAIR_FREE] = "userd.login_free_failures",
	[USERD_ADDR_FREE] = "userd.login_address_free_failures",
	[USERD_DELAY_MS] = "userd.login_delay_ms",
	[USERD_DELAY_MAX_S] = "userd.login_delay_max_s",
	[USERD_REGISTER_PER_HOUR] = "userd.register_per_hour",
	[USERD_HASH_WORKERS] = "userd.hash_workers",
	[USERD_HASH_QUEUE] = "userd.hash_queue",
};

/* The mailed codes' settings; bounds and defaults in daemon_keys_userd. */
static int userd_init_codes(struct userd *ud, char *err, size_t errlen)
{
	static const char *const keys[] = {
		"userd.code_ttl_s", "userd.code_attempts",
		"userd.email_codes_per_hour", "userd.reset_per_hour",
	};
	long v[4] = { 0 };
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < 4; i++)
		rc = config_key_int(ud->d.cfg, keys[i], &v[i], err, errlen);
	if (rc < 0)
		return rc;
	ud->code_ttl_ms = (int64_t)v[0] * 1000;
	ud->code_attempts = (int)v[1];
	ud->email_codes_per_hour = (int)v[2];
	ud->reset_per_hour = (int)v[3];
	rc = daemon_peer_url(&ud->d, "notifyd", ud->notifyd_url,
			     sizeof(ud->notifyd_url));
	if (rc < 0)
		snprintf(err, errlen, "cannot find the address of 'notifyd'");
	return rc;
}

/* Half the cores, at least one: anonymous hashing never takes them all. */
static long userd_default_hash_workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN) / 2;

	return n < 1 ? 1 : n;
}

/* Reads the throttle's and the hash pool's settings, and sets both up. */
static int userd_init_limits(struct userd *ud, char *err, size_t errlen)
{
	struct throttle_settings ts;
	long v[USERD_NLIMITS];
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < USERD_NLIMITS; i++) {
		/* the one default computed here */
		v[i] = i == USERD_HASH_WORKERS ? userd_default_hash_workers()
					       : 0;
		rc = config_key_int(ud->d.cfg, userd_limits[i], &v[i], err,
				    errlen);
	}
	if (rc < 0)
		return rc;
	ts = (struct throttle_settings){
		.pair_free = (int)v[USERD_PAIR_FREE],
		.addr_free = (int)v[USERD_ADDR_FREE],
		.base_ms = v[USERD_DELAY_MS],
		.cap_ms = (int64_t)v[USERD_DELAY_MAX_S] * 1000,
		.register_per_hour = (int)v[USERD_REGISTER_PER_HOUR],
	};
	rc = throttle_init(&ud->throttle, &ts);
	if (rc < 0) {
		snprintf(err, errlen, "cannot set up the login throttle");
		return rc;
	}
	rc = pool_new((int)v[USERD_HASH_WORKERS], (int)v[USERD_HASH_QUEUE],
		      &ud->hash_pool);
	if (rc < 0)
		snprintf(err, errlen, "cannot start the password hash threads");
	return rc;
}

static int userd_init(struct daemon *d, char *err, size_t errlen)
{
	struct userd *ud = (struct userd *)d;
	const char *mode = "open";
	long ttl = 0;
	int rc;

	me_cache_init(&ud->me);
	rc = crypto_init();
	if (rc < 0) {
		snprintf(err, errlen, "cannot initialise libsodium");
		return rc;
	}
	rc = userd_init_pwhash(d, err, errlen);
	if (rc == 0)
		rc = config_key_int(d->cfg, "userd.access_ttl_s", &ttl, err,
				    errlen);
	if (rc == 0)
		rc = config_key_enum(d->cfg, "userd.registration", &mode, err,
				     errlen);
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
	rc = userd_init_limits(ud, err, errlen);
	if (rc < 0)
		return rc;
	rc = userd_init_codes(ud, err, errlen);
	if (rc < 0)
		return rc;
	rc = tokens_init(ud, err, errlen);
	if (rc < 0)
		return rc;
	rc = user_events_init(ud);
	if (rc < 0)
		snprintf(err, errlen, "cannot set up the login events' queue");
	return rc;
}

static void userd_release(struct daemon *d)
{
	struct userd *ud = (struct userd *)d;

	/* the queued logins still answer: before anything they use goes */
	pool_free(ud->hash_pool);
	ud->hash_pool = NULL;
	/* their login events, queued until now */
	user_events_release(ud);
	tokens_release(ud);
	throttle_release(&ud->throttle);
	me_cache_release(&ud->me);
}

static void userd_cron(void *app)
{
	struct userd *ud = app;

	throttle_prune(&ud->throttle, mono_ms());
	me_cache_prune(&ud->me, mono_ms());
}

static const struct http_route userd_routes[] = {
	{ "GET", "/healthz", HTTP_PERM_PUBLIC, daemon_healthz,
	  HTTP_ROUTE_ON_LOOP },
	{ "GET", "/readyz", HTTP_PERM_PUBLIC, daemon_readyz, 0 },
	{ "GET", "/.well-known/jwks.json", HTTP_PERM_PUBLIC,
	  tokens_handle_jwks, HTTP_ROUTE_ON_LOOP },
	/* on the loop: they hand their hashing to ud->hash_pool */
	{ "POST", "/v1/auth/register", HTTP_PERM_PUBLIC,
	  auth_handle_register, HTTP_ROUTE_ON_LOOP },
	{ "POST", "/v1/auth/login", HTTP_PERM_PUBLIC, auth_handle_login,
	  HTTP_ROUTE_ON_LOOP },
	{ "POST", "/v1/auth/refresh", HTTP_PERM_PUBLIC, auth_handle_refresh,
	  0 },
	/* the same answer for any address: the work follows it */
	{ "POST", "/v1/auth/password-reset", HTTP_PERM_PUBLIC,
	  reset_handle_request, 0 },
	/* on the loop: the new password's hashing goes to ud->hash_pool */
	{ "POST", "/v1/auth/password-reset/confirm", HTTP_PERM_PUBLIC,
	  reset_handle_confirm, HTTP_ROUTE_ON_LOOP },
	/* public: a browser may show only its refresh cookie */
	{ "POST", "/v1/auth/logout", HTTP_PERM_PUBLIC, auth_handle_logout, 0 },
	{ "GET", "/v1/users/me", HTTP_PERM_GUEST, profile_handle_get,
	  HTTP_ROUTE_ON_LOOP },
	{ "PATCH", "/v1/users/me", HTTP_PERM_GUEST, profile_handle_patch, 0 },
	/* a session only: a key must not take over the account, and the
	 * export holds the sessions, which keys may not read */
	{ "POST", "/v1/users/me/password", HTTP_PERM_GUEST,
	  password_handle_change, HTTP_ROUTE_SESSION },
	{ "GET", "/v1/users/me/export", HTTP_PERM_GUEST, export_handle_me,
	  HTTP_ROUTE_SESSION },
	{ "POST", "/v1/users/me/email/verify", HTTP_PERM_GUEST,
	  email_handle_verify, 0 },
	{ "POST", "/v1/users/me/email/verify/resend", HTTP_PERM_GUEST,
	  email_handle_resend, 0 },
	/* keys are managed from a signed-in session, never with a key */
	{ "POST", "/v1/apikeys", HTTP_PERM_USER, apikeys_handle_create,
	  HTTP_ROUTE_SESSION },
	{ "GET", "/v1/apikeys", HTTP_PERM_USER, apikeys_handle_list,
	  HTTP_ROUTE_SESSION },
	{ "DELETE", "/v1/apikeys/{id}", HTTP_PERM_USER,
	  apikeys_handle_delete, HTTP_ROUTE_SESSION },
	{ "GET", "/v1/admin/users", HTTP_PERM_ADMIN, admin_handle_list, 0 },
	{ "POST", "/v1/admin/users", HTTP_PERM_ADMIN, admin_handle_create,
	  0 },
	/* {id}: a user id or a username */
	{ "GET", "/v1/admin/users/{id}", HTTP_PERM_ADMIN, admin_handle_get,
	  0 },
	{ "PATCH", "/v1/admin/users/{id}", HTTP_PERM_ADMIN,
	  admin_handle_patch, 0 },
	{ "DELETE", "/v1/admin/users/{id}", HTTP_PERM_ADMIN,
	  admin_handle_delete, 0 },
	{ "PUT", "/v1/admin/users/{id}/password", HTTP_PERM_ADMIN,
	  admin_handle_password, 0 },
	{ "GET", "/v1/admin/apikeys", HTTP_PERM_ADMIN, admin_handle_keys_list,
	  0 },
	{ "DELETE", "/v1/admin/apikeys/{id}", HTTP_PERM_ADMIN,
	  admin_handle_keys_delete, 0 },
	{ "POST", "/internal/apikeys/verify", HTTP_PERM_INTERNAL,
	  apikeys_handle_verify, 0 },
	/* notifyd: whom to mail, and whether it may (verified) */
	{ "GET", "/internal/users/{id}/contact", HTTP_PERM_INTERNAL,
	  email_handle_contact, 0 },
};

static const struct daemon_spec userd_spec = {
	.name = "userd",
	.keys = daemon_keys_userd,
	.routes = userd_routes,
	.nroutes = sizeof(userd_routes) / sizeof(userd_routes[0]),
	.migrations = userd_migrations,
	.app_size = sizeof(struct userd),
	.init = userd_init,
	.release = userd_release,
	.cron = userd_cron,
	.cron_ms = USERD_CRON_MS,
	.events = 1,
};

int main(int argc, char **argv)
{
	struct daemon_spec spec = userd_spec;

	/* userd_nmigrations is not a constant expression */
	spec.nmigrations = userd_nmigrations;
	return daemon_main(argc, argv, &spec);
}
