/*
 * provider.c - what every LLM provider shares: the kind table, the stream
 * state and sink reporting rules, request building (URL joining, headers,
 * JSON bodies), model lists and error texts; and what needs no wire
 * format: echo's plan and the rough token count.
 *
 * No I/O here: the engine sends what build() gives and feeds back what
 * the upstream answers.
 */
#include "provider.h"

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "json.h"
#include "provider-internal.h"
#include "utf8.h"
#include "banned.h"

/* Longest segment of a JSON path in prov_error_text. */
#define PROV_PATH_SEG 64

static const struct provider_ops *const provider_table[] = {
	&provider_openai,
	&provider_ollama,
	&provider_anthropic,
};

static const char *const url_schemes[] = { "http://", "https://" };

/* ---- kinds, requests, lists ---------------------------------------- */

const struct provider_ops *provider_find(const char *kind)
{
	size_t i;

	if (!kind)
		return NULL;
	for (i = 0; i < sizeof(provider_table) / sizeof(provider_table[0]);
	     i++)
		if (strcmp(provider_table[i]->kind, kind) == 0)
			return provider_table[i];
	return NULL;
}

void prov_http_release(struct prov_http *h)
{
	size_t i;

	if (!h)
		return;
	free(h->method);
	free(h->url);
	for (i = 0; h->headers && h->headers[i]; i++)
		free(h->headers[i]);
	free(h->headers);
	free(h->body);
	memset(h, 0, sizeof(*h));
}

void prov_names_free(char **names, size_t n)
{
	size_t i;

	if (!names)
		return;
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* True when s holds a byte that has no place in a URL or header value. */
static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static bool url_scheme_ok(const char *url)
{
	size_t i;

	for (i = 0; i < sizeof(url_schemes) / sizeof(url_schemes[0]); i++)
		if (strncasecmp(url, url_schemes[i],
				strlen(url_schemes[i])) == 0)
			return true;
	return false;
}

int prov_http_start(struct prov_http *h, const char *method,
		    const char *base_url, const char *path)
{
	struct buf url;
	size_t blen;
	int rc = 0;

	memset(h, 0, sizeof(*h));
	buf_init(&url, 8192);
	if (!base_url || !url_scheme_ok(base_url) || has_control(base_url) ||
	    strchr(base_url, ' ')) {
		rc = CHAT_EINVAL;
		goto out;
	}
	blen = strlen(base_url);
	while (blen && base_url[blen - 1] == '/')
		blen--;
	rc = buf_append(&url, base_url, blen);
	if (rc == 0)
		rc = buf_puts(&url, path);
	if (rc < 0)
		goto out;
	h->url = buf_detach(&url, NULL);
	h->method = strdup(method);
	h->headers = calloc(1, sizeof(*h->headers));
	if (!h->url || !h->method || !h->headers)
		rc = CHAT_ENOMEM;
out:
	buf_release(&url);
	if (rc < 0)
		prov_http_release(h);
	return rc;
}

int prov_http_header(struct prov_http *h, const char *name,
		     const char *value)
{
	struct buf line;
	char **grown;
	size_t n = 0;
	int rc = 0;

	buf_init(&line, 16384);
	if (has_control(value)) {
		rc = CHAT_EINVAL;
		goto out;
	}
	rc = buf_printf(&line, "%s: %s", name, value);
	if (rc < 0)
		goto out;
	while (h->headers && h->headers[n])
		n++;
	grown = realloc(h->headers, (n + 2) * sizeof(*grown));
	if (!grown) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	h->headers = grown;
	h->headers[n] = buf_detach(&line, NULL);
	h->headers[n + 1] = NULL;
	if (!h->headers[n])
		rc = CHAT_ENOMEM;
out:
	buf_release(&line);
	return rc;
}

int prov_http_bearer(struct prov_http *h, const char *key)
{
	struct buf v;
	int rc;

	if (!key || !*key)
		return 0;
	buf_init(&v, 8192);
	rc = buf_printf(&v, "Bearer %s", key);
	if (rc == 0)
		rc = prov_http_header(h, "Authorization", v.data);
	buf_release(&v);
	return rc;
}

int prov_http_get_json(struct prov_http *h, const struct provider_conf *pc,
		       const char *path)
{
	int rc;

	rc = prov_http_start(h, "GET", pc->base_url, path);
	if (rc == 0)
		rc = prov_http_header(h, "Accept", "application/json");
	if (rc == 0)
		rc = prov_http_bearer(h, pc->api_key);
	if (rc < 0)
		prov_http_release(h);
	return rc;
}

int prov_http_json(struct prov_http *h, const cJSON *body)
{
	free(h->body);
	h->body = json_print(body);
	if (!h->body)
		return CHAT_ENOMEM;
	h->body_len = strlen(h->body);
	return prov_http_header(h, "Content-Type", "application/json");
}

/* ---- JSON building -------------------------------------------------- */

int prov_params_check(const struct prov_params *p)
{
	if (!p || !p->model || !*p->model || (p->nmessages && !p->messages) ||
	    (p->nstop && !p->stop))
		return CHAT_EINVAL;
	return 0;
}

int prov_chat_start(struct prov_http *h, const struct provider_conf *pc,
		    const char *path, const struct prov_params *p,
		    cJSON **body)
{
	int rc;

	*body = NULL;
	rc = prov_http_start(h, "POST", pc->base_url, path);
	if (rc == 0)
		rc = prov_params_check(p);
	if (rc < 0)
		return rc;
	*body = cJSON_CreateObject();
	if (!*body)
		return CHAT_ENOMEM;
	prov_jstr(*body, "model", p->model, &rc);
	return rc;
}

/* Hangs item under parent (by key, or appended when key is NULL);
 * item is consumed either way.  NULL (and *rc set) on failure. */
static cJSON *jadd(cJSON *parent, const char *key, cJSON *item, int *rc)
{
	bool ok;

	if (*rc || !item || !parent) {
		cJSON_Delete(item);
		if (!*rc)
			*rc = CHAT_ENOMEM;
		return NULL;
	}
	if (key)
		ok = cJSON_AddItemToObject(parent, key, item);
	else
		ok = cJSON_AddItemToArray(parent, item);
	if (!ok) {
		cJSON_Delete(item);
		*rc = CHAT_ENOMEM;
		return NULL;
	}
	return item;
}

cJSON *prov_jobj(cJSON *parent, const char *key, int *rc)
{
	return jadd(parent, key, *rc ? NULL : cJSON_CreateObject(), rc);
}

cJSON *prov_jarr(cJSON *parent, const char *key, int *rc)
{
	return jadd(parent, key, *rc ? NULL : cJSON_CreateArray(), rc);
}

void prov_jstr(cJSON *parent, const char *key, const char *val, int *rc)
{
	jadd(parent, key, *rc ? NULL : cJSON_CreateString(val), rc);
}

void prov_jnum(cJSON *parent, const char *key, double val, int *rc)
{
	jadd(parent, key, *rc ? NULL : cJSON_CreateNumber(val), rc);
}

void prov_jbool(cJSON *parent, const char *key, bool val, int *rc)
{
	jadd(parent, key, *rc ? NULL : cJSON_CreateBool(val), rc);
}

void prov_jstop(cJSON *parent, const char *key,
		const struct prov_params *p, int *rc)
{
	cJSON *arr;
	size_t i;

	if (*rc || p->nstop == 0)
		return;
	arr = prov_jarr(parent, key, rc);
	for (i = 0; i < p->nstop; i++)
		prov_jstr(arr, NULL, p->stop[i] ? p->stop[i] : "", rc);
}

void prov_jmessages(cJSON *parent, const char *key,
		    const struct prov_params *p, int *rc)
{
	cJSON *arr, *m;
	size_t i;

	arr = prov_jarr(parent, key, rc);
	for (i = 0; i < p->nmessages && !*rc; i++) {
		const struct prov_message *pm = &p->messages[i];

		if (!pm->role) {
			*rc = CHAT_EINVAL;
			break;
		}
		m = prov_jobj(arr, NULL, rc);
		prov_jstr(m, "role", pm->role, rc);
		prov_jstr(m, "content", pm->content ? pm->content : "", rc);
	}
}

/* ---- JSON reading --------------------------------------------------- */

int prov_json_parse(const char *text, size_t len, cJSON **out)
{
	return json_parse_object(text, len, out, NULL, 0);
}

long prov_json_count(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) ||
	    v->valuedouble > (double)LONG_MAX / 2)
		return -1;
	return (long)v->valuedouble;
}

int prov_models_list(const char *body, size_t len, const char *list,
		     const char *key, char ***names, size_t *n)
{
	cJSON *root = NULL;
	const cJSON *arr, *item;
	char **out = NULL;
	size_t count = 0;
	int rc;

	*names = NULL;
	*n = 0;
	rc = prov_json_parse(body, len, &root);
	if (rc < 0)
		goto out;
	arr = cJSON_GetObjectItemCaseSensitive(root, list);
	if (!cJSON_IsArray(arr)) {
		rc = CHAT_EPARSE;
		goto out;
	}
	out = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(*out));
	if (!out) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	cJSON_ArrayForEach(item, arr) {
		const char *id = json_str(item, key);

		if (!id || !*id)
			continue;
		out[count] = strdup(id);
		if (!out[count]) {
			rc = CHAT_ENOMEM;
			goto out;
		}
		count++;
	}
	*names = out;
	*n = count;
	out = NULL;
out:
	prov_names_free(out, count);
	cJSON_Delete(root);
	return rc;
}

const char *prov_json_path(const cJSON *root, const char *path)
{
	char seg[PROV_PATH_SEG];
	const cJSON *v = root;

	while (v && *path) {
		size_t k = strcspn(path, ".");

		if (k >= sizeof(seg))
			return NULL;
		memcpy(seg, path, k);
		seg[k] = '\0';
		v = cJSON_IsObject(v) ?
			cJSON_GetObjectItemCaseSensitive(v, seg) : NULL;
		path += k;
		if (*path == '.')
			path++;
	}
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Copies text into out: runs of control characters and spaces become one
 * space, both ends trimmed, bytes >= 0x80 kept only when the text is
 * valid UTF-8 (else '?'), cut at a character boundary to fit. */
static void error_text_copy(const char *text, size_t len, char *out,
			    size_t outlen)
{
	bool utf8 = utf8_valid(text, len), space = false;
	size_t i, o = 0;

	for (i = 0; i < len && o + 1 < outlen; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c <= 0x20 || c == 0x7f) {
			space = o > 0;
			continue;
		}
		if (space) {
			out[o++] = ' ';
			space = false;
			if (o + 1 >= outlen)
				break;
		}
		out[o++] = (c >= 0x80 && !utf8) ? '?' : (char)c;
	}
	/* A cut inside a multi-byte character drops its leading bytes. */
	if (utf8 && o > 0) {
		size_t lead = o - 1;

		while (lead > 0 && ((unsigned char)out[lead] & 0xc0) == 0x80)
			lead--;
		if (!utf8_valid(out + lead, o - lead))
			o = lead;
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
}

void prov_error_text(const char *body, size_t len,
		     const char *const *paths, size_t npaths, char *out,
		     size_t outlen)
{
	cJSON *root = NULL;
	const char *msg = NULL;
	size_t i;

	if (!out || outlen == 0)
		return;
	out[0] = '\0';
	if (!body || len == 0)
		goto out;
	if (prov_json_parse(body, len, &root) < 0) {
		/* no JSON (a proxy's HTML page): the text itself */
		error_text_copy(body, len, out, outlen);
		goto out;
	}
	for (i = 0; i < npaths && !msg; i++)
		msg = prov_json_path(root, paths[i]);
	if (msg)
		error_text_copy(msg, strlen(msg), out, outlen);
out:
	cJSON_Delete(root);
}

/* ---- streams -------------------------------------------------------- */

int prov_stream_new(const struct prov_sink *sink, void *arg,
		    sse_event_fn on_event, struct prov_stream **out)
{
	struct prov_stream *s = NULL;
	int rc = 0;

	*out = NULL;
	if (!sink) {
		rc = CHAT_EINVAL;
		goto out;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	s->sink = *sink;
	s->arg = arg;
	s->prompt_tokens = -1;
	s->completion_tokens = -1;
	buf_init(&s->line, PROV_MAX_EVENT);
	if (on_event) {
		sse_parse_init(&s->sse, PROV_MAX_EVENT, on_event, NULL, s);
		s->has_sse = true;
	}
	*out = s;
out:
	return rc;
}

void prov_stream_free(struct prov_stream *s)
{
	if (!s)
		return;
	if (s->has_sse)
		sse_parse_release(&s->sse);
	buf_release(&s->line);
	free(s);
}

/* Bytes that may come before an event stream's first field. */
static bool sse_lead_byte(unsigned char c)
{
	return c == 0xef || c == 0xbb || c == 0xbf || c == ' ' ||
	       c == '\t' || c == '\r' || c == '\n';
}

/* An event stream starts with a field name or a ':' comment; a body that
 * starts otherwise (JSON, HTML) is not one. */
static int sse_sniff(struct prov_stream *s, const char *data, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)data[i];

		if (sse_lead_byte(c))
			continue;
		s->state |= PROV_SNIFFED;
		return (isalpha(c) || c == ':') ? 0 : CHAT_EPARSE;
	}
	return 0;
}

int prov_stream_feed_sse(struct prov_stream *s, const char *data,
			 size_t len)
{
	int rc = s->failed;

	if (rc || (s->state & PROV_ENDED))
		goto out;
	if (!(s->state & PROV_SNIFFED)) {
		rc = sse_sniff(s, data, len);
		if (rc)
			goto out;
	}
	rc = sse_parse_feed(&s->sse, data, len);
	/* Junk after the end marker is not this stream's business. */
	if (rc == CHAT_ETOOBIG && (s->state & PROV_ENDED))
		rc = 0;
out:
	if (rc && !s->failed)
		s->failed = rc;
	return rc;
}

int prov_stream_end(struct prov_stream *s)
{
	if (s->state & PROV_ENDED)
		return 0;
	return s->failed ? s->failed : CHAT_ECLOSED;
}

int prov_emit_text(struct prov_stream *s, const char *text)
{
	if (!text || !*text || !s->sink.on_text)
		return 0;
	return s->sink.on_text(s->arg, text, strlen(text));
}

void prov_emit_usage(struct prov_stream *s, long prompt, long completion)
{
	if (s->sink.on_usage)
		s->sink.on_usage(s->arg, prompt < 0 ? -1 : prompt,
				 completion < 0 ? -1 : completion);
}

void prov_emit_finish(struct prov_stream *s, const char *reason)
{
	if (s->state & PROV_FINISHED)
		return;
	s->state |= PROV_FINISHED;
	if (s->sink.on_finish)
		s->sink.on_finish(s->arg, reason && *reason ? reason : "stop");
}

void prov_emit_error(struct prov_stream *s, const char *message)
{
	s->state |= PROV_ENDED;
	if (s->sink.on_error)
		s->sink.on_error(s->arg, message && *message ? message :
				 "upstream error");
}

/* ---- echo and token counts ----------------------------------------- */

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
	       c == '\v' || c == '\f';
}

/* The text echo answers: the last user message's, "" when none. */
static const char *echo_source(const struct prov_params *p)
{
	size_t i = p->nmessages;

	while (i-- > 0) {
		const struct prov_message *m = &p->messages[i];

		if (m->role && strcmp(m->role, "user") == 0)
			return m->content ? m->content : "";
	}
	return "";
}

/* Length of text before the earliest stop sequence (len when none). */
static size_t echo_stop_cut(const char *text, size_t len,
			    const struct prov_params *p)
{
	size_t i, cut = len;

	for (i = 0; i < p->nstop; i++) {
		const char *hit;

		if (!p->stop[i] || !*p->stop[i])
			continue;
		hit = strstr(text, p->stop[i]);
		if (hit && (size_t)(hit - text) < cut)
			cut = (size_t)(hit - text);
	}
	return cut;
}

/* End of the piece starting at pos: its spaces, then its word. */
static size_t echo_piece_end(const char *text, size_t len, size_t pos)
{
	while (pos < len && is_space(text[pos]))
		pos++;
	while (pos < len && !is_space(text[pos]))
		pos++;
	return pos;
}

int echo_plan(const struct prov_params *p, char ***pieces, size_t *n,
	      const char **finish)
{
	const char *text = echo_source(p);
	size_t cut, len, pos, end, count = 0, want = 0, limit;
	char **out = NULL;
	int rc = 0;

	*pieces = NULL;
	*n = 0;
	*finish = "stop";
	cut = echo_stop_cut(text, strlen(text), p);
	len = cut;
	/* Trailing spaces ride on the last word, not a piece of their own. */
	while (len > 0 && is_space(text[len - 1]))
		len--;
	for (pos = 0; pos < len; pos = echo_piece_end(text, len, pos))
		want++;
	limit = want;
	if (p->max_tokens > 0 && (size_t)p->max_tokens < want) {
		limit = (size_t)p->max_tokens;
		*finish = "length";
	}
	if (limit == 0)
		goto out;
	out = calloc(limit, sizeof(*out));
	if (!out) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	for (pos = 0; count < limit; pos = end) {
		end = echo_piece_end(text, len, pos);
		if (count + 1 == limit && limit == want)
			end = cut;
		out[count] = strndup(text + pos, end - pos);
		if (!out[count]) {
			rc = CHAT_ENOMEM;
			goto out;
		}
		count++;
	}
	*pieces = out;
	*n = count;
	out = NULL;
out:
	prov_names_free(out, count);
	if (rc < 0)
		*finish = "stop";
	return rc;
}

long prov_count_tokens(const char *text)
{
	size_t len, words = 0, i;
	long by_bytes;

	if (!text)
		return 0;
	len = strlen(text);
	for (i = 0; i < len; i++)
		if (!is_space(text[i]) && (i == 0 || is_space(text[i - 1])))
			words++;
	by_bytes = (long)((len + 3) / 4);
	return (long)words > by_bytes ? (long)words : by_bytes;
}
