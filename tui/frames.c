/*
 * frames.c - the WebSocket side of the UI thread: our frames out (stop,
 * regenerate), the server's event frames folded into the state (state.c)
 * and told to the panes they concern (an echo to the input, a stale list
 * to the list, a stale conversation to the transcript, a notification to
 * the notifications' pane and badge), and the socket's
 * state (a reconnect reloads what a restarted server may have lost).
 */
#include "app.h"

#include <string.h>

#include "err.h"
#include "util.h"
#include "banned.h"

int frames_send(struct app *a, const char *type, const char *cid,
		const char *key, const char *id)
{
	cJSON *f = cJSON_CreateObject();
	char *text;
	int rc;

	if (!f)
		return CHAT_ENOMEM;
	cJSON_AddStringToObject(f, "type", type);
	cJSON_AddStringToObject(f, "conversation_id", cid);
	if (key)
		cJSON_AddStringToObject(f, key, id);
	cJSON_AddNumberToObject(f, "ref", ++a->next_ref);
	text = cJSON_PrintUnformatted(f);
	cJSON_Delete(f);
	if (!text)
		return CHAT_ENOMEM;
	rc = ui_ws_send_text(&a->ws, text, strlen(text));
	cJSON_free(text);
	return rc;
}

/* An error frame without an event id answers one of our frames. */
static void frames_error(struct app *a, const cJSON *f)
{
	const cJSON *ref = cJSON_GetObjectItemCaseSensitive(f, "ref");
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(f, "data");
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(d, "error");
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "code");

	if (cJSON_IsNumber(ref))
		input_pane_refused(a, (int)ref->valuedouble);
	app_set_status(a, true, "%s (%s)", cJSON_IsString(m) ?
		       m->valuestring : "refused", cJSON_IsString(c) ?
		       c->valuestring : "error");
}

void frames_apply(struct app *a, const cJSON *f)
{
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(f, "type");
	int flags;

	if (!cJSON_IsString(type))
		return;
	if (strcmp(type->valuestring, "error") == 0 &&
	    !cJSON_GetObjectItemCaseSensitive(f, "id")) {
		frames_error(a, f);
		return;
	}
	if (strcmp(type->valuestring, "pong") == 0)
		return;
	if (strcmp(type->valuestring, "notification") == 0) {
		notes_pane_frame(a, cJSON_GetObjectItemCaseSensitive(f,
								     "data"));
		return;
	}
	flags = state_apply_frame(&a->st, f);
	if (flags < 0)
		return;
	if (flags & ST_ACK)
		input_pane_acked(a);
	if (flags & ST_CLOSED)
		app_set_status(a, false, "the conversation was deleted");
	if (flags & ST_RELIST)
		list_pane_refresh(a);
	if ((flags & ST_REFETCH) && a->st.open)
		chat_pane_open(a, a->st.cur.id);
	if (flags & ST_STREAM_END)
		app_clear_status(a, APP_STATUS_STOPPING);
	if ((flags & ST_STREAM_END) && a->st.last_error[0]) {
		app_set_status(a, true, "%s", a->st.last_error);
		a->st.last_error[0] = '\0';
	}
	if (flags & (ST_MSGS | ST_MSG | ST_LIST | ST_CONV))
		a->dirty = true;
}

void frames_ws_state(struct app *a, const struct ui_event *ev)
{
	a->ws_state = ev->ws_state;
	a->ws_retry_at = ev->retry_at_ms;
	if (ev->ws_state == WS_OPEN) {
		if (a->ws_was_open) {
			/* the replay covers events; a restarted server
			 * needs a reload */
			list_pane_refresh(a);
			if (a->st.open)
				chat_pane_open(a, a->st.cur.id);
			app_set_status(a, false, "connected again");
		}
		a->ws_was_open = true;
		/* every open: a notification made before the socket
		 * subscribed came as no frame, the count has it */
		notes_pane_refresh(a);
		input_pane_dispatch(a);
	} else if (ev->ws_state == WS_WAITING) {
		input_pane_dropped(a);
	}
}

void frames_after_login(struct app *a)
{
	a->logged_in = true;
	a->chat.older_seq = 0;	/* a page lost with the old login */
	ui_ws_kick(&a->ws);
	list_pane_refresh(a);
	input_pane_ask_default_model(a);
	notes_pane_refresh(a);
}
