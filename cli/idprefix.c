/*
 * idprefix.c - ids given by a unique prefix, as git takes abbreviated
 * hashes: wherever chatctl takes a conversation or message id, its first
 * IDPREFIX_MIN or more characters do when no other id starts the same
 * way.  An ambiguous prefix is an error naming the candidates.
 *
 * There is no server filter by id prefix, so a conversation is looked
 * for in the list (GET /v1/conversations, archived ones too, every page);
 * a message within its conversation: the current branch and, at each
 * level of it, the siblings (sibling_ids), which are what a user sees and
 * can name.  A full-length id is passed on untouched, unlisted: the
 * server judges it.
 */
#include "chatctl.h"

#include <string.h>
#include <strings.h>

#include "banned.h"

#define IDPREFIX_MIN 4		/* shorter is no prefix but a typo */
#define IDPREFIX_FULL 36	/* a UUID's text */
#define IDPREFIX_NAMED 5	/* candidates an ambiguity error names */
#define IDPREFIX_PAGES_MAX 1000	/* 100000 conversations */

/* The matches found so far of one prefix. */
struct idprefix_find {
	const char *prefix;
	size_t len;
	int count;
	char first[IDPREFIX_FULL + 1];	/* the first match */
	struct buf named;		/* "id (title), ..." for an error */
};

static void idprefix_consider(struct idprefix_find *f, const char *id,
			      const char *label)
{
	if (!id || strncasecmp(id, f->prefix, f->len) != 0)
		return;
	if (f->count == 0)
		snprintf(f->first, sizeof(f->first), "%s", id);
	else if (f->count == 1 && strcmp(f->first, id) == 0)
		return;		/* seen already */
	if (f->count < IDPREFIX_NAMED)
		buf_printf(&f->named, "%s%s%s%s%s", f->count ? ", " : "", id,
			   label ? " (" : "", label ? label : "",
			   label ? ")" : "");
	f->count++;
}

/* Checks arg's length; 1 when it is a full id (copied to out), 0 when
 * it is a prefix to look for, or an exit status (negative: none). */
static int idprefix_check(const char *what, const char *arg, char *out,
			  size_t outlen)
{
	size_t n = strlen(arg);

	if (n >= IDPREFIX_FULL) {
		snprintf(out, outlen, "%s", arg);
		return 1;
	}
	if (n < IDPREFIX_MIN) {
		cli_error("'%s' is too short for a %s id (give at least %d "
			  "characters)", arg, what, IDPREFIX_MIN);
		return -CLI_USAGE;
	}
	return 0;
}

/* The outcome of a search: the one match in out, or the error. */
static int idprefix_result(struct idprefix_find *f, const char *what,
			   char *out, size_t outlen)
{
	int rc = CLI_OK;

	if (f->count == 0) {
		cli_error("no %s id starts with '%s'", what, f->prefix);
		rc = CLI_NOTFOUND;
	} else if (f->count > 1) {
		cli_error("%s id '%s' is ambiguous: %d candidates: %s%s", what,
			  f->prefix, f->count,
			  f->named.data ? f->named.data : "",
			  f->count > IDPREFIX_NAMED ? ", ..." : "");
		rc = CLI_USAGE;
	} else {
		snprintf(out, outlen, "%s", f->first);
	}
	buf_release(&f->named);
	return rc;
}

int idprefix_conv(struct cli_ctx *ctx, const char *arg, char *out,
		  size_t outlen)
{
	struct idprefix_find f = { arg, strlen(arg), 0, "", { 0 } };
	char path[1024], cur[600] = "";
	const cJSON *data, *c;
	cJSON *page = NULL;
	const char *next;
	int rc, n;

	rc = idprefix_check("conversation", arg, out, outlen);
	if (rc != 0)
		return rc > 0 ? CLI_OK : -rc;
	buf_init(&f.named, 4096);
	for (n = 0; n < IDPREFIX_PAGES_MAX; n++) {
		snprintf(path, sizeof(path),
			 "/v1/conversations?limit=100&archived=all%s%s",
			 cur[0] ? "&cursor=" : "", cur);
		rc = api_json(ctx, "GET", path, NULL, &page);
		if (rc != CLI_OK) {
			buf_release(&f.named);
			return rc;
		}
		data = cJSON_GetObjectItemCaseSensitive(page, "data");
		cJSON_ArrayForEach(c, data) {
			idprefix_consider(&f, json_str(c, "id"),
					  json_str(c, "title") ?
						  json_str(c, "title") :
						  "untitled");
		}
		next = json_str(page, "next_cursor");
		cur[0] = '\0';
		if (next && next[0] && api_escape(next, cur, sizeof(cur)) < 0)
			cur[0] = '\0';
		cJSON_Delete(page);
		page = NULL;
		if (!cur[0])
			break;
	}
	return idprefix_result(&f, "conversation", out, outlen);
}

int idprefix_msg(const cJSON *conv, const char *arg, char *out,
		 size_t outlen)
{
	struct idprefix_find f = { arg, strlen(arg), 0, "", { 0 } };
	const cJSON *msgs, *m, *sib, *s;
	int rc;

	rc = idprefix_check("message", arg, out, outlen);
	if (rc != 0)
		return rc > 0 ? CLI_OK : -rc;
	buf_init(&f.named, 4096);
	msgs = cJSON_GetObjectItemCaseSensitive(conv, "messages");
	cJSON_ArrayForEach(m, msgs) {
		sib = cJSON_GetObjectItemCaseSensitive(m, "sibling_ids");
		if (!cJSON_GetArraySize(sib))
			idprefix_consider(&f, json_str(m, "id"),
					  json_str(m, "role"));
		cJSON_ArrayForEach(s, sib) {
			if (!cJSON_IsString(s))
				continue;
			/* a sibling off the branch has no role at hand */
			idprefix_consider(&f, s->valuestring,
					  strcmp(s->valuestring,
						 json_str(m, "id") ?
							 json_str(m, "id") :
							 "") == 0 ?
						  json_str(m, "role") :
						  NULL);
		}
	}
	return idprefix_result(&f, "message", out, outlen);
}
