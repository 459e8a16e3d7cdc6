/*
 * web.c - the web page: gatewayd serves the files of web.dir at "/" for
 * every path that is not an API path, and the page itself (index.html)
 * for the paths that are the page's own client-side routes (/c/<id>,
 * /settings, /admin, /login).
 *
 * The files are read into memory at start: the page is a few hundred KB,
 * so a table in memory makes every answer a lookup and a copy on the
 * loop thread, and makes traversal impossible by construction - a
 * request is a key of the table, never a path handed to the file
 * system.  The table is built by walking the directory with openat and
 * O_NOFOLLOW; a symbolic link is kept only when its target, resolved,
 * is a regular file inside the directory, so a link out of it matches
 * nothing.  Dot files and names a request could not reach (web-path.h)
 * are left out.  Each file keeps its bytes, its gzip bytes (when gzip
 * makes them smaller), a strong ETag per representation (a digest of
 * the bytes) and its type.
 *
 * Changes are picked up without a restart (the web engineers edit the
 * files of a running stack): once a second the housekeeping timer has a
 * worker walk the directory and compare what it finds (name, device,
 * inode, size, mtime) with the table; when anything differs the worker
 * builds a whole new table, and the loop thread swaps it in at its next
 * tick.  The walk is a few dozen stat calls; the loop never reads a file.
 *
 * Answers: GET and HEAD (others 405 with Allow); ETag and 304 on
 * If-None-Match; Cache-Control "public, max-age=31536000, immutable" for
 * content-hashed names (name-<8 to 16 hex>.ext), "no-cache" for the
 * rest; gzip when Accept-Encoding allows it (Vary: Accept-Encoding);
 * Range is ignored (RFC 9110 14.2 allows it): the whole file with 200
 * and "Accept-Ranges: none", since the files are small and a partial
 * answer would add code that nothing here needs.  Every answer of the
 * page, errors included, carries the security headers below.
 *
 * Threads: web_handle and web_cron run on the loop thread, which alone
 * reads and swaps w->cur.  The scan job (a worker) reads w->cur too,
 * but only one job runs at a time and the loop swaps w->cur only for
 * the table that job left in w->pending, after the job is done with
 * w->cur, and before it starts the next one.
 */
#define ZLIB_CONST
#include "web.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "config.h"
#include "crypto.h"
#include "err.h"
#include "gatewayd.h"
#include "log.h"
#include "pool.h"
#include "util.h"
#include "web-path.h"
#include "banned.h"

#define WEB_MAX_FILES 4096
#define WEB_MAX_FILE ((size_t)16 << 20)		/* one file */
#define WEB_MAX_BYTES ((size_t)64 << 20)	/* all, gzip included */
#define WEB_MAX_DEPTH 16
#define WEB_SCAN_MS 1000
#define WEB_TAG_HEX 16				/* hex digits of an ETag */

#define WEB_CSP "default-src 'self'; script-src 'self'; " \
	"style-src 'self'; img-src 'self' data:; connect-src 'self'; " \
	"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; " \
	"form-action 'self'"

/* On every answer of the page (issue 14's contract). */
static const struct {
	const char *name;
	const char *value;
} web_security_headers[] = {
	{ "Content-Security-Policy", WEB_CSP },
	{ "X-Content-Type-Options", "nosniff" },
	{ "Referrer-Policy", "no-referrer" },
	{ "Cross-Origin-Opener-Policy", "same-origin" },
};

/* Paths that are the API's whatever the route table says: their answers
 * stay JSON (whole segments: "/v1" is "/v1" and "/v1/...") . */
static const char *const web_api_prefixes[] = {
	"/v1", "/internal", "/metrics", "/healthz", "/readyz", "/.well-known",
};

struct web_file {
	char *name;			/* the table's key: "js/app.js"; owned */
	char *path;			/* what is opened: the file, or a
					 * link's resolved target; owned */
	char *data;			/* owned; NULL until loaded */
	size_t len;
	char *gz;			/* owned; NULL: gzip is no smaller */
	size_t gz_len;
	const char *type;		/* static */
	bool hashed;			/* content-hashed name: immutable */
	char etag[WEB_TAG_HEX + 3];	/* "\"<hex>\"" */
	char etag_gz[WEB_TAG_HEX + 6];	/* "\"<hex>-gz\"" */
	/* what the walk saw, to notice a change */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

/* Sorted by name; owns its files. */
struct web_table {
	struct web_file *files;
	size_t n, cap;
	size_t bytes;			/* data and gzip, for the ceiling */
};

struct web {
	char root[PATH_MAX];		/* realpath of web.dir */
	size_t root_len;
	struct pool *pool;		/* the daemon's; borrowed */
	struct web_table *cur;		/* owned; the loop thread's */
	pthread_mutex_t lock;
	struct web_table *pending;	/* owned, under lock: the job's */
	atomic_bool scanning;		/* a scan job is queued or running */
	int64_t next_scan_ms;		/* monotonic; the loop thread's */
};

/* ---- the table ---------------------------------------------------------- */

static void web_table_free(struct web_table *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->n; i++) {
		free(t->files[i].name);
		free(t->files[i].path);
		free(t->files[i].data);
		free(t->files[i].gz);
	}
	free(t->files);
	free(t);
}

static int web_file_cmp(const void *a, const void *b)
{
	const struct web_file *fa = a, *fb = b;

	return strcmp(fa->name, fb->name);
}

/* The index of the first file whose name is >= name. */
static size_t web_table_lower(const struct web_table *t, const char *name)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(t->files[mid].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The file of that name, if it could be read. */
static const struct web_file *web_table_find(const struct web_table *t,
					     const char *name)
{
	size_t i = web_table_lower(t, name);

	return i < t->n && strcmp(t->files[i].name, name) == 0 &&
	       t->files[i].data ? &t->files[i] : NULL;
}

/* True when some file lives under name + "/": name is a directory. */
static bool web_table_is_dir(const struct web_table *t, const char *name)
{
	char dir[WEB_PATH_MAX + 2];
	size_t n = strlen(name), i;

	if (n + 2 > sizeof(dir))
		return false;
	memcpy(dir, name, n);
	dir[n] = '/';
	dir[n + 1] = '\0';
	i = web_table_lower(t, dir);
	return i < t->n && strncmp(t->files[i].name, dir, n + 1) == 0;
}

/* Same names, same files, same sizes and times. */
static bool web_table_same(const struct web_table *a,
			   const struct web_table *b)
{
	size_t i;

	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++) {
		const struct web_file *fa = &a->files[i], *fb = &b->files[i];

		if (strcmp(fa->name, fb->name) != 0 || fa->dev != fb->dev ||
		    fa->ino != fb->ino || fa->size != fb->size ||
		    fa->mtime.tv_sec != fb->mtime.tv_sec ||
		    fa->mtime.tv_nsec != fb->mtime.tv_nsec)
			return false;
	}
	return true;
}

/* ---- the walk ----------------------------------------------------------- */

/* Adds name (taken over) and path (taken over) with st. */
static int web_table_add(struct web_table *t, char *name, char *path,
			 const struct stat *st)
{
	struct web_file *f;

	if (t->n == WEB_MAX_FILES) {
		free(name);
		free(path);
		return CHAT_ETOOBIG;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 32;
		struct web_file *grown = realloc(t->files, cap * sizeof(*f));

		if (!grown) {
			free(name);
			free(path);
			return CHAT_ENOMEM;
		}
		t->files = grown;
		t->cap = cap;
	}
	f = &t->files[t->n++];
	memset(f, 0, sizeof(*f));
	f->name = name;
	f->path = path;
	f->dev = st->st_dev;
	f->ino = st->st_ino;
	f->size = st->st_size;
	f->mtime = st->st_mtim;
	return 0;
}

/* "a/b" from "a" and "b" (prefix may be ""); NULL when out of memory. */
static char *web_join(const char *a, const char *sep, const char *b)
{
	size_t na = strlen(a), ns = strlen(sep), nb = strlen(b);
	char *s = malloc(na + ns + nb + 1);

	if (!s)
		return NULL;
	memcpy(s, a, na);
	memcpy(s + na, sep, ns);
	memcpy(s + na + ns, b, nb + 1);
	return s;
}

/* True when rel is a name a request can reach, exactly as it is. */
static bool web_name_servable(const char *rel)
{
	char path[WEB_PATH_MAX + 1], key[WEB_PATH_MAX];
	enum web_path_kind kind;

	if ((size_t)snprintf(path, sizeof(path), "/%s", rel) >= sizeof(path))
		return false;
	kind = web_path_key(path, key, sizeof(key));
	return (kind == WEB_PATH_FILE || kind == WEB_PATH_ROUTE) &&
	       strcmp(key, rel) == 0;
}

/* A link's target if it is a regular file inside the directory: its
 * resolved path (caller frees) and *st; NULL otherwise. */
static char *web_link_target(const struct web *w, const char *full,
			     struct stat *st)
{
	char *real = realpath(full, NULL);

	if (!real)
		return NULL;
	if (strncmp(real, w->root, w->root_len) != 0 ||
	    real[w->root_len] != '/' || stat(real, st) != 0 ||
	    !S_ISREG(st->st_mode)) {
		log_debug("web: '%s' leads out of the directory or to no "
			  "file: left out", full);
		free(real);
		return NULL;
	}
	return real;
}

/* Walks the directory open at dfd (rel is its name under the root, ""
 * for the root; dfd is taken over) into t: names and stats only. */
static int web_walk(const struct web *w, int dfd, const char *rel, int depth,
		    struct web_table *t)
{
	DIR *dir = fdopendir(dfd);
	struct dirent *de;
	int rc = 0;

	if (!dir) {
		close(dfd);
		return CHAT_EIO;
	}
	while (rc == 0 && (de = readdir(dir)) != NULL) {
		char *name = NULL, *full = NULL;
		struct stat st;

		if (de->d_name[0] == '.')
			continue;	/* ".", "..", dot files */
		name = rel[0] ? web_join(rel, "/", de->d_name) :
		       strdup(de->d_name);
		full = name ? web_join(w->root, "/", name) : NULL;
		if (!name || !full) {
			rc = CHAT_ENOMEM;
		} else if (!web_name_servable(name)) {
			log_debug("web: '%s' cannot be asked for: left out",
				  name);
		} else if (fstatat(dirfd(dir), de->d_name, &st,
				   AT_SYMLINK_NOFOLLOW) != 0) {
			/* gone since readdir: it will be seen next time */
		} else if (S_ISLNK(st.st_mode)) {
			char *target = web_link_target(w, full, &st);

			if (target) {
				rc = web_table_add(t, name, target, &st);
				name = NULL;
			}
		} else if (S_ISREG(st.st_mode)) {
			rc = web_table_add(t, name, full, &st);
			name = full = NULL;
		} else if (S_ISDIR(st.st_mode) && depth < WEB_MAX_DEPTH) {
			int sub = openat(dirfd(dir), de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					 O_CLOEXEC);

			if (sub >= 0)
				rc = web_walk(w, sub, name, depth + 1, t);
		}
		free(name);
		free(full);
	}
	closedir(dir);
	return rc;
}

/* A new table of the directory's names and stats (no bytes yet). */
static int web_scan(const struct web *w, struct web_table **out)
{
	struct web_table *t = calloc(1, sizeof(*t));
	int dfd, rc;

	*out = NULL;
	if (!t)
		return CHAT_ENOMEM;
	dfd = open(w->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		free(t);
		return CHAT_EIO;
	}
	rc = web_walk(w, dfd, "", 0, t);
	if (rc != 0) {
		web_table_free(t);
		return rc;
	}
	if (t->n > 1)
		qsort(t->files, t->n, sizeof(t->files[0]), web_file_cmp);
	*out = t;
	return 0;
}

/* ---- loading ------------------------------------------------------------ */

/* gzip bytes of in (a gzip header, so Content-Encoding: gzip), or
 * *out NULL when they would not be smaller. */
static int web_gzip(const char *in, size_t len, char **out, size_t *out_len)
{
	z_stream zs;
	char *buf = NULL;
	uLong bound;
	int rc = 0;

	*out = NULL;
	*out_len = 0;
	memset(&zs, 0, sizeof(zs));
	/* 15 + 16: a 32 KiB window with a gzip header and trailer */
	if (deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 9,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return CHAT_ENOMEM;
	bound = deflateBound(&zs, (uLong)len);
	buf = malloc(bound);
	if (!buf) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	zs.next_in = (const Bytef *)in;
	zs.avail_in = (uInt)len;
	zs.next_out = (Bytef *)buf;
	zs.avail_out = (uInt)bound;
	if (deflate(&zs, Z_FINISH) != Z_STREAM_END) {
		rc = CHAT_EIO;
		goto out;
	}
	if (zs.total_out < len) {
		*out = buf;
		*out_len = zs.total_out;
		buf = NULL;
	}
out:
	deflateEnd(&zs);
	free(buf);
	return rc;
}

/* Reads f's bytes, its gzip form, tags and type; its stats become the
 * opened file's.  Skipped (no error, f->data NULL: not served) when the
 * file went away, cannot be opened or is no longer a regular file; the
 * entry stays, so that the next scan finds the table unchanged rather
 * than reloading an unreadable file every second. */
static int web_file_load(struct web_file *f, size_t *total)
{
	char digest[65];
	struct stat st;
	size_t got = 0;
	bool compress;
	int fd, rc = 0;

	fd = open(f->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT)
			log_warn("web: cannot read '%s': %s: not served",
				 f->path, strerror(errno));
		return 0;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		goto out;
	if ((size_t)st.st_size > WEB_MAX_FILE ||
	    *total + (size_t)st.st_size > WEB_MAX_BYTES) {
		log_error("web: '%s' would pass the page's ceiling (%zu MiB "
			  "a file, %zu MiB in all)", f->name,
			  WEB_MAX_FILE >> 20, WEB_MAX_BYTES >> 20);
		rc = CHAT_ETOOBIG;
		goto out;
	}
	f->data = malloc((size_t)st.st_size + 1);
	if (!f->data) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, f->data + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;		/* shorter now: the next scan sees it */
		got += (size_t)n;
	}
	f->len = got;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->size = st.st_size;
	f->mtime = st.st_mtim;
	f->type = web_path_type(f->name, &compress);
	f->hashed = web_path_hashed(f->name);
	crypto_digest_hex(f->data, f->len, digest);
	snprintf(f->etag, sizeof(f->etag), "\"%.*s\"", WEB_TAG_HEX, digest);
	snprintf(f->etag_gz, sizeof(f->etag_gz), "\"%.*s-gz\"", WEB_TAG_HEX,
		 digest);
	if (compress && f->len > 0)
		rc = web_gzip(f->data, f->len, &f->gz, &f->gz_len);
	*total += f->len + f->gz_len;
out:
	close(fd);
	return rc;
}

/* Loads every file of t (one that cannot be read stays, unserved). */
static int web_table_load(struct web_table *t)
{
	size_t i;
	int rc = 0;

	t->bytes = 0;
	for (i = 0; i < t->n && rc == 0; i++)
		rc = web_file_load(&t->files[i], &t->bytes);
	return rc;
}

/* ---- reloading ---------------------------------------------------------- */

/* Worker: a new table when the directory changed, left in w->pending. */
static void web_scan_job(void *arg)
{
	struct web *w = arg;
	struct web_table *t = NULL;
	int rc;

	rc = web_scan(w, &t);
	if (rc == 0 && web_table_same(t, w->cur)) {
		web_table_free(t);
		t = NULL;
	} else if (rc == 0) {
		rc = web_table_load(t);
	}
	if (rc != 0) {
		log_warn("web: cannot read '%s' again: %s (the page served "
			 "stays as it was)", w->root, chat_strerror(rc));
		web_table_free(t);
		t = NULL;
	}
	if (t) {
		pthread_mutex_lock(&w->lock);
		web_table_free(w->pending);
		w->pending = t;
		pthread_mutex_unlock(&w->lock);
	}
	atomic_store(&w->scanning, false);
}

void web_cron(struct gatewayd *gw)
{
	struct web *w = gw->web;
	struct web_table *t;
	int64_t now = mono_ms();

	if (!w)
		return;
	/* first the job's table, then (maybe) the next job: a job never
	 * reads a table the loop is swapping out */
	pthread_mutex_lock(&w->lock);
	t = w->pending;
	w->pending = NULL;
	pthread_mutex_unlock(&w->lock);
	if (t) {
		log_info("web: '%s' changed: %zu files, %zu bytes", w->root,
			 t->n, t->bytes);
		web_table_free(w->cur);
		w->cur = t;
	}
	if (now < w->next_scan_ms || atomic_load(&w->scanning))
		return;
	w->next_scan_ms = now + WEB_SCAN_MS;
	atomic_store(&w->scanning, true);
	if (pool_submit(w->pool, web_scan_job, w) != 0)
		atomic_store(&w->scanning, false);	/* next tick */
}

/* ---- start and stop ----------------------------------------------------- */

/* The directory of the running executable's installed tree
 * (<exe>/../share/chat/web, what `make install` writes), else the source
 * tree's web/ the program was built from; "" when neither is there. */
static void web_dir_default(char *out, size_t outlen)
{
	char exe[PATH_MAX], *slash;
	struct stat st;
	ssize_t n;

	out[0] = '\0';
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			if ((size_t)snprintf(out, outlen, "%s/../share/chat/web",
					     exe) < outlen &&
			    stat(out, &st) == 0 && S_ISDIR(st.st_mode))
				return;
		}
	}
	out[0] = '\0';
#ifdef CHAT_SOURCE_WEB_DIR
	if (stat(CHAT_SOURCE_WEB_DIR, &st) == 0 && S_ISDIR(st.st_mode))
		snprintf(out, outlen, "%s", CHAT_SOURCE_WEB_DIR);
#endif
}

int web_new(struct gatewayd *gw, char *err, size_t errlen)
{
	const char *dir = config_key_str(gw->d.cfg, "web.dir");
	char def[PATH_MAX];
	struct web *w = NULL;
	int rc = 0;

	gw->web = NULL;
	if (dir && (!*dir || strcmp(dir, "off") == 0)) {
		log_info("web: no page (web.dir is '%s')", dir);
		return 0;
	}
	if (!dir) {
		web_dir_default(def, sizeof(def));
		if (!def[0]) {
			log_info("web: no page (no web directory installed "
				 "or in the source tree; set web.dir)");
			return 0;
		}
		dir = def;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		snprintf(err, errlen, "out of memory");
		return CHAT_ENOMEM;
	}
	pthread_mutex_init(&w->lock, NULL);
	w->pool = gw->d.pool;
	if (!realpath(dir, w->root)) {
		snprintf(err, errlen, "config: web.dir '%s': %s", dir,
			 strerror(errno));
		rc = CHAT_EINVAL;
		goto fail;
	}
	w->root_len = strlen(w->root);
	if (w->root_len == 1)
		w->root_len = 0;	/* "/": every path is under it */
	rc = web_scan(w, &w->cur);
	if (rc == 0)
		rc = web_table_load(w->cur);
	if (rc != 0) {
		snprintf(err, errlen, "config: web.dir '%s': cannot read it: "
			 "%s", w->root, chat_strerror(rc));
		goto fail;
	}
	if (!web_table_find(w->cur, "index.html"))
		log_warn("web: '%s' has no index.html: client-side routes "
			 "will get 404", w->root);
	log_info("web: serving '%s' at / (%zu files, %zu bytes)", w->root,
		 w->cur->n, w->cur->bytes);
	w->next_scan_ms = mono_ms() + WEB_SCAN_MS;
	gw->web = w;
	return 0;
fail:
	web_free(w);
	return rc;
}

void web_free(struct web *w)
{
	if (!w)
		return;
	web_table_free(w->cur);
	web_table_free(w->pending);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

/* ---- answers ------------------------------------------------------------ */

bool web_owns(struct gatewayd *gw, const char *path)
{
	size_t i;

	if (!gw->web)
		return false;
	for (i = 0; i < sizeof(web_api_prefixes) / sizeof(web_api_prefixes[0]);
	     i++) {
		size_t n = strlen(web_api_prefixes[i]);

		if (strncmp(path, web_api_prefixes[i], n) == 0 &&
		    (path[n] == '\0' || path[n] == '/'))
			return false;
	}
	return routes_find(gw, path) == NULL;
}

static int web_security(struct http_res *res)
{
	size_t i;
	int rc = 0;

	for (i = 0; rc == 0 && i < sizeof(web_security_headers) /
		    sizeof(web_security_headers[0]); i++)
		rc = http_res_header(res, web_security_headers[i].name,
				     web_security_headers[i].value);
	return rc;
}

/* The file for a GET of path, or NULL with *status and *code of the
 * error to answer. */
static const struct web_file *web_pick(const struct web_table *t,
				       const char *path, int *status,
				       const char **code)
{
	char key[WEB_PATH_MAX];
	const struct web_file *f = NULL;

	*status = 404;
	*code = "not_found";
	switch (web_path_key(path, key, sizeof(key))) {
	case WEB_PATH_TOO_LONG:
		*status = 414;
		*code = "uri_too_long";
		return NULL;
	case WEB_PATH_BAD:
		return NULL;
	case WEB_PATH_FILE:
		return web_table_find(t, key);
	case WEB_PATH_ROUTE:
		f = web_table_find(t, key);
		/* a directory is not a route: no listing, and no page */
		if (!f && !web_table_is_dir(t, key))
			f = web_table_find(t, "index.html");
		return f;
	}
	return NULL;
}

void web_handle(struct gatewayd *gw, struct http_req *req,
		struct http_res *res)
{
	const struct web *w = gw->web;
	const struct web_file *f = NULL;
	const char *code, *etag;
	bool gz, get = strcmp(req->method, "GET") == 0;
	int status, rc;
	char *body;

	rc = web_security(res);
	if (rc == 0 && !get && strcmp(req->method, "HEAD") != 0) {
		rc = http_res_header(res, "Allow", "GET, HEAD");
		if (rc == 0) {
			http_res_error(res, 405, "method_not_allowed",
				       "the page takes GET and HEAD, not '%s'",
				       req->method);
			return;
		}
	}
	if (rc != 0) {
		http_res_chat_error(res, rc, NULL);
		return;
	}
	f = web_pick(w->cur, req->path, &status, &code);
	if (!f) {
		if (status == 414)
			http_res_error(res, 414, code, "the path is longer "
				       "than %d bytes", WEB_PATH_MAX);
		else
			http_res_error(res, status, code, "no file at '%s'",
				       req->path);
		return;
	}
	http_res_note(res, "web=%s", f->name);
	gz = f->gz && web_accepts_gzip(http_req_header(req,
							"Accept-Encoding"));
	etag = gz ? f->etag_gz : f->etag;
	rc = http_res_header(res, "ETag", etag);
	if (rc == 0)
		rc = http_res_header(res, "Cache-Control", f->hashed ?
				     "public, max-age=31536000, immutable" :
				     "no-cache");
	if (rc == 0 && f->gz)
		rc = http_res_header(res, "Vary", "Accept-Encoding");
	if (rc == 0)
		rc = http_res_header(res, "Accept-Ranges", "none");
	if (rc != 0) {
		http_res_chat_error(res, rc, NULL);
		return;
	}
	/* either tag names bytes the client holds that are still current */
	if (web_etag_match(http_req_header(req, "If-None-Match"), f->etag) ||
	    (f->gz && web_etag_match(http_req_header(req, "If-None-Match"),
				     f->etag_gz))) {
		http_res_send(res, 304, NULL, NULL, 0);
		return;
	}
	if (gz)
		rc = http_res_header(res, "Content-Encoding", "gzip");
	body = malloc((gz ? f->gz_len : f->len) + 1);
	if (rc == 0 && !body)
		rc = CHAT_ENOMEM;
	if (rc != 0) {
		free(body);
		http_res_chat_error(res, rc, NULL);
		return;
	}
	memcpy(body, gz ? f->gz : f->data, gz ? f->gz_len : f->len);
	http_res_send(res, 200, f->type, body, gz ? f->gz_len : f->len);
}
