/*
 * model-default.c - the model that answers a conversation naming none,
 * so that a MODEL column shows a real name rather than "default": the
 * caller's preferences.default_model (GET /v1/users/me), else the
 * server's default (GET /v1/models, its default_model), as chatd picks
 * it.  The calls are quiet: a failure leaves the caller's fallback.
 */
#include "chatctl.h"

#include <string.h>

#include "banned.h"

/* A string field of a quiet GET's answer, copied into out; false when
 * the call fails or the field is missing, null or empty. */
static bool ctl_model_get(struct cli_ctx *ctx, const char *path,
			  const char *object, const char *field, char *out,
			  size_t outlen)
{
	struct api_req req = { "GET", path, NULL, API_QUIET, NULL, NULL,
			       NULL };
	struct api_res res;
	const cJSON *obj;
	const char *s;
	bool found = false;

	if (api_call(ctx, &req, &res) == CLI_OK && res.json) {
		obj = object ? cJSON_GetObjectItemCaseSensitive(res.json,
								object) :
			       res.json;
		s = json_str(obj, field);
		if (s && s[0] && strlen(s) < outlen) {
			memcpy(out, s, strlen(s) + 1);
			found = true;
		}
	}
	api_res_release(&res);
	return found;
}

int ctl_model_default(struct cli_ctx *ctx, char *out, size_t outlen)
{
	if (ctl_model_get(ctx, "/v1/users/me", "preferences",
			  "default_model", out, outlen) ||
	    ctl_model_get(ctx, "/v1/models", NULL, "default_model", out,
			  outlen))
		return CLI_OK;
	return CLI_NOTFOUND;
}
