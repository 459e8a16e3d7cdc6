/*
 * util.c - clocks, directories, whole-file reads and the shared secrets
 * that several daemons create or read from the data directory.
 */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "err.h"
#include "banned.h"

/* Secret files are one token and a newline; anything longer is not ours. */
#define UTIL_SECRET_MAX 4096
#define UTIL_SECRET_BYTES 32

static int64_t util_clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t now_ms(void)
{
	return util_clock_ms(CLOCK_REALTIME);
}

int64_t mono_ms(void)
{
	return util_clock_ms(CLOCK_MONOTONIC);
}

/* mkdir that is fine with an existing directory. */
static int util_mkdir_one(const char *path, unsigned mode)
{
	struct stat st;

	if (mkdir(path, (mode_t)mode) == 0)
		return 0;
	if (errno != EEXIST)
		return errno == ENOENT ? CHAT_ENOTFOUND : CHAT_EIO;
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
		return CHAT_EEXIST;	/* a file is in the way */
	return 0;
}

int util_mkdir_p(const char *path, unsigned mode)
{
	char tmp[PATH_MAX];
	size_t len, i;
	int rc;

	if (!path || !*path)
		return CHAT_EINVAL;
	len = strlen(path);
	if (len >= sizeof(tmp))
		return CHAT_ETOOBIG;
	memcpy(tmp, path, len + 1);
	while (len > 1 && tmp[len - 1] == '/')
		tmp[--len] = '\0';
	/* Parents get the usual 0755; only the last component gets mode. */
	for (i = 1; i < len; i++) {
		if (tmp[i] != '/' || tmp[i - 1] == '/')
			continue;
		tmp[i] = '\0';
		rc = util_mkdir_one(tmp, 0755);
		tmp[i] = '/';
		if (rc < 0)
			return rc;
	}
	return util_mkdir_one(tmp, mode);
}

int util_read_file(const char *path, size_t max, char **out, size_t *len)
{
	char *data = NULL, *p;
	size_t used = 0, cap = 0;
	int fd, rc = 0, saved_errno;

	*out = NULL;
	if (len)
		*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? CHAT_ENOTFOUND : CHAT_EIO;
	for (;;) {
		ssize_t n;

		if (cap - used < 2) {
			size_t ncap = cap ? cap * 2 : 4096;

			if (max < SIZE_MAX - 2 && ncap > max + 2)
				ncap = max + 2;	/* room to see max + 1 */
			if (ncap <= used + 1) {
				rc = CHAT_ETOOBIG;
				goto out;
			}
			p = realloc(data, ncap);
			if (!p) {
				rc = CHAT_ENOMEM;
				goto out;
			}
			data = p;
			cap = ncap;
		}
		n = read(fd, data + used, cap - used - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = CHAT_EIO;
			goto out;
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used > max) {
			rc = CHAT_ETOOBIG;
			goto out;
		}
	}
	if (!data) {
		data = malloc(1);
		if (!data) {
			rc = CHAT_ENOMEM;
			goto out;
		}
	}
	data[used] = '\0';
	*out = data;
	data = NULL;
	if (len)
		*len = used;
out:
	saved_errno = errno;	/* callers may report strerror(errno) */
	free(data);
	close(fd);
	errno = saved_errno;
	return rc;
}

/* Reads an existing secret; CHAT_ENOTFOUND when the file is missing. */
static int util_secret_read(const char *path, char *out, size_t outlen)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	rc = util_read_file(path, UTIL_SECRET_MAX, &text, &len);
	if (rc < 0)
		return rc;
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		text[--len] = '\0';
	if (len == 0 || strlen(text) != len)
		rc = CHAT_EINVAL;	/* empty or binary: not a secret */
	else if (len >= outlen)
		rc = CHAT_ETOOBIG;
	else
		memcpy(out, text, len + 1);
	free(text);
	return rc;
}

/* Writes all of data to fd. */
static int util_write_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return CHAT_EIO;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Creates path with a fresh secret.  The secret is written completely to
 * a private temporary file first and then link()ed into place: link never
 * replaces an existing file, so of several racing processes exactly one
 * wins and the others read the winner's complete file (CHAT_EEXIST).
 */
static int util_secret_create(const char *dir, const char *path)
{
	char tmp[PATH_MAX], token[UTIL_SECRET_BYTES * 2];
	int fd = -1, rc, n;

	n = snprintf(tmp, sizeof(tmp), "%s/.secret-%ld-%08x.tmp", dir,
		     (long)getpid(), (unsigned)randombytes_random());
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return CHAT_ETOOBIG;
	rc = crypto_random_token("", UTIL_SECRET_BYTES, token, sizeof(token));
	if (rc < 0)
		return rc;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno == ENOENT ? CHAT_ENOTFOUND : CHAT_EIO;
	rc = util_write_all(fd, token, strlen(token));
	if (rc == 0)
		rc = util_write_all(fd, "\n", 1);
	if (rc == 0 && fsync(fd) != 0)
		rc = CHAT_EIO;
	if (close(fd) != 0 && rc == 0)
		rc = CHAT_EIO;
	if (rc == 0 && link(tmp, path) != 0)
		rc = errno == EEXIST ? CHAT_EEXIST : CHAT_EIO;
	unlink(tmp);
	sodium_memzero(token, sizeof(token));
	return rc;
}

int util_secret_load(const char *dir, const char *name, char *out,
		     size_t outlen)
{
	char path[PATH_MAX];
	int n, rc, tries;

	if (!dir || !name || !*name || strchr(name, '/'))
		return CHAT_EINVAL;
	n = snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return CHAT_ETOOBIG;
	rc = crypto_init();
	if (rc < 0)
		return rc;
	rc = util_mkdir_p(dir, 0700);
	if (rc < 0)
		return rc;
	/* Read; if missing create; if someone else created it, read theirs. */
	for (tries = 0; tries < 3; tries++) {
		rc = util_secret_read(path, out, outlen);
		if (rc != CHAT_ENOTFOUND)
			return rc;
		rc = util_secret_create(dir, path);
		if (rc == 0)
			return util_secret_read(path, out, outlen);
		if (rc != CHAT_EEXIST)
			return rc;
	}
	return CHAT_EIO;
}

int util_hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *util_percent_decode(const char *s, size_t n, bool *bad)
{
	char *out = malloc(n + 1);
	size_t i, o = 0;

	*bad = false;
	if (!out)
		return NULL;
	for (i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c == '%') {
			if (i + 2 >= n || util_hex_value(s[i + 1]) < 0 ||
			    util_hex_value(s[i + 2]) < 0) {
				*bad = true;
				break;
			}
			c = util_hex_value(s[i + 1]) * 16 + util_hex_value(s[i + 2]);
			i += 2;
		}
		if (c < 0x20 || c == 0x7f) {
			*bad = true;
			break;
		}
		out[o++] = (char)c;
	}
	if (*bad) {
		free(out);
		return NULL;
	}
	out[o] = '\0';
	return out;
}
