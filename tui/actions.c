/*
 * actions.c - what chatui's commands do: one small function per action,
 * in a table indexed by enum action (htop's Action.c), beside the table
 * of names, help lines and keys in keys.c.  A key, the palette and the
 * help all lead here through actions_run; the panes (pane.h) own the
 * state the actions change, app.c keeps the poll loop, focus routing
 * and repaint pacing.
 *
 * Everything here runs on the UI thread.
 */
#include "app.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "util.h"
#include "banned.h"

/* ---- what several actions share ---- */

/* A fenced code block may be in m (``` or ~~~ somewhere). */
static bool app_has_fence(const struct msg *m)
{
	const char *s = m->content.data;

	return s && (memmem(s, m->content.len, "```", 3) ||
		     memmem(s, m->content.len, "~~~", 3));
}

/* The message an action is about: the selection in the message pane,
 * else the last one with that role. */
static long app_target(struct app *a, int role)
{
	long sel = a->chat.sel_msg;

	if (a->focus == FOCUS_MSGS && sel >= 0 && (size_t)sel < a->st.nmsgs &&
	    (role < 0 || a->st.msgs[sel].role == (enum ui_msg_role)role))
		return sel;
	if (role < 0)
		return a->st.nmsgs ? (long)a->st.nmsgs - 1 : -1;
	return state_last_role(&a->st, (enum ui_msg_role)role);
}

static void app_copy(struct app *a, const char *s, size_t len,
		     const char *what)
{
	struct buf b;

	buf_init(&b, 16u * 1024 * 1024);
	if (osc52_encode(s, len, false, &b) == 0) {
		term_write_raw(b.data, b.len);
		app_set_status(a, false, "copied %s (%zu bytes) to the "
			       "clipboard", what, len);
	} else {
		app_set_status(a, true, "too large to copy");
	}
	buf_release(&b);
}

static void app_branch(struct app *a, int dir)
{
	long i = a->focus == FOCUS_MSGS && a->chat.sel_msg >= 0 ?
		 a->chat.sel_msg : state_last_role(&a->st, ROLE_ASSISTANT);
	struct msg *m;
	size_t k, pos = 0;
	cJSON *body;

	if (i < 0 || (size_t)i >= a->st.nmsgs) {
		app_set_status(a, false, "no message to switch branch of");
		return;
	}
	m = &a->st.msgs[i];
	for (k = 0; k < m->nsiblings; k++)
		if (strcmp(m->siblings[k], m->id) == 0)
			pos = k;
	if (m->nsiblings < 2 || (dir < 0 && pos == 0) ||
	    (dir > 0 && pos + 1 >= m->nsiblings)) {
		app_set_status(a, false, "no %s branch",
			       dir < 0 ? "previous" : "next");
		return;
	}
	body = cJSON_CreateObject();
	if (!body)
		return;
	cJSON_AddStringToObject(body, "current_leaf_id",
				m->siblings[(long)pos + dir]);
	a->chat.keep_top[0] = '\0';
	snprintf(a->chat.keep_sel, sizeof(a->chat.keep_sel), "%s",
		 a->chat.sel_msg >= 0 ? m->siblings[(long)pos + dir] : "");
	chat_pane_patch(a, RQ_BRANCH, a->st.cur.id, body);
	app_set_status(a, false, "branch %zu/%zu", pos + 1 + (dir > 0 ? 1 : 0)
		       - (dir < 0 ? 1 : 0), m->nsiblings);
}

static bool app_need_conv(struct app *a)
{
	if (a->st.open)
		return true;
	app_set_status(a, false, "no conversation is open");
	return false;
}

/* ---- the actions ---- */

static void act_help(struct app *a)
{
	help_pane_show(a);
}

static void act_palette(struct app *a)
{
	picker_pane_show_actions(a);
}

static void act_quit(struct app *a)
{
	a->quit = true;
}

static void act_new(struct app *a)
{
	chat_pane_close(a);
	a->input.editing = false;
	a->focus = FOCUS_INPUT;
	app_set_status(a, false, "%s", APP_STATUS_NEW_CONV);
}

static void act_switch(struct app *a)
{
	a->list.show = true;
	a->focus = FOCUS_LIST;
	if (a->list.sel < 0 && a->st.nconvs)
		a->list.sel = 0;
}

static void act_search(struct app *a)
{
	prompt_pane_show(a, PR_SEARCH, "search conversations",
			 a->list.search);
}

static void act_rename(struct app *a)
{
	if (!app_need_conv(a))
		return;
	prompt_pane_show(a, PR_RENAME, "rename", a->st.cur.title);
}

static void act_delete(struct app *a)
{
	if (a->focus == FOCUS_LIST && a->list.sel >= 0 &&
	    (size_t)a->list.sel < a->st.nconvs &&
	    (!a->st.open || strcmp(a->st.cur.id,
				   a->st.convs[a->list.sel].id))) {
		chat_pane_open(a, a->st.convs[a->list.sel].id);
	} else if (!app_need_conv(a)) {
		return;
	}
	prompt_pane_show(a, PR_DELETE, "delete this conversation?", NULL);
}

static void act_archive(struct app *a)
{
	cJSON *body;

	if (!app_need_conv(a))
		return;
	body = cJSON_CreateObject();
	if (body)
		cJSON_AddBoolToObject(body, "archived",
				      !a->st.cur.archived);
	chat_pane_patch(a, RQ_PATCH, a->st.cur.id, body);
	app_set_status(a, false, a->st.cur.archived ? "unarchived" :
		       "archived");
}

static void act_show_archived(struct app *a)
{
	a->list.show_archived = !a->list.show_archived;
	a->list.show = true;
	list_pane_refresh(a);
}

static void act_stop(struct app *a)
{
	if (a->st.streaming_id[0] && a->st.open) {
		if (frames_send(a, "stop", a->st.cur.id, NULL,
				 NULL) < 0) {
			char path[256];

			snprintf(path, sizeof(path),
				 "/v1/conversations/%s/stop",
				 a->st.cur.id);
			rest_submit(&a->rest, RQ_STOP, "POST", path,
				    NULL, a->st.cur.id, &a->chat.base);
		}
		app_set_status(a, false, "%s", APP_STATUS_STOPPING);
	} else if (a->focus != FOCUS_INPUT) {
		a->focus = FOCUS_INPUT;
	} else if (a->input.editing) {
		a->input.editing = false;
		editor_clear(&a->input.ed);
		app_set_status(a, false, "edit cancelled");
	}
}

static void act_regenerate(struct app *a)
{
	long i;

	if (!app_need_conv(a))
		return;
	i = app_target(a, ROLE_ASSISTANT);
	if (i < 0)
		i = app_target(a, ROLE_USER);
	if (i < 0)
		return;
	if (frames_send(a, "regenerate", a->st.cur.id, "message_id",
			 a->st.msgs[i].id) < 0)
		app_set_status(a, true, "not connected");
	else
		a->chat.follow = true;
}

static void act_edit(struct app *a)
{
	long i = app_target(a, ROLE_USER);

	if (i < 0) {
		app_set_status(a, false, "no message of yours to edit");
		return;
	}
	editor_set(&a->input.ed, a->st.msgs[i].content.data ?
		   a->st.msgs[i].content.data : "",
		   a->st.msgs[i].content.len);
	a->input.editing = true;
	snprintf(a->input.edit_parent, sizeof(a->input.edit_parent), "%s",
		 a->st.msgs[i].parent_id);
	a->focus = FOCUS_INPUT;
}

static void act_branch_prev(struct app *a)
{
	if (app_need_conv(a))
		app_branch(a, -1);
}

static void act_branch_next(struct app *a)
{
	if (app_need_conv(a))
		app_branch(a, 1);
}

static void act_copy_answer(struct app *a)
{
	long i = app_target(a, a->focus == FOCUS_MSGS ? -1 :
			    ROLE_ASSISTANT);

	if (i < 0) {
		app_set_status(a, false, "nothing to copy");
		return;
	}
	app_copy(a, a->st.msgs[i].content.data ?
		 a->st.msgs[i].content.data : "",
		 a->st.msgs[i].content.len, "the message");
}

static void act_copy_code(struct app *a)
{
	long k = app_target(a, -1), tries;
	struct msg *m = NULL;

	/* the selected message, else the newest with code; only a
	 * message with a fence in it is laid out to find out */
	for (tries = 0; k >= 0; k--, tries++) {
		m = &a->st.msgs[k];
		if (app_has_fence(m))
			chat_layout_msg_rows(m, a->chat.pane_width > 12 ?
				      a->chat.pane_width - 2 : 10);
		if (app_has_fence(m) && m->doc.nblocks)
			break;
		if (a->focus == FOCUS_MSGS && tries == 0)
			break;
	}
	if (k < 0 || !app_has_fence(m) || !m->doc.nblocks) {
		app_set_status(a, false, "no code block to copy");
		return;
	}
	/* Ctrl-B again: the next block of the same message */
	if (strcmp(a->chat.code_msg, m->id) != 0 ||
	    (size_t)a->chat.code_idx >= m->doc.nblocks)
		a->chat.code_idx = 0;
	snprintf(a->chat.code_msg, sizeof(a->chat.code_msg), "%s", m->id);
	app_copy(a, m->doc.blocks[a->chat.code_idx].code,
		 m->doc.blocks[a->chat.code_idx].code_len, "a code block");
	a->chat.code_idx++;
}

static void act_model(struct app *a)
{
	picker_pane_ask_models(a);
}

static void act_system(struct app *a)
{
	prompt_pane_show(a, PR_SYSTEM, "system prompt", a->st.open ?
			 a->st.cur.system_prompt : a->input.new_system);
}

/* A page: the pane's height less two rows kept for context. */
static int act_page(const struct app *a)
{
	return a->chat.pane_rows > 2 ? a->chat.pane_rows - 2 : 1;
}

static void act_scroll_up(struct app *a)
{
	chat_layout_scroll(a, -act_page(a));
}

static void act_scroll_down(struct app *a)
{
	chat_layout_scroll(a, act_page(a));
}

static void act_top(struct app *a)
{
	a->chat.follow = false;
	a->chat.top_msg = 0;
	a->chat.top_row = 0;
	if (a->focus == FOCUS_MSGS && a->st.nmsgs)
		a->chat.sel_msg = 0;
	a->chat.keep_top[0] = '\0';
	if (state_partial(&a->st)) {
		a->chat.want_top = true;
		a->chat.older_failed = false;
		app_set_status(a, false, "loading the earlier "
			       "messages\xe2\x80\xa6");
	}
}

static void act_bottom(struct app *a)
{
	a->chat.want_top = false;
	a->chat.keep_top[0] = '\0';
	a->chat.follow = true;
	if (a->focus == FOCUS_MSGS && a->st.nmsgs)
		a->chat.sel_msg = (long)a->st.nmsgs - 1;
}

static void act_focus(struct app *a)
{
	a->focus = a->focus == FOCUS_INPUT ? FOCUS_MSGS :
		   a->focus == FOCUS_MSGS && a->list.show ?
		   FOCUS_LIST : FOCUS_INPUT;
	if (a->focus == FOCUS_MSGS && a->chat.sel_msg < 0 && a->st.nmsgs)
		a->chat.sel_msg = (long)a->st.nmsgs - 1;
	if (a->focus == FOCUS_LIST && a->list.sel < 0 &&
	    a->st.nconvs)
		a->list.sel = 0;
}

static void act_toggle_list(struct app *a)
{
	a->list.show = !a->list.show;
	if (!a->list.show && a->focus == FOCUS_LIST)
		a->focus = FOCUS_INPUT;
}

static void act_redraw(struct app *a)
{
	clearok(stdscr, TRUE);
	ui_ws_kick(&a->ws);
	list_pane_refresh(a);
	if (a->st.open)
		chat_pane_open(a, a->st.cur.id);
}

static void act_send(struct app *a)
{
	input_pane_send(a);
}

static void act_newline(struct app *a)
{
	editor_insert(&a->input.ed, "\n", 1);
}

static void act_logout(struct app *a)
{
	login_pane_logout(a);
}

static void act_usage(struct app *a)
{
	usage_pane_show(a);
}

static void act_notes(struct app *a)
{
	notes_pane_show(a);
}

/* What each action does; its name, help and keys are in keys.c's
 * tables under the same index. */
static void (*const actions[ACT_COUNT])(struct app *a) = {
	[ACT_HELP] = act_help,
	[ACT_PALETTE] = act_palette,
	[ACT_QUIT] = act_quit,
	[ACT_NEW] = act_new,
	[ACT_SWITCH] = act_switch,
	[ACT_SEARCH] = act_search,
	[ACT_RENAME] = act_rename,
	[ACT_DELETE] = act_delete,
	[ACT_ARCHIVE] = act_archive,
	[ACT_SHOW_ARCHIVED] = act_show_archived,
	[ACT_STOP] = act_stop,
	[ACT_REGENERATE] = act_regenerate,
	[ACT_EDIT] = act_edit,
	[ACT_BRANCH_PREV] = act_branch_prev,
	[ACT_BRANCH_NEXT] = act_branch_next,
	[ACT_COPY_ANSWER] = act_copy_answer,
	[ACT_COPY_CODE] = act_copy_code,
	[ACT_MODEL] = act_model,
	[ACT_SYSTEM] = act_system,
	[ACT_SCROLL_UP] = act_scroll_up,
	[ACT_SCROLL_DOWN] = act_scroll_down,
	[ACT_TOP] = act_top,
	[ACT_BOTTOM] = act_bottom,
	[ACT_FOCUS] = act_focus,
	[ACT_TOGGLE_LIST] = act_toggle_list,
	[ACT_REDRAW] = act_redraw,
	[ACT_SEND] = act_send,
	[ACT_NEWLINE] = act_newline,
	[ACT_LOGOUT] = act_logout,
	[ACT_USAGE] = act_usage,
	[ACT_NOTES] = act_notes,
};

bool actions_defined(enum action act)
{
	return act > ACT_NONE && act < ACT_COUNT && actions[act];
}

void actions_run(struct app *a, enum action act)
{
	if (actions_defined(act))
		actions[act](a);
	a->dirty = true;
}
