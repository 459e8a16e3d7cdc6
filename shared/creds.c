/*
 * creds.c - the credentials file of chatctl and chatui: where it lives,
 * reading it, writing it atomically with mode 0600, and the lock that
 * keeps two processes (chatctl, chatui) from spending one refresh token twice, which
 * the server would punish by revoking the whole session.
 *
 * Format: one JSON object, the current login's {"server","username",
 * "access_token","refresh_token","expires_at"} (expires_at in unix
 * seconds) and "others", an array of the other servers' logins in the
 * same form.  The current login sits at the top so that the older form
 * (no "others") reads as one server, and older readers still find the
 * current one; with no current login the object holds "others" alone.
 * Every change reads the whole file and writes it whole, atomically.
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

#define CREDS_MAX (1024 * 1024)	/* a credentials file is far smaller */
#define CREDS_SERVERS_MAX 64	/* logins in one file */

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

/* One login from obj into *c (emptied on failure). */
static int creds_from_json(cJSON *obj, struct creds *c)
{
	const cJSON *exp;
	int rc;

	memset(c, 0, sizeof(*c));
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
	if (rc < 0)
		creds_release(c);
	return rc;
}

/* Adds the fields of login c to obj. */
static int creds_to_json(cJSON *obj, const struct creds *c)
{
	if (!cJSON_AddStringToObject(obj, "server", c->server) ||
	    !cJSON_AddStringToObject(obj, "username", c->username) ||
	    !cJSON_AddStringToObject(obj, "access_token", c->access_token) ||
	    !cJSON_AddStringToObject(obj, "refresh_token",
				     c->refresh_token) ||
	    !cJSON_AddNumberToObject(obj, "expires_at",
				     (double)c->expires_at))
		return CHAT_ENOMEM;
	return 0;
}

/* Appends a login to s, taking its strings (*c is emptied). */
static int creds_set_take(struct creds_set *s, struct creds *c)
{
	struct creds *v;

	if (s->n >= CREDS_SERVERS_MAX)
		return CHAT_ETOOBIG;
	v = realloc(s->v, (s->n + 1) * sizeof(*v));
	if (!v)
		return CHAT_ENOMEM;
	s->v = v;
	s->v[s->n++] = *c;
	memset(c, 0, sizeof(*c));
	return 0;
}

void creds_set_release(struct creds_set *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		creds_release(&s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
	s->current = -1;
}

int creds_set_load(const char *path, struct creds_set *s)
{
	char *text = NULL;
	size_t len = 0;
	cJSON *obj = NULL, *item;
	const cJSON *others;
	struct creds c;
	int rc;

	memset(s, 0, sizeof(*s));
	s->current = -1;
	rc = util_read_file(path, CREDS_MAX, &text, &len);
	if (rc == CHAT_ENOTFOUND) {
		rc = 0;
		goto out;
	}
	if (rc < 0)
		goto out;
	obj = cJSON_ParseWithLength(text, len);
	if (!cJSON_IsObject(obj)) {
		rc = CHAT_EPARSE;
		goto out;
	}
	others = cJSON_GetObjectItemCaseSensitive(obj, "others");
	if (others && !cJSON_IsArray(others)) {
		rc = CHAT_EPARSE;
		goto out;
	}
	/* no "server" at the top: no current login (only others) */
	if (cJSON_GetObjectItemCaseSensitive(obj, "server") || !others) {
		rc = creds_from_json(obj, &c);
		if (rc == 0)
			rc = creds_set_take(s, &c);
		if (rc < 0)
			goto out;
		s->current = 0;
	}
	cJSON_ArrayForEach(item, others) {
		rc = creds_from_json(item, &c);
		if (rc == 0 && creds_set_find(s, c.server) >= 0)
			rc = CHAT_EPARSE;	/* one login per server */
		if (rc == 0)
			rc = creds_set_take(s, &c);
		if (rc < 0) {
			creds_release(&c);
			goto out;
		}
	}
out:
	if (rc < 0)
		creds_set_release(s);
	cJSON_Delete(obj);
	if (text) {
		memset(text, 0, len);	/* tokens do not linger in the heap */
		free(text);
	}
	return rc;
}

void creds_name(const char *url, char *out, size_t outlen)
{
	const char *host = strstr(url, "://");
	size_t n;

	host = host ? host + 3 : url;
	n = strcspn(host, "/?#");
	if (n >= outlen)
		n = outlen ? outlen - 1 : 0;
	if (outlen) {
		memcpy(out, host, n);
		out[n] = '\0';
	}
}

long creds_set_find(const struct creds_set *s, const char *server)
{
	char name[256];
	size_t i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->v[i].server, server) == 0)
			return (long)i;
	/* not a URL: a name */
	if (strstr(server, "://"))
		return -1;
	for (i = 0; i < s->n; i++) {
		creds_name(s->v[i].server, name, sizeof(name));
		if (strcmp(name, server) == 0)
			return (long)i;
	}
	return -1;
}

/* Moves login i of s into *c. */
static void creds_set_move(struct creds_set *s, long i, struct creds *c)
{
	*c = s->v[i];
	memset(&s->v[i], 0, sizeof(s->v[i]));
}

int creds_load(const char *path, struct creds *c)
{
	struct creds_set s;
	int rc;

	memset(c, 0, sizeof(*c));
	rc = creds_set_load(path, &s);
	if (rc < 0)
		return rc;
	if (s.current < 0)
		rc = CHAT_ENOTFOUND;
	else
		creds_set_move(&s, s.current, c);
	creds_set_release(&s);
	return rc;
}

int creds_load_server(const char *path, const char *server,
		      struct creds *c)
{
	struct creds_set s;
	long i;
	int rc;

	memset(c, 0, sizeof(*c));
	rc = creds_set_load(path, &s);
	if (rc < 0)
		return rc;
	i = creds_set_find(&s, server);
	if (i < 0)
		rc = CHAT_ENOTFOUND;
	else
		creds_set_move(&s, i, c);
	creds_set_release(&s);
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

/* The file's JSON for s. */
static cJSON *creds_set_json(const struct creds_set *s)
{
	cJSON *obj = cJSON_CreateObject(), *others, *item;
	size_t i;

	if (!obj || (s->current >= 0 &&
		     creds_to_json(obj, &s->v[s->current]) < 0))
		goto fail;
	others = cJSON_AddArrayToObject(obj, "others");
	if (!others)
		goto fail;
	for (i = 0; i < s->n; i++) {
		if ((long)i == s->current)
			continue;
		item = cJSON_CreateObject();
		if (!item)
			goto fail;
		cJSON_AddItemToArray(others, item);
		if (creds_to_json(item, &s->v[i]) < 0)
			goto fail;
	}
	return obj;
fail:
	cJSON_Delete(obj);
	return NULL;
}

/* Writes s whole to path, atomically. */
static int creds_set_save(const char *path, const struct creds_set *s)
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
	obj = creds_set_json(s);
	if (!obj) {
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

/* A copy of login c (every string duplicated) into *out. */
static int creds_copy(const struct creds *c, struct creds *out)
{
	memset(out, 0, sizeof(*out));
	if (!c->server || !c->username || !c->access_token ||
	    !c->refresh_token)
		return CHAT_EINVAL;
	out->server = strdup(c->server);
	out->username = strdup(c->username);
	out->access_token = strdup(c->access_token);
	out->refresh_token = strdup(c->refresh_token);
	out->expires_at = c->expires_at;
	if (!out->server || !out->username || !out->access_token ||
	    !out->refresh_token) {
		creds_release(out);
		return CHAT_ENOMEM;
	}
	return 0;
}

int creds_save(const char *path, const struct creds *c)
{
	struct creds_set s;
	struct creds copy;
	long i;
	int rc;

	rc = creds_set_load(path, &s);
	if (rc == CHAT_EPARSE)
		rc = 0;		/* a broken file is replaced, as ever */
	if (rc < 0)
		return rc;
	rc = creds_copy(c, &copy);
	if (rc < 0)
		goto out;
	i = creds_set_find(&s, c->server);
	if (i >= 0) {
		creds_release(&s.v[i]);
		s.v[i] = copy;
	} else {
		rc = creds_set_take(&s, &copy);
		if (rc < 0) {
			creds_release(&copy);
			goto out;
		}
		i = (long)s.n - 1;
	}
	if (s.current < 0)
		s.current = i;
	rc = creds_set_save(path, &s);
out:
	creds_set_release(&s);
	return rc;
}

int creds_use(const char *path, const char *server)
{
	struct creds_set s;
	long i;
	int rc;

	rc = creds_set_load(path, &s);
	if (rc < 0)
		return rc;
	i = creds_set_find(&s, server);
	if (i < 0)
		rc = CHAT_ENOTFOUND;
	else if (i != s.current) {
		s.current = i;
		rc = creds_set_save(path, &s);
	}
	creds_set_release(&s);
	return rc;
}

int creds_forget(const char *path, const char *server)
{
	struct creds_set s;
	long i;
	int rc;

	rc = creds_set_load(path, &s);
	if (rc < 0)
		return rc;
	i = creds_set_find(&s, server);
	if (i < 0)
		goto out;
	creds_release(&s.v[i]);
	memmove(&s.v[i], &s.v[i + 1], (s.n - (size_t)i - 1) * sizeof(s.v[0]));
	s.n--;
	if (s.current == i)
		s.current = -1;
	else if (s.current > i)
		s.current--;
	rc = s.n ? creds_set_save(path, &s) : creds_remove(path);
out:
	creds_set_release(&s);
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
