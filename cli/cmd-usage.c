/*
 * cmd-usage.c - `chatctl usage [--from D] [--to D] [--by day|model]`:
 * the caller's own usage (GET /v1/users/me/usage, analyticsd): requests,
 * tokens and cost a day or a model over a range of UTC days (default the
 * last 30), printed by usage.c.  The figures come from the events, a
 * moment behind the requests.
 */
#include "chatctl.h"

#include "banned.h"

#define USAGE_PATH_MAX 256	/* the path and its query, bytes */

static int usage_exec(struct cli_ctx *ctx, const struct cli_args *a)
{
	struct buf path;
	cJSON *report = NULL;
	int rc;

	buf_init(&path, USAGE_PATH_MAX);
	/* the '?' lets ctl_usage_query append '&name=value' alike */
	if (buf_puts(&path, "/v1/users/me/usage?") < 0) {
		cli_error("out of memory");
		rc = CLI_SERVER;
	} else {
		rc = ctl_usage_query(a, "day|model", &path);
	}
	if (rc == CLI_OK)
		rc = api_json(ctx, "GET", path.data, NULL, &report);
	if (rc == CLI_OK)
		rc = ctl_usage_print(ctx, report);
	cJSON_Delete(report);
	buf_release(&path);
	return rc;
}

const struct cli_cmd cmd_usage = {
	.name = "usage",
	.args = "",
	.summary = "your requests, tokens and cost by day or by model",
	.opts = (const int[]){ OPT_FROM, OPT_TO, OPT_BY, OUT_OPTS, 0 },
	.min_pos = 0,
	.max_pos = 0,
	.exec = usage_exec,
};
