/*
 * creds.c - the credentials file of chatctl and chatui: where it lives,
 * reading it, writing it atomically with mode 0600, and the lock that
 * keeps two processes (chatctl, chatui) from spending one refresh token twice, which
 * the server would punish by revoking the whole session.
 *
 * Format: one JSON object {"server","username","access_token",
 * "refresh_token","expires_at"} (expires_at in unix seconds).
 */
#include "creds.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "util.h"
#include "banned.h"

#define CREDS_MAX (64 * 1024)	/* a credentials file is far smaller */

int creds_default_path(char *out, size_t outlen)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	int n;

	/* XDG: a relative XDG_CONFIG_HOME is invalid and must be ignored */
	if (xdg && xdg[0] == '/')
		n = snprintf(out, outlen, "%s/chat/credentials", xdg);
	else if (home && home[0])
		n = snprintf(out, outlen, "%s/.config/chat/credentials", home);
	else
		return CHAT_ENOTFOUND;
	if (n < 0 || (size_t)n >= outlen)
		return CHAT_ETOOBIG;
	return 0;
}

static int creds_dup(cJSON *obj, const char *key, char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!cJSON_IsString(v) || !v->valuestring[0])
		return CHAT_EPARSE;
	*out = strdup(v->valuestring);
	return *out ? 0 : CHAT_ENOMEM;
}

int creds_load(const char *path, struct creds *c)
{
	char *text = NULL;
	size_t len = 0;
	cJSON *obj = NULL;
	const cJSON *exp;
	int rc;

	memset(c, 0, sizeof(*c));
	rc = util_read_file(path, CREDS_MAX, &text, &len);
	if (rc < 0)
		goto out;
	obj = cJSON_ParseWithLength(text, len);
	if (!cJSON_IsObject(obj)) {
		rc = CHAT_EPARSE;
		goto out;
	}
	rc = creds_dup(obj, "server", &c->server);
	if (rc == 0)
		rc = creds_dup(obj, "username", &c->username);
	if (rc == 0)
		rc = creds_dup(obj, "access_token", &c->access_token);
	if (rc == 0)
		rc = creds_dup(obj, "refresh_token", &c->refresh_token);
	exp = cJSON_GetObjectItemCaseSensitive(obj, "expires_at");
	if (rc == 0 && !cJSON_IsNumber(exp))
		rc = CHAT_EPARSE;
	if (rc == 0)
		c->expires_at = (int64_t)exp->valuedouble;
out:
	if (rc < 0)
		creds_release(c);
	cJSON_Delete(obj);
	free(text);
	return rc;
}

/* The directory part of path into dir. */
static int creds_dirname(const char *path, char *dir, size_t dirlen)
{
	const char *slash = strrchr(path, '/');
	size_t n;

	if (!slash)
		return CHAT_EINVAL;
	n = (size_t)(slash - path);
	if (n == 0)
		n = 1;		/* "/credentials" */
	if (n >= dirlen)
		return CHAT_ETOOBIG;
	memcpy(dir, path, n);
	dir[n] = '\0';
	return 0;
}

int creds_secure_dir(const char *path, char *dir, size_t dirlen)
{
	struct stat st;
	int rc;

	rc = creds_dirname(path, dir, dirlen);
	if (rc < 0)
		return rc;
	if (stat(dir, &st) != 0)
		return errno == ENOENT ? 0 : CHAT_EIO;
	if (!(st.st_mode & (S_IWGRP | S_IWOTH)))
		return 0;
	if (st.st_uid != geteuid() || chmod(dir, 0700) != 0)
		return CHAT_EPERM;
	return 1;
}

int creds_save(const char *path, const struct creds *c)
{
	char dir[PATH_MAX], tmp[PATH_MAX + 16];
	cJSON *obj = NULL;
	char *text = NULL;
	size_t len = 0, off = 0;
	ssize_t w;
	int fd = -1, rc, n;

	tmp[0] = '\0';
	rc = creds_dirname(path, dir, sizeof(dir));
	if (rc < 0)
		return rc;
	rc = util_mkdir_p(dir, 0700);
	if (rc < 0)
		return rc;
	obj = cJSON_CreateObject();
	if (!obj || !cJSON_AddStringToObject(obj, "server", c->server) ||
	    !cJSON_AddStringToObject(obj, "username", c->username) ||
	    !cJSON_AddStringToObject(obj, "access_token", c->access_token) ||
	    !cJSON_AddStringToObject(obj, "refresh_token",
				     c->refresh_token) ||
	    !cJSON_AddNumberToObject(obj, "expires_at",
				     (double)c->expires_at)) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	text = cJSON_Print(obj);
	if (!text) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	len = strlen(text);
	n = snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		rc = CHAT_ETOOBIG;
		goto out;
	}
	fd = mkstemp(tmp);	/* mode 0600 */
	if (fd < 0) {
		tmp[0] = '\0';	/* nothing of ours to unlink */
		rc = CHAT_EIO;
		goto out;
	}
	text[len++] = '\n';	/* replaces the NUL; written by length */
	while (off < len) {
		w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = CHAT_EIO;
			goto out;
		}
		off += (size_t)w;
	}
	if (fchmod(fd, 0600) != 0 || fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		rc = CHAT_EIO;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		rc = CHAT_EIO;
		goto out;
	}
	tmp[0] = '\0';
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0 && tmp[0])
		unlink(tmp);
	if (text) {
		memset(text, 0, len);	/* tokens do not linger in the heap */
		free(text);
	}
	cJSON_Delete(obj);
	return rc;
}

int creds_remove(const char *path)
{
	if (unlink(path) != 0 && errno != ENOENT)
		return CHAT_EIO;
	return 0;
}

static void creds_free_secret(char **s)
{
	if (*s) {
		memset(*s, 0, strlen(*s));
		free(*s);
		*s = NULL;
	}
}

void creds_release(struct creds *c)
{
	free(c->server);
	free(c->username);
	c->server = c->username = NULL;
	creds_free_secret(&c->access_token);
	creds_free_secret(&c->refresh_token);
	c->expires_at = 0;
}

int creds_lock(const char *path)
{
	char dir[PATH_MAX], lock[PATH_MAX + 8];
	int fd, n, rc;

	rc = creds_dirname(path, dir, sizeof(dir));
	if (rc == 0)
		rc = util_mkdir_p(dir, 0700);
	if (rc < 0)
		return rc;
	n = snprintf(lock, sizeof(lock), "%s.lock", path);
	if (n < 0 || (size_t)n >= sizeof(lock))
		return CHAT_ETOOBIG;
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return CHAT_EIO;
	while (flock(fd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			close(fd);
			return CHAT_EIO;
		}
	}
	return fd;
}

void creds_unlock(int fd)
{
	if (fd >= 0)
		close(fd);	/* closing releases the flock */
}
