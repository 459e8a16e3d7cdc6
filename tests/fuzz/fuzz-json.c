/*
 * fuzz-json.c - libFuzzer target for request bodies (shared/json.c): the
 * input is a body as a client sends it to json_parse_object and
 * json_parse_body.
 *
 * Beyond memory safety it checks the parsers' contracts on what they
 * accept: json_parse_body accepts nothing json_parse_object refuses; an
 * accepted body is an object without a key twice in any object; the
 * field getters answer on every member; and printing is a round trip
 * (the printed text parses again into the same tree), which is what the
 * daemons rely on when they forward a body they parsed.
 *
 * "The same" is up to cJSON's number printing, which keeps 15
 * significant digits: 9007199254740993 comes back as 9.00719925474099e+15
 * and 1.7976931348623157e308 as a number past the largest double, which
 * then prints as null.  Numbers are compared within that precision.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "json.h"
#include "utf8.h"

#include "fuzz.h"

/* No two members of any object under item have the same key. */
static void check_keys(const cJSON *item)
{
	const cJSON *a, *b;

	if (cJSON_IsObject(item))
		for (a = item->child; a; a = a->next)
			for (b = a->next; b; b = b->next)
				FUZZ_CHECK(strcmp(a->string, b->string) != 0);
	if (cJSON_IsObject(item) || cJSON_IsArray(item))
		for (a = item->child; a; a = a->next)
			check_keys(a);
}

/* Every getter on every member of obj: whatever the member's type, an
 * answer and, on failure, a message that fits its buffer. */
static void check_getters(const cJSON *obj)
{
	const cJSON *m;
	const char *s;
	char err[48];
	int64_t i;
	bool b;
	int rc;

	for (m = obj->child; m; m = m->next) {
		err[0] = '\0';
		rc = json_get_string(obj, m->string, true, 1, 16, &s, err,
				     sizeof(err));
		FUZZ_CHECK(rc == 0 || rc == CHAT_EINVAL);
		FUZZ_CHECK(rc != 0 || (strlen(s) >= 1 && strlen(s) <= 16));
		FUZZ_CHECK(strlen(err) < sizeof(err));
		rc = json_get_int(obj, m->string, true, -5, 1000000, &i, err,
				  sizeof(err));
		FUZZ_CHECK(rc != 0 || (i >= -5 && i <= 1000000));
		rc = json_get_bool(obj, m->string, false, &b, err,
				   sizeof(err));
		FUZZ_CHECK(rc == 0 || rc == CHAT_EINVAL);
		/* keys are unique: the member found is m */
		s = json_str(obj, m->string);
		FUZZ_CHECK(s == (cJSON_IsString(m) ? m->valuestring : NULL));
	}
}

/* a and b are the same tree, numbers within printing precision. */
static void check_same(const cJSON *a, const cJSON *b)
{
	const cJSON *x, *y;
	double u, v;

	FUZZ_CHECK(a && b);
	if (cJSON_IsNumber(a)) {
		u = a->valuedouble;
		if (cJSON_IsNull(b)) {
			/* printed as null: infinite, or rounded past DBL_MAX */
			FUZZ_CHECK(!isfinite(u) ||
				   fabs(u) > 1.79769313486231e308);
			return;
		}
		FUZZ_CHECK(cJSON_IsNumber(b));
		v = b->valuedouble;
		FUZZ_CHECK(u == v ||
			   fabs(u - v) <= 1e-14 * fmax(fabs(u), fabs(v)));
		return;
	}
	FUZZ_CHECK((a->type & 0xff) == (b->type & 0xff));
	if (cJSON_IsString(a))
		FUZZ_CHECK(strcmp(a->valuestring, b->valuestring) == 0);
	for (x = a->child, y = b->child; x || y; x = x->next, y = y->next) {
		FUZZ_CHECK(x && y);
		FUZZ_CHECK(!cJSON_IsObject(a) ||
			   strcmp(x->string, y->string) == 0);
		check_same(x, y);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;
	cJSON *obj = NULL, *strict = NULL, *again = NULL;
	char err[128], *text;
	int rc, rc_body;

	err[0] = '\0';
	rc = json_parse_object(body, size, &obj, err, sizeof(err));
	FUZZ_CHECK(rc == 0 || rc == CHAT_EPARSE || rc == CHAT_ENOMEM);
	FUZZ_CHECK((rc == 0) == (obj != NULL));
	FUZZ_CHECK(rc == 0 || err[0]);
	FUZZ_CHECK(utf8_valid(err, strlen(err)));
	rc_body = json_parse_body(body, size, &strict, err, sizeof(err));
	FUZZ_CHECK((rc_body == 0) == (strict != NULL));
	/* the body parser is the stricter one */
	FUZZ_CHECK(rc_body != 0 || rc == 0);
	cJSON_Delete(strict);
	if (rc != 0)
		return 0;

	FUZZ_CHECK(cJSON_IsObject(obj));
	FUZZ_CHECK(utf8_valid(body, size));
	check_keys(obj);
	check_getters(obj);

	/* print and parse: the same tree */
	text = json_print(obj);
	FUZZ_CHECK(text);
	rc = json_parse_object(text, strlen(text), &again, err, sizeof(err));
	if (rc != 0)
		fprintf(stderr, "printed %s: %s\n", text, err);
	FUZZ_CHECK(rc == 0);
	check_same(obj, again);

	free(text);
	cJSON_Delete(again);
	cJSON_Delete(obj);
	return 0;
}
