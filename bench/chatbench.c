/*
 * chatbench.c - the load generator of bench/chat.sh (issue 3).  libcurl
 * does the HTTP so that the numbers measure the server, not the tool.
 *
 *   chatbench latency -n N [-r RATE] [-H HDR]... -d BODY URL
 *       N requests one after the other on one keep-alive connection;
 *       the time from sending to the last byte of each.  With -r, request
 *       i starts no sooner than i / RATE seconds after the first (a paced
 *       load, as bench/webhooks.sh's embedded part makes events); the
 *       rate reached is printed.
 *   chatbench ttft -n N [-H HDR]... -d BODY -m MARKER URL
 *       N streaming requests one after the other; the time from sending
 *       to the first received byte that completes MARKER (for example
 *       "event: delta" or "\"content\":\""), and to the end.
 *   chatbench streams -c N [-r RATE] -t TOKEN [-d BODY] BASE
 *       N conversations created through BASE (the gateway), then one SSE
 *       send in each, all at once (or, with -r, RATE sends a second, so
 *       that streams long enough overlap up to N at once without N
 *       starting in the same instant); counts the streams that end with
 *       a `done` event whose stored text equals the concatenated deltas,
 *       the delta events received in all and the most streams open at
 *       once.
 *
 * Each mode prints one JSON object on stdout: counts and, for the timed
 * modes, p50/p90/p99/max in microseconds.  Exit 0 when every request
 * succeeded.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "buf.h"
#include "sse-parse.h"

#define BENCH_MAX_HEADERS 16
#define BENCH_BODY_MAX (16 * 1024 * 1024)

struct opts {
	long n;				/* requests (latency, ttft) */
	long c;				/* concurrent streams */
	long rate;			/* requests a second; 0: no pacing */
	const char *body;
	const char *marker;
	const char *token;
	const char *url;
	const char *headers[BENCH_MAX_HEADERS];
	int nheaders;
};

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Adds "name": {p50, p90, p99, max} of the n samples (sorted here). */
static void add_stats(cJSON *out, const char *name, int64_t *v, long n)
{
	cJSON *o = cJSON_AddObjectToObject(out, name);

	if (n <= 0)
		return;
	qsort(v, (size_t)n, sizeof(*v), cmp_i64);
	cJSON_AddNumberToObject(o, "p50_us", (double)v[(n - 1) * 50 / 100]);
	cJSON_AddNumberToObject(o, "p90_us", (double)v[(n - 1) * 90 / 100]);
	cJSON_AddNumberToObject(o, "p99_us", (double)v[(n - 1) * 99 / 100]);
	cJSON_AddNumberToObject(o, "max_us", (double)v[n - 1]);
}

static void print_json(cJSON *o)
{
	char *s = cJSON_PrintUnformatted(o);

	if (s)
		puts(s);
	free(s);
	cJSON_Delete(o);
}

static struct curl_slist *header_list(const struct opts *o, bool json)
{
	struct curl_slist *h = NULL;
	int i;

	for (i = 0; i < o->nheaders; i++)
		h = curl_slist_append(h, o->headers[i]);
	if (json)
		h = curl_slist_append(h, "Content-Type: application/json");
	return h;
}

/* ---- latency and ttft --------------------------------------------- */

struct one {
	struct buf body;
	const char *marker;
	size_t scan;			/* marker search resumes here */
	int64_t start_us;
	int64_t first_us;		/* 0 until the marker is seen */
};

static size_t one_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct one *r = arg;
	size_t len = size * nmemb;
	size_t mlen;

	if (buf_append(&r->body, data, len) < 0)
		return 0;
	if (!r->marker || r->first_us)
		return len;
	mlen = strlen(r->marker);
	if (strstr(r->body.data + r->scan, r->marker))
		r->first_us = mono_us();
	else if (r->body.len >= mlen)
		r->scan = r->body.len - mlen + 1;
	return len;
}

static int run_sequential(const struct opts *o, bool ttft)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = header_list(o, o->body != NULL);
	int64_t *total = calloc((size_t)o->n, sizeof(*total));
	int64_t *first = calloc((size_t)o->n, sizeof(*first));
	long i, ok = 0, errors = 0, nfirst = 0;
	int64_t t0 = mono_us(), due, now;
	struct timespec ts;
	cJSON *out;
	int rc = 1;

	if (!c || !total || !first)
		goto out;
	curl_easy_setopt(c, CURLOPT_URL, o->url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, one_write);
	curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	if (o->body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, o->body);
	for (i = 0; i < o->n; i++) {
		struct one r = { .marker = ttft ? o->marker : NULL };
		long status = 0;
		CURLcode cc;

		buf_init(&r.body, BENCH_BODY_MAX);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
		/* paced: behind schedule, the next goes at once */
		due = o->rate > 0 ? t0 + i * 1000000 / o->rate : 0;
		while ((now = mono_us()) < due) {
			ts.tv_sec = (due - now) / 1000000;
			ts.tv_nsec = (long)((due - now) % 1000000) * 1000;
			nanosleep(&ts, NULL);
		}
		r.start_us = mono_us();
		cc = curl_easy_perform(c);
		total[ok] = mono_us() - r.start_us;
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		if (cc != CURLE_OK || status < 200 || status > 299 ||
		    (ttft && !r.first_us)) {
			if (errors++ == 0)
				fprintf(stderr, "chatbench: request %ld: %s "
					"status %ld: %.200s\n", i,
					curl_easy_strerror(cc), status,
					r.body.data ? r.body.data : "");
		} else {
			if (ttft)
				first[nfirst++] = r.first_us - r.start_us;
			ok++;
		}
		buf_release(&r.body);
	}
	out = cJSON_CreateObject();
	cJSON_AddNumberToObject(out, "requests", (double)o->n);
	cJSON_AddNumberToObject(out, "ok", (double)ok);
	cJSON_AddNumberToObject(out, "errors", (double)errors);
	cJSON_AddNumberToObject(out, "per_s",
				(double)o->n * 1e6 / (double)(mono_us() - t0));
	add_stats(out, "total", total, ok);
	if (ttft)
		add_stats(out, "first", first, nfirst);
	print_json(out);
	rc = errors ? 1 : 0;
out:
	free(total);
	free(first);
	curl_slist_free_all(h);
	if (c)
		curl_easy_cleanup(c);
	return rc;
}

/* ---- streams -------------------------------------------------------- */

struct stream {
	CURL *c;
	struct sse_parser p;
	struct buf text;		/* the deltas, concatenated */
	char conv_id[64];
	bool done;			/* a done event, text matched */
	bool mismatch;
	bool error;
	long deltas;			/* delta events received */
	CURLcode cc;			/* the transfer's result */
	int64_t start_us;
	int64_t first_us;
	int64_t end_us;
};

static int stream_event(void *arg, const struct sse_event *ev)
{
	struct stream *s = arg;
	cJSON *j = cJSON_ParseWithLength(ev->data, ev->data_len);
	const cJSON *t;

	if (!j)
		return 0;
	if (strcmp(ev->event, "delta") == 0) {
		t = cJSON_GetObjectItemCaseSensitive(j, "text");
		if (cJSON_IsString(t)) {
			if (!s->first_us)
				s->first_us = mono_us();
			s->deltas++;
			buf_puts(&s->text, t->valuestring);
		}
	} else if (strcmp(ev->event, "done") == 0) {
		t = cJSON_GetObjectItemCaseSensitive(j, "content");
		s->done = true;
		s->mismatch = !cJSON_IsString(t) ||
			      strcmp(t->valuestring,
				     s->text.data ? s->text.data : "") != 0;
	} else if (strcmp(ev->event, "error") == 0) {
		static int shown;

		s->error = true;
		if (shown++ < 3)
			fprintf(stderr, "chatbench: error event: %.300s\n",
				ev->data);
	}
	cJSON_Delete(j);
	return 0;
}

static size_t stream_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct stream *s = arg;
	size_t len = size * nmemb;

	return sse_parse_feed(&s->p, data, len) == 0 ? len : 0;
}

static size_t sink_write(char *data, size_t size, size_t nmemb, void *arg)
{
	(void)data;
	return buf_append(arg, data, size * nmemb) < 0 ? 0 : size * nmemb;
}

/* POST BASE/v1/conversations: the new conversation's id into out. */
static int create_conversation(const struct opts *o, struct curl_slist *h,
			       char *out, size_t outlen)
{
	CURL *c = curl_easy_init();
	struct buf body;
	char url[512];
	long status = 0;
	cJSON *j = NULL;
	const cJSON *id;
	int rc = -1;

	buf_init(&body, 1 << 20);
	if (!c)
		goto out;
	snprintf(url, sizeof(url), "%s/v1/conversations", o->url);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{}");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
	if (curl_easy_perform(c) != CURLE_OK)
		goto out;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (status != 201 || !body.data)
		goto out;
	j = cJSON_Parse(body.data);
	id = cJSON_GetObjectItemCaseSensitive(j, "id");
	if (!cJSON_IsString(id))
		goto out;
	snprintf(out, outlen, "%s", id->valuestring);
	rc = 0;
out:
	if (rc < 0)
		fprintf(stderr, "chatbench: cannot create a conversation "
			"(status %ld): %.200s\n", status,
			body.data ? body.data : "");
	cJSON_Delete(j);
	buf_release(&body);
	if (c)
		curl_easy_cleanup(c);
	return rc;
}

static int run_streams(const struct opts *o)
{
	struct stream *s = calloc((size_t)o->c, sizeof(*s));
	int64_t *first = calloc((size_t)o->c, sizeof(*first));
	int64_t *total = calloc((size_t)o->c, sizeof(*total));
	struct curl_slist *h = NULL, *hs;
	char auth[4096], url[512];
	CURLM *m = curl_multi_init();
	long i, done = 0, errors = 0, mismatch = 0, nfirst = 0, deltas = 0;
	long f_curl = 0, f_status = 0, f_event = 0, f_nodone = 0;
	long next = 0, open = 0, most = 0;
	int running = 0, wait_ms;
	int64_t t0, wall, due;
	cJSON *out;
	int rc = 1;

	if (!s || !first || !total || !m)
		goto out;
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", o->token);
	h = curl_slist_append(h, auth);
	h = curl_slist_append(h, "Content-Type: application/json");
	for (i = 0; i < o->c; i++)
		if (create_conversation(o, h, s[i].conv_id,
					sizeof(s[i].conv_id)) < 0)
			goto out;
	hs = curl_slist_append(NULL, auth);
	hs = curl_slist_append(hs, "Content-Type: application/json");
	hs = curl_slist_append(hs, "Accept: text/event-stream");
	curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, 0L);
	t0 = mono_us();
	for (i = 0; i < o->c; i++) {
		s[i].c = curl_easy_init();
		if (!s[i].c)
			goto out;
		buf_init(&s[i].text, BENCH_BODY_MAX);
		sse_parse_init(&s[i].p, 0, stream_event, NULL, &s[i]);
		snprintf(url, sizeof(url), "%s/v1/conversations/%s/messages",
			 o->url, s[i].conv_id);
		curl_easy_setopt(s[i].c, CURLOPT_URL, url);
		curl_easy_setopt(s[i].c, CURLOPT_COPYPOSTFIELDS,
				 o->body ? o->body : "{\"content\":\"hello\"}");
		curl_easy_setopt(s[i].c, CURLOPT_HTTPHEADER, hs);
		curl_easy_setopt(s[i].c, CURLOPT_WRITEFUNCTION, stream_write);
		curl_easy_setopt(s[i].c, CURLOPT_WRITEDATA, &s[i]);
		curl_easy_setopt(s[i].c, CURLOPT_PRIVATE, &s[i]);
		curl_easy_setopt(s[i].c, CURLOPT_TIMEOUT, 600L);
	}
	while (next < o->c || running) {
		CURLMsg *msg;
		int left;

		/* the sends that are due: all at once without -r */
		while (next < o->c &&
		       (o->rate <= 0 ||
			mono_us() >= t0 + next * 1000000 / o->rate)) {
			s[next].start_us = mono_us();
			curl_multi_add_handle(m, s[next++].c);
			if (++open > most)
				most = open;
		}
		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left))) {
			struct stream *st;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
					  (char **)&st);
			st->end_us = mono_us();
			st->cc = msg->data.result;
			if (msg->data.result != CURLE_OK)
				st->error = true;
			open--;
		}
		wait_ms = 1000;
		if (next < o->c && o->rate > 0) {
			due = t0 + next * 1000000 / o->rate - mono_us();
			wait_ms = due <= 0 ? 0 : (int)(due / 1000) + 1;
		}
		if (running || next < o->c)
			curl_multi_poll(m, NULL, 0, wait_ms, NULL);
	}
	wall = mono_us() - t0;
	for (i = 0; i < o->c; i++) {
		if (s[i].done && !s[i].mismatch && !s[i].error) {
			total[done++] = s[i].end_us - s[i].start_us;
		} else if (s[i].mismatch) {
			mismatch++;
		} else {
			long status = 0;

			errors++;
			curl_easy_getinfo(s[i].c, CURLINFO_RESPONSE_CODE,
					  &status);
			if (s[i].cc != CURLE_OK) {
				if (f_curl++ == 0)
					fprintf(stderr, "chatbench: a stream "
						"failed: %s\n",
						curl_easy_strerror(s[i].cc));
			} else if (status != 200) {
				if (f_status++ == 0)
					fprintf(stderr, "chatbench: a stream "
						"answered %ld\n", status);
			} else if (s[i].error) {
				f_event++;
			} else {
				f_nodone++;
			}
		}
		if (s[i].first_us)
			first[nfirst++] = s[i].first_us - s[i].start_us;
		deltas += s[i].deltas;
		curl_multi_remove_handle(m, s[i].c);
		curl_easy_cleanup(s[i].c);
		buf_release(&s[i].text);
		sse_parse_release(&s[i].p);
	}
	curl_slist_free_all(hs);
	out = cJSON_CreateObject();
	cJSON_AddNumberToObject(out, "streams", (double)o->c);
	cJSON_AddNumberToObject(out, "completed", (double)done);
	cJSON_AddNumberToObject(out, "text_mismatch", (double)mismatch);
	cJSON_AddNumberToObject(out, "failed", (double)errors);
	cJSON_AddNumberToObject(out, "failed_transfer", (double)f_curl);
	cJSON_AddNumberToObject(out, "failed_status", (double)f_status);
	cJSON_AddNumberToObject(out, "failed_error_event", (double)f_event);
	cJSON_AddNumberToObject(out, "failed_no_done", (double)f_nodone);
	cJSON_AddNumberToObject(out, "deltas", (double)deltas);
	cJSON_AddNumberToObject(out, "wall_ms", (double)(wall / 1000));
	cJSON_AddNumberToObject(out, "most_open", (double)most);
	add_stats(out, "first", first, nfirst);
	add_stats(out, "total", total, done);
	print_json(out);
	rc = done == o->c ? 0 : 1;
out:
	curl_slist_free_all(h);
	if (m)
		curl_multi_cleanup(m);
	free(s);
	free(first);
	free(total);
	return rc;
}

/* ---- main ----------------------------------------------------------- */

static int mode_latency(const struct opts *o)
{
	return run_sequential(o, false);
}

static int mode_ttft(const struct opts *o)
{
	return o->marker ? run_sequential(o, true) : -1;
}

static const struct {
	const char *name;
	int (*run)(const struct opts *o);
	bool needs_n;
} modes[] = {
	{ "latency", mode_latency, true },
	{ "ttft", mode_ttft, true },
	{ "streams", run_streams, false },
};

static void usage(void)
{
	fputs("usage: chatbench latency -n N [-r RATE] [-H HDR]... [-d BODY] "
	      "URL\n"
	      "       chatbench ttft -n N [-H HDR]... -d BODY -m MARKER URL\n"
	      "       chatbench streams -c N [-r RATE] -t TOKEN [-d BODY] "
	      "BASE\n",
	      stderr);
}

int main(int argc, char **argv)
{
	struct opts o = { .n = 0, .c = 0 };
	size_t i;
	int ch, rc;

	if (argc < 2) {
		usage();
		return 2;
	}
	optind = 2;
	while ((ch = getopt(argc, argv, "n:c:d:m:t:r:H:")) != -1) {
		if (ch == 'n')
			o.n = strtol(optarg, NULL, 10);
		else if (ch == 'r')
			o.rate = strtol(optarg, NULL, 10);
		else if (ch == 'c')
			o.c = strtol(optarg, NULL, 10);
		else if (ch == 'd')
			o.body = optarg;
		else if (ch == 'm')
			o.marker = optarg;
		else if (ch == 't')
			o.token = optarg;
		else if (ch == 'H' && o.nheaders < BENCH_MAX_HEADERS)
			o.headers[o.nheaders++] = optarg;
		else {
			usage();
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage();
		return 2;
	}
	o.url = argv[optind];
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = -1;
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (strcmp(argv[1], modes[i].name) != 0)
			continue;
		if ((modes[i].needs_n && o.n <= 0) ||
		    (!modes[i].needs_n && (o.c <= 0 || !o.token)))
			break;
		rc = modes[i].run(&o);
		break;
	}
	curl_global_cleanup();
	if (rc < 0) {
		usage();
		return 2;
	}
	return rc;
}
