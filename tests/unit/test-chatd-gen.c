/*
 * test-chatd-gen.c - one generation of chatd on its own, driven the way
 * live.c drives it and reporting only through its struct gen_owner: no
 * registry, no writer thread, no store, no aid.  The owner's call hands
 * back the stream callbacks, which the test plays as aid would (a whole
 * answer, a failed start, a stop); the notes must come in order (rows,
 * text, the end exactly once) and gen_finish must say what the owner
 * does next (the end event, the stop answer, the title request).
 * Its line in deps.mk links gen.o without live.o: should gen.c call
 * live.c again, this test stops linking.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../daemons/chatd/live.h"
#include "err.h"
#include "json.h"
#include "banned.h"

#define NOTES_MAX 16

/* The owner the test plays: what gen told it, and the call it started. */
struct fake_owner {
	enum gen_note notes[NOTES_MAX];
	size_t nnotes;
	int call_rc;			/* what call answers */
	int ncalls;
	const struct http_client_cb *cb;	/* the started call's */
	void *cb_arg;
};

/* One generation under test, with what it was started from. */
struct fixture {
	struct chatd cd;
	struct hub *hub;
	struct fake_owner owner;
	struct chat_gen *g;
	struct chat_conv conv;
	struct chat_msg user_msg;
	struct chat_msg asst;
	uint64_t message_id;
};

static void fake_note(void *arg, enum gen_note what)
{
	struct fake_owner *o = arg;

	assert_true(o->nnotes < NOTES_MAX);
	o->notes[o->nnotes++] = what;
}

static int fake_call(void *arg, const struct http_request *req,
		     const struct http_client_cb *cb, void *cb_arg)
{
	struct fake_owner *o = arg;

	assert_string_equal(req->method, "POST");
	assert_non_null(strstr(req->url, "/internal/generate"));
	o->ncalls++;
	if (o->call_rc < 0)
		return o->call_rc;	/* then no callback ever runs */
	o->cb = cb;
	o->cb_arg = cb_arg;
	return 0;
}

/* Starts a generation whose owner's call answers call_rc. */
static void fixture_start(struct fixture *f, int call_rc)
{
	struct gen_owner owner = {
		.note = fake_note,
		.call = fake_call,
		.arg = &f->owner,
	};
	struct gen_spec spec = { 0 };

	memset(f, 0, sizeof(*f));
	snprintf(f->cd.aid_url, sizeof(f->cd.aid_url), "http://127.0.0.1:9");
	f->owner.call_rc = call_rc;
	assert_int_equal(hub_new(&f->hub), 0);

	snprintf(f->conv.id, sizeof(f->conv.id),
		 "01900000-0000-7000-8000-0000000000c1");
	snprintf(f->user_msg.id, sizeof(f->user_msg.id),
		 "01900000-0000-7000-8000-0000000000a1");
	snprintf(f->user_msg.conversation_id,
		 sizeof(f->user_msg.conversation_id), "%s", f->conv.id);
	snprintf(f->user_msg.role, sizeof(f->user_msg.role), "user");
	snprintf(f->user_msg.status, sizeof(f->user_msg.status), "%s",
		 MSG_COMPLETE);
	f->user_msg.content = (char *)"name this";
	f->asst = f->user_msg;
	snprintf(f->asst.id, sizeof(f->asst.id),
		 "01900000-0000-7000-8000-0000000000a2");
	snprintf(f->asst.parent_id, sizeof(f->asst.parent_id), "%s",
		 f->user_msg.id);
	snprintf(f->asst.role, sizeof(f->asst.role), "assistant");
	snprintf(f->asst.status, sizeof(f->asst.status), "%s",
		 MSG_STREAMING);
	f->asst.content = (char *)"";

	spec.user_id = "01900000-0000-7000-8000-0000000000u1";
	spec.role = "user";
	spec.request_id = "req-1";
	spec.conv = &f->conv;
	spec.user_msg = &f->user_msg;
	spec.new_user_msg = true;
	spec.asst = &f->asst;
	spec.want_title = true;
	spec.first_user_content = f->user_msg.content;
	assert_int_equal(gen_new(&f->cd, f->hub, f->conv.id, &owner, &f->g),
			 0);
	gen_start(f->g, &spec, &f->message_id);
	assert_int_equal(f->owner.ncalls, 1);
	/* the "message" event went out, and the rows were handed over
	 * first, before anything else gen said */
	assert_true(f->message_id > 0);
	assert_true(f->owner.nnotes >= 1);
	assert_int_equal(f->owner.notes[0], GEN_NOTE_ROWS);
}

static void fixture_free(struct fixture *f)
{
	gen_free(f->g);
	hub_free(f->hub);
}

/* The notes after the first (rows), as a string: T text, E end. */
static void notes_after_rows(const struct fake_owner *o, char *out,
			     size_t outlen)
{
	static const char letter[] = {
		[GEN_NOTE_ROWS] = 'R',
		[GEN_NOTE_TEXT] = 'T',
		[GEN_NOTE_END] = 'E',
	};
	size_t i, n = 0;

	for (i = 1; i < o->nnotes && n + 1 < outlen; i++)
		out[n++] = letter[o->notes[i]];
	out[n] = '\0';
}

/* A string member of a JSON text's object path (one or two keys). */
static void assert_json_str(const char *text, const char *k1,
			    const char *k2, const char *want)
{
	cJSON *root = cJSON_Parse(text);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, k1);

	if (k2)
		v = cJSON_GetObjectItemCaseSensitive(v, k2);
	assert_true(cJSON_IsString(v));
	assert_string_equal(v->valuestring, want);
	cJSON_Delete(root);
}

/* The deltas of one read are published (and noted) once: "hel" and "lo"
 * make one T, the second read's "!" another. */
static void test_gen__answer_reports_in_order(void **state)
{
	static const char stream[] =
		"event: start\ndata: {\"model\":\"m1\"}\n\n"
		"event: delta\ndata: {\"text\":\"hel\"}\n\n"
		"event: delta\ndata: {\"text\":\"lo\"}\n\n";
	static const char stream2[] =
		"event: delta\ndata: {\"text\":\"!\"}\n\n"
		"event: done\ndata: {\"model\":\"m1\",\"usage\":"
		"{\"prompt_tokens\":3,\"completion_tokens\":3}}\n\n";
	struct fixture f;
	struct gen_end end;
	char notes[NOTES_MAX];

	(void)state;
	fixture_start(&f, 0);
	assert_non_null(f.owner.cb);
	assert_int_equal(f.owner.cb->on_head(f.owner.cb_arg, 200, NULL, 0), 0);
	assert_int_equal(f.owner.cb->on_data(f.owner.cb_arg, stream,
					     strlen(stream)), 0);
	assert_int_equal(f.owner.cb->on_data(f.owner.cb_arg, stream2,
					     strlen(stream2)), 0);
	assert_int_not_equal(f.owner.cb->keep_going(f.owner.cb_arg), 0);
	f.owner.cb->on_done(f.owner.cb_arg, 0);
	notes_after_rows(&f.owner, notes, sizeof(notes));
	assert_string_equal(notes, "TTE");

	gen_rows_stored(f.g);		/* as the writer would */
	gen_finish(f.g, NULL, &end);
	assert_string_equal(end.event, EV_DONE);
	assert_non_null(end.data);
	assert_json_str(end.data, "content", NULL, "hello!");
	assert_json_str(end.data, "status", NULL, MSG_COMPLETE);
	assert_json_str(end.data, "model", NULL, "m1");
	assert_string_equal(end.message_id, f.asst.id);
	assert_false(end.stopped);
	/* the first answer of an untitled conversation: a title is due */
	assert_true(end.want_title);
	assert_string_equal(end.model, "m1");
	assert_string_equal(end.question, "name this");
	gen_reply(f.g);			/* no waiter: nothing to answer */
	gen_end_release(&end);
	fixture_free(&f);
}

static void test_gen__failed_start_ends_in_error(void **state)
{
	struct fixture f;
	struct gen_end end;
	char notes[NOTES_MAX];

	(void)state;
	fixture_start(&f, CHAT_EUPSTREAM);
	/* the end came on the starting thread, once */
	notes_after_rows(&f.owner, notes, sizeof(notes));
	assert_string_equal(notes, "E");
	gen_finish(f.g, NULL, &end);
	assert_string_equal(end.event, EV_ERROR);
	assert_json_str(end.data, "error", "code", "upstream_unavailable");
	assert_json_str(end.data, "message", "status", MSG_ERROR);
	assert_false(end.stopped);
	/* nothing was stored: no title */
	assert_false(end.want_title);
	assert_null(end.model);
	gen_end_release(&end);
	fixture_free(&f);
}

static void test_gen__stop_closes_the_call(void **state)
{
	static const char delta[] =
		"event: delta\ndata: {\"text\":\"part\"}\n\n";
	struct fixture f;
	struct gen_end end;
	char notes[NOTES_MAX];

	(void)state;
	fixture_start(&f, 0);
	assert_int_equal(f.owner.cb->on_head(f.owner.cb_arg, 200, NULL, 0), 0);
	assert_int_equal(f.owner.cb->on_data(f.owner.cb_arg, delta,
					     strlen(delta)), 0);
	gen_request_stop(f.g, GEN_STOP_CLIENT);
	gen_request_stop(f.g, GEN_STOP_EXIT);	/* the first reason stays */
	/* the http client learns it from keep_going and from on_data */
	assert_int_equal(f.owner.cb->keep_going(f.owner.cb_arg), 0);
	assert_int_not_equal(f.owner.cb->on_data(f.owner.cb_arg, delta,
						 strlen(delta)), 0);
	f.owner.cb->on_done(f.owner.cb_arg, CHAT_ECANCELED);
	notes_after_rows(&f.owner, notes, sizeof(notes));
	assert_string_equal(notes, "TE");

	gen_rows_stored(f.g);
	gen_finish(f.g, NULL, &end);
	assert_string_equal(end.event, EV_DONE);
	assert_true(end.stopped);
	assert_json_str(end.data, "status", NULL, MSG_STOPPED);
	assert_json_str(end.data, "content", NULL, "part");
	/* a stopped answer asks for no title */
	assert_false(end.want_title);
	gen_end_release(&end);
	fixture_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gen__answer_reports_in_order),
		cmocka_unit_test(test_gen__failed_start_ends_in_error),
		cmocka_unit_test(test_gen__stop_closes_the_call),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
