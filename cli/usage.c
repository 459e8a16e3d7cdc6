/*
 * usage.c - what `chatctl usage` and `chatctl admin stats` share: the
 * query of a usage report (from, to, group_by) checked before it is
 * sent, and the printing of a UsageReport (docs/api/openapi.yaml) as a
 * table of one row a group, as tsv, or as the server's JSON.
 *
 * Dates are checked here only for their form, so that a typo names the
 * option it came from; the range rules (to before from, more than 366
 * days) are the server's, and its 400 comes back as exit 1.
 */
#include "chatctl.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "banned.h"

#define USAGE_DATE_LEN 10	/* YYYY-MM-DD */

/* The figures of a row, in the table's order after the group's key. */
static const struct {
	const char *field;		/* of UsageFigures */
	const char *head;
} usage_cols[] = {
	{ "requests", "REQUESTS" },
	{ "completed", "COMPLETED" },
	{ "stopped", "STOPPED" },
	{ "failed", "FAILED" },
	{ "prompt_tokens", "PROMPT" },
	{ "completion_tokens", "COMPLETION" },
	{ "total_tokens", "TOTAL" },
	{ "cost", "COST" },
	{ "messages", "MESSAGES" },
};
#define USAGE_NCOLS (sizeof(usage_cols) / sizeof(usage_cols[0]))

/* True for a real calendar day written YYYY-MM-DD. */
static bool usage_date_ok(const char *s)
{
	struct tm tm;
	char back[16];
	const char *end;

	if (strlen(s) != USAGE_DATE_LEN)
		return false;
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%d", &tm);
	if (!end || *end)
		return false;
	/* strptime takes 2025-02-31; the day written back must match */
	tm.tm_isdst = 0;
	if (timegm(&tm) == (time_t)-1 ||
	    strftime(back, sizeof(back), "%Y-%m-%d", &tm) != USAGE_DATE_LEN)
		return false;
	return strcmp(back, s) == 0;
}

/* True when word is one of the '|'-separated list. */
static bool usage_in_list(const char *word, const char *list)
{
	size_t n = strlen(word);
	const char *p = list, *bar;

	while (p && *p) {
		bar = strchr(p, '|');
		if ((bar ? (size_t)(bar - p) : strlen(p)) == n &&
		    strncmp(p, word, n) == 0)
			return true;
		p = bar ? bar + 1 : NULL;
	}
	return false;
}

/* What goes before the next parameter: nothing right after the '?'. */
static const char *usage_sep(const struct buf *path)
{
	return path->len && path->data[path->len - 1] == '?' ? "" : "&";
}

int ctl_usage_query(const struct cli_args *a, const char *groups,
		    struct buf *path)
{
	static const struct {
		int opt;
		const char *name;
		const char *param;
	} dates[] = {
		{ OPT_FROM, "--from", "from" },
		{ OPT_TO, "--to", "to" },
	};
	const char *by = a->val[OPT_BY];
	size_t i;

	for (i = 0; i < sizeof(dates) / sizeof(dates[0]); i++) {
		const char *v = a->val[dates[i].opt];

		if (!v)
			continue;
		if (!usage_date_ok(v)) {
			cli_error("'%s' takes a day as YYYY-MM-DD, not '%.40s'",
				  dates[i].name, v);
			return CLI_USAGE;
		}
		/* the form checked above is all digits and dashes */
		if (buf_printf(path, "%s%s=%s", usage_sep(path),
			       dates[i].param, v) < 0)
			goto nomem;
	}
	if (by) {
		if (!usage_in_list(by, groups)) {
			cli_error("'--by' takes %s, not '%.40s'", groups, by);
			return CLI_USAGE;
		}
		if (buf_printf(path, "%sgroup_by=%s", usage_sep(path), by) < 0)
			goto nomem;
	}
	/* nothing was added: no empty query */
	if (path->len && path->data[path->len - 1] == '?')
		path->data[--path->len] = '\0';
	return CLI_OK;
nomem:
	cli_error("out of memory");
	return CLI_SERVER;
}

/* One figure as a cell: an integer, a cost in dollars, "-" for an
 * unknown cost. */
static void usage_cell(const cJSON *o, const char *field, char *out,
		       size_t outlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, field);

	if (!cJSON_IsNumber(v))
		snprintf(out, outlen, "-");
	else if (strcmp(field, "cost") == 0)
		snprintf(out, outlen, "%.6f", v->valuedouble);
	else
		snprintf(out, outlen, "%.0f", v->valuedouble);
}

/* Adds the row of key and the figures of o. */
static int usage_row(struct table *t, const char *key, const cJSON *o)
{
	char cells[USAGE_NCOLS][32];
	const char *row[USAGE_NCOLS + 1];
	size_t i;

	row[0] = key;
	for (i = 0; i < USAGE_NCOLS; i++) {
		usage_cell(o, usage_cols[i].field, cells[i], sizeof(cells[i]));
		row[i + 1] = cells[i];
	}
	return table_add(t, row);
}

int ctl_usage_print(struct cli_ctx *ctx, const cJSON *report)
{
	const char *group = json_str(report, "group_by");
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(report, "data");
	const cJSON *item, *key;
	const char *head[USAGE_NCOLS + 1];
	char upper[16], keybuf[64];
	struct table t;
	size_t i;
	int rc = 0;

	if (out_is_json(ctx))
		return out_json(ctx, report);
	if (!group || !cJSON_IsArray(data) || strlen(group) >= sizeof(upper)) {
		cli_error("the server's usage answer is malformed");
		return CLI_SERVER;
	}
	for (i = 0; group[i]; i++)
		upper[i] = (char)(group[i] >= 'a' && group[i] <= 'z' ?
				  group[i] - 'a' + 'A' : group[i]);
	upper[i] = '\0';
	head[0] = upper;
	for (i = 0; i < USAGE_NCOLS; i++)
		head[i + 1] = usage_cols[i].head;
	table_init(&t, USAGE_NCOLS + 1);
	rc = table_add(&t, head);
	cJSON_ArrayForEach(item, data) {
		if (rc < 0)
			break;
		/* a model is null for conversations made without one */
		key = cJSON_GetObjectItemCaseSensitive(item, group);
		if (cJSON_IsString(key))
			snprintf(keybuf, sizeof(keybuf), "%s",
				 key->valuestring);
		else
			snprintf(keybuf, sizeof(keybuf), "-");
		rc = usage_row(&t, keybuf, item);
	}
	/* the total is for people; a script sums the tsv rows itself */
	if (rc == 0 && ctx->out_format == OUT_TABLE)
		rc = usage_row(&t, "total", cJSON_GetObjectItemCaseSensitive(
						    report, "totals"));
	if (rc < 0) {
		cli_error("out of memory");
		rc = CLI_SERVER;
	} else {
		rc = table_print(ctx, &t, 0);
	}
	table_release(&t);
	return rc;
}
