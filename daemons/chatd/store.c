/*
 * store.c - conversations and messages in chatd's store (the rows, the
 * tree, the lists).  Idempotency keys are store-idem.c's, the JSON forms
 * of conversations and messages store-json.c's.
 *
 * Every function blocks on the store: worker threads only.  Ownership is
 * checked here, in the SQL: a row of another user is as absent as a
 * missing one, so callers cannot tell the two apart by mistake.
 *
 * The message tree is walked with recursive CTEs that read the same on
 * SQLite and PostgreSQL; a depth ceiling keeps a corrupt tree (a cycle)
 * from looping.
 */
#include "chatd.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "json.h"
#include "log.h"
#include "banned.h"

/* Deeper than any real conversation; only guards against cycles. */
#define STORE_DEPTH_MAX "100000"
/* Bytes of a list query's SQL text at most. */
#define STORE_SQL_MAX 2048

#define CONV_COLUMNS \
	"id, user_id, title, model, system_prompt, archived," \
	" current_leaf_id, created_at, updated_at"

/* MSG_COLUMNS("m.") for a query where messages has an alias. */
#define MSG_COLUMNS(p) \
	p "id, " p "conversation_id, " p "user_id, " p "parent_id, " \
	p "role, " p "content, " p "model, " p "status, " p "error_code, " \
	p "error_message, " p "prompt_tokens, " p "completion_tokens, " \
	p "ttft_ms, " p "latency_ms, " p "created_at, " p "updated_at"

static const char sql_conv_get[] =
	"SELECT " CONV_COLUMNS " FROM conversations"
	" WHERE id = $1 AND user_id = $2";
/* A no-op write that locks the row for the transaction (PostgreSQL's
 * row lock; SQLite's transaction holds the write lock already) and
 * reads it as the last commit left it. */
static const char sql_conv_lock[] =
	"UPDATE conversations SET updated_at = updated_at"
	" WHERE id = $1 AND user_id = $2 RETURNING " CONV_COLUMNS;
static const char sql_conv_insert[] =
	"INSERT INTO conversations (" CONV_COLUMNS ")"
	" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
static const char sql_conv_set_leaf[] =
	"UPDATE conversations SET current_leaf_id = $2, updated_at = $3"
	" WHERE id = $1";
static const char sql_conv_set_title[] =
	"UPDATE conversations SET title = $2, updated_at = $3"
	" WHERE id = $1 AND title IS NULL";
static const char sql_msg_get[] =
	"SELECT " MSG_COLUMNS("") " FROM messages"
	" WHERE id = $1 AND conversation_id = $2 AND user_id = $3";
static const char sql_msg_insert[] =
	"INSERT INTO messages (" MSG_COLUMNS("") ") VALUES ($1, $2, $3, $4,"
	" $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)";
/* model only when given: the model aid actually used replaces the one
 * asked for, but an update that does not know it keeps it. */
static const char sql_msg_update[] =
	"UPDATE messages SET content = $2, status = $3, error_code = $4,"
	" error_message = $5, prompt_tokens = $6, completion_tokens = $7,"
	" ttft_ms = $8, latency_ms = $9, updated_at = $10,"
	" model = COALESCE($11, model) WHERE id = $1";
/* From the leaf up to the root; depth 0 is the leaf. */
static const char sql_branch[] =
	"WITH RECURSIVE branch (id, parent_id, depth) AS ("
	" SELECT id, parent_id, 0 FROM messages"
	" WHERE id = $1 AND conversation_id = $2"
	" UNION ALL"
	" SELECT m.id, m.parent_id, b.depth + 1"
	" FROM messages m JOIN branch b ON m.id = b.parent_id"
	" WHERE m.conversation_id = $2 AND b.depth < " STORE_DEPTH_MAX ")"
	" SELECT " MSG_COLUMNS("m.") " FROM messages m"
	" JOIN branch b ON m.id = b.id ORDER BY b.depth DESC";
/* The newest message of the subtree under $1. */
static const char sql_newest_leaf[] =
	"WITH RECURSIVE sub (id, depth) AS ("
	" SELECT id, 0 FROM messages WHERE id = $1 AND conversation_id = $2"
	" UNION ALL"
	" SELECT m.id, s.depth + 1 FROM messages m JOIN sub s"
	" ON m.parent_id = s.id"
	" WHERE m.conversation_id = $2 AND s.depth < " STORE_DEPTH_MAX ")"
	" SELECT m.id FROM messages m JOIN sub s ON m.id = s.id"
	" ORDER BY m.created_at DESC, m.id DESC LIMIT 1";
/* The children of every message of the branch ending at $1, and the
 * roots: grouped by parent, the roots first, then down the branch. */
static const char sql_branch_siblings[] =
	"WITH RECURSIVE branch (id, parent_id, depth) AS ("
	" SELECT id, parent_id, 0 FROM messages"
	" WHERE id = $1 AND conversation_id = $2"
	" UNION ALL"
	" SELECT m.id, m.parent_id, b.depth + 1"
	" FROM messages m JOIN branch b ON m.id = b.parent_id"
	" WHERE m.conversation_id = $2 AND b.depth < " STORE_DEPTH_MAX ")"
	" SELECT m.id, m.parent_id FROM messages m"
	" LEFT JOIN branch b ON m.parent_id = b.id"
	" WHERE m.conversation_id = $2"
	" AND (m.parent_id IS NULL OR b.id IS NOT NULL)"
	" ORDER BY COALESCE(b.depth, " STORE_DEPTH_MAX " + 1) DESC,"
	" m.created_at, m.id";
/* The newest $3 messages of the branch ending at $1 (depth 0 is $1):
 * the walk stops at the limit, so a page costs O($3), not O(branch). */
#define SQL_PAGE_CTE \
	"WITH RECURSIVE branch (id, parent_id, depth) AS (" \
	" SELECT id, parent_id, 0 FROM messages" \
	" WHERE id = $1 AND conversation_id = $2" \
	" UNION ALL" \
	" SELECT m.id, m.parent_id, b.depth + 1" \
	" FROM messages m JOIN branch b ON m.id = b.parent_id" \
	" WHERE m.conversation_id = $2 AND b.depth + 1 < $3)"
static const char sql_branch_page[] =
	SQL_PAGE_CTE
	" SELECT " MSG_COLUMNS("m.") " FROM messages m"
	" JOIN branch b ON m.id = b.id ORDER BY b.depth DESC";
/* For each message of that page, root first, its parent's children (the
 * roots for a root): two index lookups per message. */
static const char sql_page_siblings[] =
	SQL_PAGE_CTE
	" SELECT m.id, m.parent_id, b.depth, m.created_at"
	" FROM branch b JOIN messages m ON m.parent_id = b.parent_id"
	" WHERE m.conversation_id = $2"
	" UNION ALL"
	" SELECT m.id, m.parent_id, b.depth, m.created_at"
	" FROM branch b JOIN messages m ON m.parent_id IS NULL"
	" WHERE b.parent_id IS NULL AND m.conversation_id = $2"
	" ORDER BY 3 DESC, 4, 1";
static const char sql_conv_delete_msgs[] =
	"DELETE FROM messages WHERE conversation_id = $1 AND user_id = $2";
static const char sql_conv_delete[] =
	"DELETE FROM conversations WHERE id = $1 AND user_id = $2";
static const char sql_children[] =
	"SELECT id FROM messages WHERE conversation_id = $1"
	" AND parent_id = $2 ORDER BY created_at, id";
static const char sql_roots[] =
	"SELECT id FROM messages WHERE conversation_id = $1"
	" AND parent_id IS NULL ORDER BY created_at, id";
static const char sql_mark_interrupted[] =
	"UPDATE messages SET status = 'interrupted', updated_at = $1,"
	" error_code = $2, error_message = $3 WHERE status = 'streaming'";
/* A running claim with messages stored them before its process died. */
static const char sql_idem_keep_stored[] =
	"UPDATE idempotency SET state = 'stored'"
	" WHERE state = 'running' AND message_id IS NOT NULL";
static const char sql_idem_drop_running[] =
	"DELETE FROM idempotency WHERE state = 'running'";
/* ---- rows and structs ------------------------------------------------ */

void chat_conv_release(struct chat_conv *c)
{
	if (!c)
		return;
	free(c->title);
	free(c->model);
	free(c->system_prompt);
	c->title = c->model = c->system_prompt = NULL;
}

void chat_msg_release(struct chat_msg *m)
{
	if (!m)
		return;
	free(m->content);
	free(m->model);
	free(m->error_code);
	free(m->error_message);
	m->content = m->model = m->error_code = m->error_message = NULL;
}

void chat_msgs_free(struct chat_msg *m, size_t n)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < n; i++)
		chat_msg_release(&m[i]);
	free(m);
}

/* A copy of a nullable column: 0, or CHAT_ENOMEM. */
static int dup_col(const struct db_rows *r, size_t row, size_t col,
		   char **out)
{
	const char *v = db_rows_get(r, row, col);

	*out = NULL;
	if (!v)
		return 0;
	*out = strdup(v);
	return *out ? 0 : CHAT_ENOMEM;
}

/* Copies a text column into a fixed array ("" for NULL, cut to fit). */
static void copy_col(const struct db_rows *r, size_t row, size_t col,
		     char *out, size_t outlen)
{
	const char *v = db_rows_get(r, row, col);
	size_t n = v ? strlen(v) : 0;

	if (n >= outlen)
		n = outlen - 1;
	if (n)
		memcpy(out, v, n);
	out[n] = '\0';
}

/* A row of CONV_COLUMNS into the struct chat_conv at dst (zeroed
 * first; nothing to release after a failure). */
static int conv_from_row(const struct db_rows *r, size_t row, void *dst)
{
	struct chat_conv *out = dst;
	int rc;

	memset(out, 0, sizeof(*out));
	copy_col(r, row, 0, out->id, sizeof(out->id));
	copy_col(r, row, 1, out->user_id, sizeof(out->user_id));
	rc = dup_col(r, row, 2, &out->title);
	if (rc == 0)
		rc = dup_col(r, row, 3, &out->model);
	if (rc == 0)
		rc = dup_col(r, row, 4, &out->system_prompt);
	if (rc < 0) {
		chat_conv_release(out);
		return rc;
	}
	out->archived = db_rows_int(r, row, 5, 0) != 0;
	copy_col(r, row, 6, out->current_leaf_id,
		 sizeof(out->current_leaf_id));
	out->created_at = db_rows_int(r, row, 7, 0);
	out->updated_at = db_rows_int(r, row, 8, 0);
	return 0;
}

/* A row of MSG_COLUMNS into the struct chat_msg at dst (zeroed first;
 * nothing to release after a failure). */
static int msg_from_row(const struct db_rows *r, size_t row, void *dst)
{
	struct chat_msg *out = dst;
	int rc;

	memset(out, 0, sizeof(*out));
	copy_col(r, row, 0, out->id, sizeof(out->id));
	copy_col(r, row, 1, out->conversation_id,
		 sizeof(out->conversation_id));
	copy_col(r, row, 2, out->user_id, sizeof(out->user_id));
	copy_col(r, row, 3, out->parent_id, sizeof(out->parent_id));
	copy_col(r, row, 4, out->role, sizeof(out->role));
	rc = dup_col(r, row, 5, &out->content);
	if (rc == 0 && !out->content) {
		out->content = strdup("");
		if (!out->content)
			rc = CHAT_ENOMEM;
	}
	if (rc == 0)
		rc = dup_col(r, row, 6, &out->model);
	if (rc == 0)
		rc = dup_col(r, row, 8, &out->error_code);
	if (rc == 0)
		rc = dup_col(r, row, 9, &out->error_message);
	if (rc < 0) {
		chat_msg_release(out);
		return rc;
	}
	copy_col(r, row, 7, out->status, sizeof(out->status));
	out->prompt_tokens = db_rows_int(r, row, 10, -1);
	out->completion_tokens = db_rows_int(r, row, 11, -1);
	out->ttft_ms = db_rows_int(r, row, 12, -1);
	out->latency_ms = db_rows_int(r, row, 13, -1);
	out->created_at = db_rows_int(r, row, 14, 0);
	out->updated_at = db_rows_int(r, row, 15, 0);
	return 0;
}

static void conv_release_any(void *c)
{
	chat_conv_release(c);
}

static void msg_release_any(void *m)
{
	chat_msg_release(m);
}

/* conv_from_row or msg_from_row */
typedef int (*store_row_fn)(const struct db_rows *r, size_t row, void *dst);

/* The one row a query gives, by from_row into dst; CHAT_ENOTFOUND when
 * it gives none. */
static int query_one(struct db_conn *c, const char *sql,
		     const struct db_param *p, size_t np,
		     store_row_fn from_row, void *dst)
{
	struct db_rows *r = NULL;
	int rc = db_query(c, sql, p, np, &r);

	if (rc == 0 && db_rows_count(r) == 0)
		rc = CHAT_ENOTFOUND;
	if (rc == 0)
		rc = from_row(r, 0, dst);
	db_rows_free(r);
	return rc;
}

/* Runs a statement meant to change a row: CHAT_ENOTFOUND when it
 * changed none. */
static int exec_one(struct db_conn *c, const char *sql,
		    const struct db_param *p, size_t np)
{
	int64_t changes = 0;
	int rc = db_exec(c, sql, p, np, &changes);

	if (rc == 0 && changes == 0)
		rc = CHAT_ENOTFOUND;
	return rc;
}

/*
 * Every row of r decoded by from_row into a new array of elements of
 * size bytes: *out (NULL when there are no rows, else the caller's) and
 * *n.  After a failure the elements decoded so far are released (by
 * release) and freed, and *out stays NULL.
 */
static int rows_to_array(const struct db_rows *r, size_t size,
			 store_row_fn from_row, void (*release)(void *),
			 void **out, size_t *n)
{
	size_t i, count = db_rows_count(r);
	char *v;
	int rc;

	*out = NULL;
	*n = 0;
	if (count == 0)
		return 0;
	v = calloc(count, size);
	if (!v)
		return CHAT_ENOMEM;
	for (i = 0; i < count; i++) {
		rc = from_row(r, i, v + i * size);
		if (rc < 0) {
			while (i-- > 0)
				release(v + i * size);
			free(v);
			return rc;
		}
	}
	*out = v;
	*n = count;
	return 0;
}

/* "" stands for NULL in the structs' id arrays. */
static struct db_param p_id(const char *s)
{
	return db_p_text(s && *s ? s : NULL);
}

/* A counter: -1 (unknown) is NULL. */
static struct db_param p_count(int64_t v)
{
	return v < 0 ? DB_P_NULL : DB_P_INT(v);
}

/* ---- conversations --------------------------------------------------- */

int store_conv_get(struct db_conn *c, const char *user_id, const char *id,
		   struct chat_conv *out)
{
	char cid[UUID_STR_LEN], uid[UUID_STR_LEN];
	struct db_param p[2];

	memset(out, 0, sizeof(*out));
	if (!uuid_norm(id, cid) || !uuid_norm(user_id, uid))
		return CHAT_ENOTFOUND;
	p[0] = db_p_text(cid);
	p[1] = db_p_text(uid);
	return query_one(c, sql_conv_get, p, 2, conv_from_row, out);
}

int store_conv_lock(struct db_conn *c, const char *user_id, const char *id,
		    struct chat_conv *out)
{
	struct db_param p[2];

	memset(out, 0, sizeof(*out));
	p[0] = db_p_text(id);
	p[1] = db_p_text(user_id);
	return query_one(c, sql_conv_lock, p, 2, conv_from_row, out);
}

int store_conv_insert(struct db_conn *c, const struct daemon *d,
		      const struct chat_conv *conv)
{
	struct db_param p[9];
	int rc;

	p[0] = db_p_text(conv->id);
	p[1] = db_p_text(conv->user_id);
	p[2] = db_p_text(conv->title);
	p[3] = db_p_text(conv->model);
	p[4] = db_p_text(conv->system_prompt);
	p[5] = DB_P_INT(conv->archived ? 1 : 0);
	p[6] = p_id(conv->current_leaf_id);
	p[7] = DB_P_INT(conv->created_at);
	p[8] = DB_P_INT(conv->updated_at);
	rc = db_exec(c, sql_conv_insert, p, 9, NULL);
	if (rc == 0)
		rc = store_events_conv(c, d, "chat.conversation.created",
				       conv);
	return rc;
}

int store_conv_set_leaf(struct db_conn *c, const char *conv_id,
			const char *leaf_id, int64_t now)
{
	struct db_param p[3];

	p[0] = db_p_text(conv_id);
	p[1] = p_id(leaf_id);
	p[2] = DB_P_INT(now);
	return exec_one(c, sql_conv_set_leaf, p, 3);
}

int store_conv_set_title(struct db_conn *c, const char *conv_id,
			 const char *title, int64_t now)
{
	struct db_param p[3];

	p[0] = db_p_text(conv_id);
	p[1] = db_p_text(title);
	p[2] = DB_P_INT(now);
	return exec_one(c, sql_conv_set_title, p, 3);
}

/* ---- messages -------------------------------------------------------- */

int store_msg_get(struct db_conn *c, const char *user_id,
		  const char *conv_id, const char *msg_id,
		  struct chat_msg *out)
{
	char mid[UUID_STR_LEN], cid[UUID_STR_LEN], uid[UUID_STR_LEN];
	struct db_param p[3];

	memset(out, 0, sizeof(*out));
	if (!uuid_norm(msg_id, mid) || !uuid_norm(conv_id, cid) ||
	    !uuid_norm(user_id, uid))
		return CHAT_ENOTFOUND;
	p[0] = db_p_text(mid);
	p[1] = db_p_text(cid);
	p[2] = db_p_text(uid);
	return query_one(c, sql_msg_get, p, 3, msg_from_row, out);
}

int store_msg_insert(struct db_conn *c, const struct daemon *d,
		     const struct chat_msg *m)
{
	struct db_param p[16];
	int rc;

	p[0] = db_p_text(m->id);
	p[1] = db_p_text(m->conversation_id);
	p[2] = db_p_text(m->user_id);
	p[3] = p_id(m->parent_id);
	p[4] = db_p_text(m->role);
	p[5] = db_p_text(m->content ? m->content : "");
	p[6] = db_p_text(m->model);
	p[7] = db_p_text(m->status);
	p[8] = db_p_text(m->error_code);
	p[9] = db_p_text(m->error_message);
	p[10] = p_count(m->prompt_tokens);
	p[11] = p_count(m->completion_tokens);
	p[12] = p_count(m->ttft_ms);
	p[13] = p_count(m->latency_ms);
	p[14] = DB_P_INT(m->created_at);
	p[15] = DB_P_INT(m->updated_at);
	rc = db_exec(c, sql_msg_insert, p, 16, NULL);
	if (rc == 0)
		rc = store_events_msg(c, d, m);
	return rc;
}

int store_msg_update(struct db_conn *c, const struct chat_msg *m)
{
	struct db_param p[11];

	p[0] = db_p_text(m->id);
	p[1] = db_p_text(m->content ? m->content : "");
	p[2] = db_p_text(m->status);
	p[3] = db_p_text(m->error_code);
	p[4] = db_p_text(m->error_message);
	p[5] = p_count(m->prompt_tokens);
	p[6] = p_count(m->completion_tokens);
	p[7] = p_count(m->ttft_ms);
	p[8] = p_count(m->latency_ms);
	p[9] = DB_P_INT(m->updated_at);
	p[10] = db_p_text(m->model);
	return exec_one(c, sql_msg_update, p, 11);
}

int store_branch(struct db_conn *c, const char *conv_id, const char *leaf_id,
		 struct chat_msg **out, size_t *n)
{
	struct db_rows *r = NULL;
	struct db_param p[2];
	void *v = NULL;
	int rc;

	*out = NULL;
	*n = 0;
	if (!leaf_id || !*leaf_id)
		return 0;
	p[0] = db_p_text(leaf_id);
	p[1] = db_p_text(conv_id);
	rc = db_query(c, sql_branch, p, 2, &r);
	if (rc == 0)
		rc = rows_to_array(r, sizeof(**out), msg_from_row,
				   msg_release_any, &v, n);
	*out = v;
	db_rows_free(r);
	return rc;
}

int store_branch_page(struct db_conn *c, const char *conv_id,
		      const char *end_id, size_t limit, struct chat_msg **out,
		      size_t *n)
{
	struct db_rows *r = NULL;
	struct db_param p[3];
	void *v = NULL;
	int rc;

	*out = NULL;
	*n = 0;
	if (!end_id || !*end_id || limit == 0)
		return 0;
	p[0] = db_p_text(end_id);
	p[1] = db_p_text(conv_id);
	p[2] = DB_P_INT((int64_t)limit);
	rc = db_query(c, sql_branch_page, p, 3, &r);
	if (rc == 0)
		rc = rows_to_array(r, sizeof(**out), msg_from_row,
				   msg_release_any, &v, n);
	*out = v;
	db_rows_free(r);
	return rc;
}

int store_children_json(struct db_conn *c, const char *conv_id,
			const char *parent_id, cJSON **out)
{
	struct db_rows *r = NULL;
	struct db_param p[2];
	cJSON *arr = NULL, *s;
	bool roots = !parent_id || !*parent_id;
	size_t i, count;
	int rc;

	*out = NULL;
	p[0] = db_p_text(conv_id);
	p[1] = db_p_text(parent_id);
	rc = db_query(c, roots ? sql_roots : sql_children, p, roots ? 1 : 2,
		      &r);
	if (rc < 0)
		goto out;
	arr = cJSON_CreateArray();
	if (!arr) {
		rc = CHAT_ENOMEM;
		goto out;
	}
	count = db_rows_count(r);
	for (i = 0; i < count; i++) {
		const char *id = db_rows_get(r, i, 0);

		s = cJSON_CreateString(id ? id : "");
		if (!s || !cJSON_AddItemToArray(arr, s)) {
			cJSON_Delete(s);
			rc = CHAT_ENOMEM;
			goto out;
		}
	}
	*out = arr;
	arr = NULL;
out:
	cJSON_Delete(arr);
	db_rows_free(r);
	return rc;
}

int store_mark_interrupted(struct db_conn *c, int64_t now)
{
	struct db_param p[3];
	int64_t nmsg = 0, nkept = 0, ndropped = 0;
	int rc;

	p[0] = DB_P_INT(now);
	p[1] = db_p_text(MSG_INTERRUPTED_CODE);
	p[2] = db_p_text(MSG_INTERRUPTED_WHY);
	rc = db_begin(c);
	if (rc < 0)
		return rc;
	rc = db_exec(c, sql_mark_interrupted, p, 3, &nmsg);
	if (rc == 0)
		rc = db_exec(c, sql_idem_keep_stored, NULL, 0, &nkept);
	if (rc == 0)
		rc = db_exec(c, sql_idem_drop_running, NULL, 0, &ndropped);
	if (rc == 0)
		rc = db_commit(c);
	if (rc < 0) {
		db_rollback(c);
		return rc;
	}
	if (nmsg > 0 || nkept > 0 || ndropped > 0)
		log_info("%lld messages left streaming marked interrupted;"
			 " of the unfinished idempotency claims %lld kept"
			 " (their messages were stored), %lld dropped",
			 (long long)nmsg, (long long)nkept,
			 (long long)ndropped);
	return 0;
}

/* ---- for the REST handlers ------------------------------------------- */

void chat_convs_free(struct chat_conv *v, size_t n)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; i < n; i++)
		chat_conv_release(&v[i]);
	free(v);
}

/* "%<q with %, _ and \ escaped>%" for LIKE ... ESCAPE '\' (caller's). */
static char *like_pattern(const char *q)
{
	size_t n = strlen(q), i, j = 0;
	char *p = malloc(2 * n + 3);

	if (!p)
		return NULL;
	p[j++] = '%';
	for (i = 0; i < n; i++) {
		if (q[i] == '%' || q[i] == '_' || q[i] == '\\')
			p[j++] = '\\';
		p[j++] = q[i];
	}
	p[j++] = '%';
	p[j] = '\0';
	return p;
}

int store_conv_list(struct db_conn *c, const struct store_conv_filter *f,
		    struct chat_conv **out, size_t *n)
{
	struct db_param p[6];
	struct db_rows *r = NULL;
	struct buf sql;
	char *pattern = NULL;
	void *v = NULL;
	size_t np = 0;
	int rc;

	*out = NULL;
	*n = 0;
	buf_init(&sql, STORE_SQL_MAX);
	p[np++] = db_p_text(f->user_id);
	rc = buf_puts(&sql, "SELECT " CONV_COLUMNS " FROM conversations"
		      " WHERE user_id = $1");
	if (rc == 0 && f->archived >= 0) {
		p[np++] = DB_P_INT(f->archived ? 1 : 0);
		rc = buf_printf(&sql, " AND archived = $%zu", np);
	}
	if (rc == 0 && f->after) {
		p[np++] = DB_P_INT(f->after_updated);
		p[np++] = db_p_text(f->after_id);
		rc = buf_printf(&sql, " AND (updated_at < $%zu OR"
				" (updated_at = $%zu AND id < $%zu))",
				np - 1, np - 1, np);
	}
	if (rc == 0 && f->q) {
		pattern = like_pattern(f->q);
		if (!pattern) {
			rc = CHAT_ENOMEM;
			goto out;
		}
		p[np++] = db_p_text(pattern);
		/* lower() on both sides: the same folding whatever the
		 * backend's (SQLite: ASCII only) */
		rc = buf_printf(&sql, " AND (lower(title) LIKE lower($%zu)"
				" ESCAPE '\\' OR EXISTS (SELECT 1 FROM messages m"
				" WHERE m.conversation_id = conversations.id"
				" AND m.user_id = $1"
				" AND lower(m.content) LIKE lower($%zu)"
				" ESCAPE '\\'))", np, np);
	}
	if (rc == 0) {
		p[np++] = DB_P_INT((int64_t)f->limit);
		rc = buf_printf(&sql, " ORDER BY updated_at DESC, id DESC"
				" LIMIT $%zu", np);
	}
	if (rc == 0)
		rc = db_query(c, sql.data, p, np, &r);
	if (rc == 0)
		rc = rows_to_array(r, sizeof(**out), conv_from_row,
				   conv_release_any, &v, n);
	*out = v;
out:
	free(pattern);
	db_rows_free(r);
	buf_release(&sql);
	return rc;
}

int store_conv_update(struct db_conn *c, struct chat_conv *conv,
		      unsigned mask, int64_t now)
{
	struct db_param p[8];
	struct chat_conv fresh;
	struct buf sql;
	size_t np = 0;
	int rc;

	buf_init(&sql, STORE_SQL_MAX);
	rc = buf_puts(&sql, "UPDATE conversations SET ");
	if (rc == 0 && (mask & STORE_CONV_TITLE)) {
		p[np++] = db_p_text(conv->title);
		rc = buf_printf(&sql, "title = $%zu, ", np);
	}
	if (rc == 0 && (mask & STORE_CONV_MODEL)) {
		p[np++] = db_p_text(conv->model);
		rc = buf_printf(&sql, "model = $%zu, ", np);
	}
	if (rc == 0 && (mask & STORE_CONV_SYSTEM)) {
		p[np++] = db_p_text(conv->system_prompt);
		rc = buf_printf(&sql, "system_prompt = $%zu, ", np);
	}
	if (rc == 0 && (mask & STORE_CONV_ARCHIVED)) {
		p[np++] = DB_P_INT(conv->archived ? 1 : 0);
		rc = buf_printf(&sql, "archived = $%zu, ", np);
	}
	if (rc == 0 && (mask & STORE_CONV_LEAF)) {
		p[np++] = p_id(conv->current_leaf_id);
		rc = buf_printf(&sql, "current_leaf_id = $%zu, ", np);
	}
	if (rc == 0) {
		p[np++] = DB_P_INT(now);
		p[np++] = db_p_text(conv->id);
		p[np++] = db_p_text(conv->user_id);
		rc = buf_printf(&sql, "updated_at = $%zu WHERE id = $%zu"
				" AND user_id = $%zu RETURNING " CONV_COLUMNS,
				np - 2, np - 1, np);
	}
	if (rc == 0)
		rc = query_one(c, sql.data, p, np, conv_from_row, &fresh);
	if (rc == 0) {
		chat_conv_release(conv);
		*conv = fresh;
	}
	buf_release(&sql);
	return rc;
}

int store_conv_delete(struct db_conn *c, const struct daemon *d,
		      const char *user_id, const char *conv_id)
{
	struct db_param p[2];
	int rc;

	p[0] = db_p_text(conv_id);
	p[1] = db_p_text(user_id);
	rc = db_begin(c);
	if (rc < 0)
		return rc;
	rc = db_exec(c, sql_conv_delete_msgs, p, 2, NULL);
	if (rc == 0)
		rc = exec_one(c, sql_conv_delete, p, 2);
	if (rc == 0)
		rc = store_events_conv_deleted(c, d, user_id, conv_id);
	if (rc == 0)
		return db_commit(c);
	db_rollback(c);
	return rc;
}

int store_newest_leaf(struct db_conn *c, const char *conv_id,
		      const char *msg_id, char out[UUID_STR_LEN])
{
	struct db_rows *r = NULL;
	struct db_param p[2];
	int rc;

	out[0] = '\0';
	p[0] = db_p_text(msg_id);
	p[1] = db_p_text(conv_id);
	rc = db_query(c, sql_newest_leaf, p, 2, &r);
	if (rc == 0 && db_rows_count(r) == 0)
		rc = CHAT_ENOTFOUND;
	if (rc == 0)
		copy_col(r, 0, 0, out, UUID_STR_LEN);
	db_rows_free(r);
	return rc;
}

/* Parent ids equal, NULL and "" both meaning a root. */
static bool same_parent(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

/* sib[i] from r, rows (id, parent_id, ...) grouped by parent in the
 * order of msgs: one pass.  r is not freed here. */
static int siblings_fill(struct db_rows *r, const struct chat_msg *msgs,
			 size_t n, cJSON **sib)
{
	size_t i, j = 0, count = db_rows_count(r);
	int rc = 0;

	for (i = 0; i < n && rc == 0; i++) {
		sib[i] = cJSON_CreateArray();
		if (!sib[i]) {
			rc = CHAT_ENOMEM;
			break;
		}
		while (j < count &&
		       !same_parent(db_rows_get(r, j, 1), msgs[i].parent_id))
			j++;
		for (; j < count &&
		       same_parent(db_rows_get(r, j, 1), msgs[i].parent_id);
		     j++) {
			const char *id = db_rows_get(r, j, 0);
			cJSON *s = cJSON_CreateString(id ? id : "");

			if (!s || !cJSON_AddItemToArray(sib[i], s)) {
				cJSON_Delete(s);
				rc = CHAT_ENOMEM;
				break;
			}
		}
	}
	if (rc < 0) {
		for (i = 0; i < n; i++) {
			cJSON_Delete(sib[i]);
			sib[i] = NULL;
		}
	}
	return rc;
}

/* The sibling lists of msgs[0..n) from one query (sql with p[0..np)). */
static int siblings_query(struct db_conn *c, const char *sql,
			  const struct db_param *p, size_t np,
			  const struct chat_msg *msgs, size_t n, cJSON **sib)
{
	struct db_rows *r = NULL;
	size_t i;
	int rc;

	for (i = 0; i < n; i++)
		sib[i] = NULL;
	if (n == 0)
		return 0;
	rc = db_query(c, sql, p, np, &r);
	if (rc == 0)
		rc = siblings_fill(r, msgs, n, sib);
	db_rows_free(r);
	return rc;
}

int store_branch_siblings(struct db_conn *c, const char *conv_id,
			  const char *leaf_id, const struct chat_msg *msgs,
			  size_t n, cJSON **sib)
{
	struct db_param p[2];

	p[0] = db_p_text(leaf_id);
	p[1] = db_p_text(conv_id);
	return siblings_query(c, sql_branch_siblings, p, 2, msgs, n, sib);
}

int store_page_siblings(struct db_conn *c, const char *conv_id,
			const char *end_id, const struct chat_msg *msgs,
			size_t n, cJSON **sib)
{
	struct db_param p[3];

	p[0] = db_p_text(end_id);
	p[1] = db_p_text(conv_id);
	p[2] = DB_P_INT((int64_t)n);
	return siblings_query(c, sql_page_siblings, p, 3, msgs, n, sib);
}

/* ---- the account export (export.c) ---------------------------------- */

static const char sql_export_convs_first[] =
	"SELECT " CONV_COLUMNS " FROM conversations WHERE user_id = $1"
	" ORDER BY id DESC LIMIT $2";
static const char sql_export_convs_after[] =
	"SELECT " CONV_COLUMNS " FROM conversations WHERE user_id = $1"
	" AND id < $3 ORDER BY id DESC LIMIT $2";
static const char sql_export_msgs[] =
	"SELECT " MSG_COLUMNS("") " FROM messages WHERE conversation_id = $1"
	" AND user_id = $2 AND id > $3 ORDER BY id LIMIT $4";

int store_export_convs(struct db_conn *c, const char *user_id,
		       const char *before_id, size_t limit,
		       struct chat_conv **out, size_t *n)
{
	struct db_rows *r = NULL;
	struct db_param p[3];
	bool after = before_id && *before_id;
	int rc;

	*out = NULL;
	*n = 0;
	p[0] = db_p_text(user_id);
	p[1] = DB_P_INT((int64_t)limit);
	p[2] = db_p_text(after ? before_id : "");
	rc = db_query(c, after ? sql_export_convs_after
			       : sql_export_convs_first, p, after ? 3 : 2, &r);
	if (rc == 0)
		rc = rows_to_array(r, sizeof(**out), conv_from_row,
				   conv_release_any, (void **)out, n);
	db_rows_free(r);
	return rc;
}

int store_export_msgs(struct db_conn *c, const char *user_id,
		      const char *conv_id, const char *after_id,
		      size_t limit, struct chat_msg **out, size_t *n)
{
	struct db_rows *r = NULL;
	struct db_param p[4];
	int rc;

	*out = NULL;
	*n = 0;
	p[0] = db_p_text(conv_id);
	p[1] = db_p_text(user_id);
	p[2] = db_p_text(after_id ? after_id : "");
	p[3] = DB_P_INT((int64_t)limit);
	rc = db_query(c, sql_export_msgs, p, 4, &r);
	if (rc == 0)
		rc = rows_to_array(r, sizeof(**out), msg_from_row,
				   msg_release_any, (void **)out, n);
	db_rows_free(r);
	return rc;
}
