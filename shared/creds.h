/*
 * creds.h - the credentials file shared by chatctl and chatui
 * ($XDG_CONFIG_HOME/chat/credentials): one login (server, username, token
 * pair), written atomically with mode 0600, and a lock beside it under
 * which a refresh re-reads the file, so that two processes never spend
 * one single-use refresh token twice.
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

/* $XDG_CONFIG_HOME/chat/credentials, or ~/.config/chat/credentials. */
int creds_default_path(char *out, size_t outlen);
/* CHAT_ENOTFOUND when there is no file, CHAT_EPARSE when it is not
 * the expected JSON object.  On failure *c is left empty. */
int creds_load(const char *path, struct creds *c);
/* The directory of the credentials file at path, when it exists, must be
 * writable by its owner only (anyone who can write it can swap the file
 * for their own server and tokens).  0: it is (or does not exist yet);
 * 1: it was writable by group or others and is now 0700 (dir gets its
 * name, for a warning); CHAT_EPERM: it is and cannot be made otherwise
 * (not ours): do not use it. */
int creds_secure_dir(const char *path, char *dir, size_t dirlen);
/* Writes the file atomically (temporary file, fsync, rename), mode
 * 0600, creating its directory 0700. */
int creds_save(const char *path, const struct creds *c);
int creds_remove(const char *path);
/* Frees the strings (wiping the tokens) and empties *c. */
void creds_release(struct creds *c);
/* Takes an exclusive lock beside the file (path.lock) for a refresh
 * shared by several processes; returns the fd (>= 0) or CHAT_EIO. */
int creds_lock(const char *path);
void creds_unlock(int fd);

#endif
