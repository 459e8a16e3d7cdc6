/*
 * creds.h - the credentials file shared by chatctl and chatui
 * ($XDG_CONFIG_HOME/chat/credentials): a login (server, username, token
 * pair) per server, one of them current (like kubectl's contexts),
 * written atomically with mode 0600, and a lock beside it under which a
 * refresh re-reads the file, so that two processes never spend one
 * single-use refresh token twice.
 *
 * A server's name is its URL's host[:port]; a server is picked by name or
 * by URL.  A file of the older form (one login) reads as one server, the
 * current one, and is rewritten in the new form by the next save.
 *
 * Every function returns 0 or a negative CHAT_E* code and prints nothing;
 * any thread may call them (no global state).
 */
#ifndef CHAT_CREDS_H
#define CHAT_CREDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A login as kept in the file. */
struct creds {
	char *server;			/* owned strings, NULL when absent */
	char *username;
	char *access_token;
	char *refresh_token;
	int64_t expires_at;		/* unix seconds */
};

/* Every login of the file: v[0..n) (owned), v[current] the current one,
 * current -1 when none is (after its logout). */
struct creds_set {
	struct creds *v;
	size_t n;
	long current;
};

/* $XDG_CONFIG_HOME/chat/credentials, or ~/.config/chat/credentials. */
int creds_default_path(char *out, size_t outlen);
/* The current login.  CHAT_ENOTFOUND when there is no file or no
 * current login, CHAT_EPARSE when it is not the expected JSON object.
 * On failure *c is left empty. */
int creds_load(const char *path, struct creds *c);
/* The login of server (a URL or a name); CHAT_ENOTFOUND when none. */
int creds_load_server(const char *path, const char *server,
		      struct creds *c);
/* Every login; an empty set (0) when there is no file. */
int creds_set_load(const char *path, struct creds_set *s);
void creds_set_release(struct creds_set *s);
/* The index in s of server (a URL, or a name), -1 when none. */
long creds_set_find(const struct creds_set *s, const char *server);
/* The name of a server URL, its host[:port], into out (cut to fit). */
void creds_name(const char *url, char *out, size_t outlen);
/* Makes the login of server (URL or name) the current one;
 * CHAT_ENOTFOUND when there is none. */
int creds_use(const char *path, const char *server);
/* Removes the login of server (a URL); the file goes with the last
 * one.  0 when there was none. */
int creds_forget(const char *path, const char *server);
/* The directory of the credentials file at path, when it exists, must be
 * writable by its owner only (anyone who can write it can swap the file
 * for their own server and tokens).  0: it is (or does not exist yet);
 * 1: it was writable by group or others and is now 0700 (dir gets its
 * name, for a warning); CHAT_EPERM: it is and cannot be made otherwise
 * (not ours): do not use it. */
int creds_secure_dir(const char *path, char *dir, size_t dirlen);
/* Stores c as the login of c->server, keeping the other servers' (and
 * which one is current; c becomes current when none is).  Writes the
 * file atomically (temporary file, fsync, rename), mode 0600, creating
 * its directory 0700.  A file that does not parse is replaced. */
int creds_save(const char *path, const struct creds *c);
/* Removes the whole file, every server's login. */
int creds_remove(const char *path);
/* Frees the strings (wiping the tokens) and empties *c. */
void creds_release(struct creds *c);
/* Takes an exclusive lock beside the file (path.lock) for a refresh
 * shared by several processes; returns the fd (>= 0) or CHAT_EIO. */
int creds_lock(const char *path);
void creds_unlock(int fd);

#endif
