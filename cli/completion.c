/*
 * completion.c - `chatctl completion bash|zsh|fish`: a completion script
 * for each shell, generated at run time from chatctl's own tables (the
 * commands and their verbs at any depth, each command's options, the
 * values an option or argument takes), so that a new verb or option is
 * never missing from them (git's --git-completion-helper, in spirit).
 * `make` writes the scripts into completions/ with this command.
 *
 * Conversation ids and model names come from the server at completion
 * time through the hidden `chatctl __complete conv-ids|models`: one
 * quiet call with a short timeout, nothing printed on any error, so that
 * a shell never hangs or shows a message while completing.
 *
 * The scripts see the command line as a path of nodes: "chatctl" is the
 * root, "chatctl conv" a noun, "chatctl conv ls" a command.  Each knows
 * its sub-words (a noun's verbs), its options, and what its arguments
 * complete from.
 */
#include "chatctl.h"

#include <string.h>

#include "client.h"
#include "banned.h"

#define COMP_TIMEOUT_MS 1000	/* a completion waits no longer */
#define COMP_LIMIT "100"	/* conversation ids offered, newest first */

/* What an option's value completes from: a word list, or "@kind" for
 * the server's (comp_kinds).  Options with a value not here complete
 * nothing (a URL, a number, free text). */
static const struct {
	int id;
	const char *values;
} comp_option_values[] = {
	{ OPT_BY, "day model user" },
	{ OPT_COLOR, "never always auto" },
	{ OPT_CONVERSATION, "@conv-ids" },
	{ 'm', "@models" },
	{ OPT_OUTPUT, "table tsv json" },
	{ OPT_ROLE, "admin user guest" },
	{ OPT_USER, "@users" },
};

/* The options accepted before any command (main.c's cli_run). */
static const char comp_root_opts[] = "--server --color --help -h "
				     "--version -V";

static const char *comp_values_of(int id)
{
	size_t i;

	for (i = 0; i < sizeof(comp_option_values) /
			sizeof(comp_option_values[0]); i++)
		if (comp_option_values[i].id == id)
			return comp_option_values[i].values;
	return NULL;
}

/* ---- walking the command table ---- */

/* One node of the tree: the words typed so far ("chatctl conv ls"),
 * its entry (NULL for the root), its sub-words (NULL-ended; NULL when
 * it is a command, not a noun). */
struct comp_node {
	const char *path;
	const struct cli_cmd *cmd;
	const struct cli_cmd *const *top;	/* the root's commands */
	const struct cli_cmd *verbs;		/* a noun's verbs */
};

typedef void (*comp_node_fn)(FILE *f, const struct comp_node *n);

static bool comp_is_noun(const struct comp_node *n)
{
	return n->top || n->verbs;
}

/* The i-th visible sub-entry of a noun, NULL past the last. */
static const struct cli_cmd *comp_sub(const struct comp_node *n, size_t *i)
{
	const struct cli_cmd *c;

	for (;; (*i)++) {
		c = n->top ? n->top[*i] : &n->verbs[*i];
		if (!c || !c->name)
			return NULL;
		if (!(c->flags & CLI_CMD_HIDDEN)) {
			(*i)++;
			return c;
		}
	}
}

static void comp_walk_cmd(FILE *f, const char *prefix,
			  const struct cli_cmd *c, comp_node_fn fn)
{
	char path[256];
	struct comp_node n = { path, c, NULL, c->verbs };
	const struct cli_cmd *v;

	if (c->flags & CLI_CMD_HIDDEN)
		return;
	snprintf(path, sizeof(path), "%s %s", prefix, c->name);
	fn(f, &n);
	for (v = c->verbs; v && v->name; v++)
		comp_walk_cmd(f, path, v, fn);
}

/* Calls fn on the root, then on every visible node, parents first. */
static void comp_walk(FILE *f, comp_node_fn fn)
{
	const struct cli_cmd *const *top = cli_command_table();
	struct comp_node root = { "chatctl", NULL, top, NULL };
	size_t i;

	fn(f, &root);
	for (i = 0; top[i]; i++)
		comp_walk_cmd(f, "chatctl", top[i], fn);
}

/* Calls fn(f, option) on each option a command accepts: its own, then
 * the common ones it does not list. */
static void comp_each_opt(FILE *f, const struct cli_cmd *c,
			  void (*fn)(FILE *f, const struct cli_opt *o))
{
	const int *common = cli_common_options(), *id, *own;
	const struct cli_opt *o;
	bool dup;

	for (id = c->opts; id && *id; id++) {
		o = cli_option_by_id(*id);
		if (o)
			fn(f, o);
	}
	for (id = common; *id; id++) {
		dup = false;
		for (own = c->opts; own && *own && !dup; own++)
			dup = *own == *id;
		o = cli_option_by_id(*id);
		if (o && !dup)
			fn(f, o);
	}
}

/* ---- bash and zsh: the same tables as associative arrays ---- */

static void comp_word_opt(FILE *f, const struct cli_opt *o)
{
	fprintf(f, " --%s", o->long_name);
	if (o->short_name)
		fprintf(f, " -%c", o->short_name);
}

/* [node]="words" lines of the array `what` (sub, opts or kind). */
static void comp_sh_sub(FILE *f, const struct comp_node *n)
{
	const struct cli_cmd *c;
	const char *sep = "";
	size_t i = 0;

	if (!comp_is_noun(n))
		return;
	fprintf(f, "\t[\"%s\"]=\"", n->path);
	while ((c = comp_sub(n, &i)) != NULL) {
		fprintf(f, "%s%s", sep, c->name);
		sep = " ";
	}
	fprintf(f, "\"\n");
}

static void comp_sh_opts(FILE *f, const struct comp_node *n)
{
	fprintf(f, "\t[\"%s\"]=\"", n->path);
	if (!n->cmd)
		fputs(comp_root_opts, f);
	else if (comp_is_noun(n))
		fputs("--help -h", f);
	else
		comp_each_opt(f, n->cmd, comp_word_opt);
	fprintf(f, "\"\n");
}

static void comp_sh_kind(FILE *f, const struct comp_node *n)
{
	if (n->cmd && !comp_is_noun(n) && n->cmd->complete)
		fprintf(f, "\t[\"%s\"]=\"%s\"\n", n->path, n->cmd->complete);
}

/* [--option]="values" for every option that takes a value. */
static void comp_sh_values(FILE *f)
{
	const struct cli_opt *o;
	const char *v;
	int id;

	for (id = 1; id < OPT_MAX; id++) {
		o = cli_option_by_id(id);
		if (!o || !o->arg)
			continue;
		v = comp_values_of(id);
		fprintf(f, "\t[--%s]=\"%s\"\n", o->long_name, v ? v : "");
		if (o->short_name)
			fprintf(f, "\t[-%c]=\"%s\"\n", o->short_name,
				v ? v : "");
	}
}

static void comp_sh_tables(FILE *f, const char *declare)
{
	fprintf(f, "%s _chatctl_sub=(\n", declare);
	comp_walk(f, comp_sh_sub);
	fprintf(f, ")\n%s _chatctl_opts=(\n", declare);
	comp_walk(f, comp_sh_opts);
	fprintf(f, ")\n%s _chatctl_kind=(\n", declare);
	comp_walk(f, comp_sh_kind);
	fprintf(f, ")\n%s _chatctl_val=(\n", declare);
	comp_sh_values(f);
	fprintf(f, ")\n");
}

static const char comp_bash_body[] =
	"# The server's words (ids, model names): one quiet call that gives\n"
	"# up after a second.\n"
	"_chatctl_from() {\n"
	"\tlocal words\n"
	"\tcase $1 in\n"
	"\t@*) words=$(\"${COMP_WORDS[0]}\" ${server:+--server \"$server\"} \\\n"
	"\t\t__complete \"${1#@}\" 2>/dev/null </dev/null) || words= ;;\n"
	"\t*) words=$1 ;;\n"
	"\tesac\n"
	"\tCOMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
	"}\n"
	"\n"
	"_chatctl() {\n"
	"\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev= node=chatctl w i "
	"server=\n"
	"\tCOMPREPLY=()\n"
	"\t((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}\n"
	"\t# the nouns and verbs typed so far, options and values skipped\n"
	"\tfor ((i = 1; i < COMP_CWORD; i++)); do\n"
	"\t\tw=${COMP_WORDS[i]}\n"
	"\t\tif [[ $w == -* ]]; then\n"
	"\t\t\t[[ $w == --server ]] && server=${COMP_WORDS[i + 1]}\n"
	"\t\t\t[[ -n ${_chatctl_val[$w]+x} ]] && ((i++))\n"
	"\t\t\tcontinue\n"
	"\t\tfi\n"
	"\t\t[[ -n ${_chatctl_sub[$node]+x} &&\n"
	"\t\t\t\" ${_chatctl_sub[$node]} \" == *\" $w \"* ]] || break\n"
	"\t\tnode+=\" $w\"\n"
	"\tdone\n"
	"\tif ((COMP_CWORD > 1)) && [[ -n ${_chatctl_val[$prev]+x} ]]; then\n"
	"\t\t_chatctl_from \"${_chatctl_val[$prev]}\"\n"
	"\telif [[ $cur == -* ]]; then\n"
	"\t\tCOMPREPLY=($(compgen -W \"${_chatctl_opts[$node]}\" -- "
	"\"$cur\"))\n"
	"\telif [[ -n ${_chatctl_sub[$node]+x} ]]; then\n"
	"\t\tCOMPREPLY=($(compgen -W \"${_chatctl_sub[$node]}\" -- "
	"\"$cur\"))\n"
	"\telif [[ -n ${_chatctl_kind[$node]-} ]]; then\n"
	"\t\t_chatctl_from \"${_chatctl_kind[$node]}\"\n"
	"\tfi\n"
	"\treturn 0\n"
	"}\n"
	"complete -F _chatctl chatctl\n";

static void comp_bash(FILE *f)
{
	fprintf(f, "# chatctl(1) completion for bash, generated by `chatctl "
		   "completion bash`\n# from chatctl's command table: do not "
		   "edit.\n");
	comp_sh_tables(f, "declare -gA");
	fputc('\n', f);
	fputs(comp_bash_body, f);
}

static const char comp_zsh_body[] =
	"# The server's words (ids, model names): one quiet call that gives\n"
	"# up after a second.\n"
	"_chatctl_from() {\n"
	"\tcase $1 in\n"
	"\t@*) compadd -- ${(f)\"$(${words[1]} ${server:+--server $server} "
	"\\\n"
	"\t\t__complete ${1#@} 2>/dev/null </dev/null)\"} ;;\n"
	"\t*) compadd -- ${=1} ;;\n"
	"\tesac\n"
	"}\n"
	"\n"
	"_chatctl() {\n"
	"\tlocal cur=${words[CURRENT]} prev=${words[CURRENT-1]} "
	"node=chatctl w i server=\n"
	"\t# the nouns and verbs typed so far, options and values skipped\n"
	"\tfor ((i = 2; i < CURRENT; i++)); do\n"
	"\t\tw=${words[i]}\n"
	"\t\tif [[ $w == -* ]]; then\n"
	"\t\t\t[[ $w == --server ]] && server=${words[i+1]}\n"
	"\t\t\t(( ${+_chatctl_val[$w]} )) && ((i++))\n"
	"\t\t\tcontinue\n"
	"\t\tfi\n"
	"\t\t(( ${+_chatctl_sub[$node]} )) &&\n"
	"\t\t\t[[ \" ${_chatctl_sub[$node]} \" == *\" $w \"* ]] || break\n"
	"\t\tnode+=\" $w\"\n"
	"\tdone\n"
	"\tif (( CURRENT > 2 && ${+_chatctl_val[$prev]} )); then\n"
	"\t\t_chatctl_from \"${_chatctl_val[$prev]}\"\n"
	"\telif [[ $cur == -* ]]; then\n"
	"\t\tcompadd -- ${=_chatctl_opts[$node]}\n"
	"\telif (( ${+_chatctl_sub[$node]} )); then\n"
	"\t\tcompadd -- ${=_chatctl_sub[$node]}\n"
	"\telif [[ -n ${_chatctl_kind[$node]} ]]; then\n"
	"\t\t_chatctl_from \"${_chatctl_kind[$node]}\"\n"
	"\tfi\n"
	"\treturn 0\n"
	"}\n"
	"\n"
	"# autoloaded from fpath, this file is _chatctl's body: run it; "
	"sourced,\n# register it\n"
	"if [[ ${funcstack[1]-} == _chatctl ]]; then\n"
	"\t_chatctl \"$@\"\n"
	"elif (( ${+functions[compdef]} )); then\n"
	"\tcompdef _chatctl chatctl\n"
	"fi\n";

static void comp_zsh(FILE *f)
{
	fprintf(f, "#compdef chatctl\n# chatctl(1) completion for zsh, "
		   "generated by `chatctl completion zsh`\n# from chatctl's "
		   "command table: do not edit.\n");
	comp_sh_tables(f, "typeset -gA");
	fputc('\n', f);
	fputs(comp_zsh_body, f);
}

/* ---- fish: a `complete` line per word ---- */

/* fish's single-quoted text: ' and \ escaped. */
static void comp_fish_quote(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('\'', f);
}

static void comp_fish_subs(FILE *f, const struct comp_node *n)
{
	const struct cli_cmd *c;
	size_t i = 0;

	if (!comp_is_noun(n))
		return;
	fprintf(f, "\tcase '%s'\n\t\tprintf '%%s\\n'", n->path);
	while ((c = comp_sub(n, &i)) != NULL)
		fprintf(f, " %s", c->name);
	fputc('\n', f);
}

static const char *comp_fish_node;	/* the node comp_fish_opt is at */

static void comp_fish_opt(FILE *f, const struct cli_opt *o)
{
	const char *v = comp_values_of(o->id);

	fprintf(f, "complete -c chatctl -n '__chatctl_at \"%s\"' -l %s",
		comp_fish_node, o->long_name);
	if (o->short_name)
		fprintf(f, " -s %c", o->short_name);
	if (o->arg && v && v[0] == '@')
		fprintf(f, " -x -a '(__chatctl_from %s)'", v + 1);
	else if (o->arg && v)
		fprintf(f, " -x -a '%s'", v);
	else if (o->arg)
		fprintf(f, " -r");
	fprintf(f, " -d ");
	comp_fish_quote(f, o->help);
	fputc('\n', f);
}

static void comp_fish_node_lines(FILE *f, const struct comp_node *n)
{
	const struct cli_cmd *c;
	size_t i = 0;

	comp_fish_node = n->path;
	if (comp_is_noun(n)) {
		while ((c = comp_sub(n, &i)) != NULL) {
			fprintf(f, "complete -c chatctl -f -n '__chatctl_at "
				   "\"%s\"' -a %s -d ", n->path, c->name);
			comp_fish_quote(f, c->summary);
			fputc('\n', f);
		}
		if (!n->cmd)
			fprintf(f, "complete -c chatctl -n '__chatctl_at "
				   "chatctl' -l server -x\n"
				   "complete -c chatctl -n '__chatctl_at "
				   "chatctl' -l version -s V\n");
		fprintf(f, "complete -c chatctl -n '__chatctl_at \"%s\"' "
			   "-l help -s h\n", n->path);
		return;
	}
	comp_each_opt(f, n->cmd, comp_fish_opt);
	if (n->cmd->complete && n->cmd->complete[0] == '@')
		fprintf(f, "complete -c chatctl -f -n '__chatctl_at \"%s\"' "
			   "-a '(__chatctl_from %s)'\n", n->path,
			n->cmd->complete + 1);
	else if (n->cmd->complete)
		fprintf(f, "complete -c chatctl -f -n '__chatctl_at \"%s\"' "
			   "-a '%s'\n", n->path, n->cmd->complete);
	else if (n->cmd->max_pos == 0)
		fprintf(f, "complete -c chatctl -f -n '__chatctl_at \"%s\"'"
			   "\n", n->path);
}

static void comp_fish(FILE *f)
{
	const struct cli_opt *o;
	int id;

	fprintf(f, "# chatctl(1) completion for fish, generated by `chatctl "
		   "completion fish`\n# from chatctl's command table: do not "
		   "edit.\n\n# a noun's verbs\nfunction __chatctl_subs\n"
		   "\tswitch $argv[1]\n");
	comp_walk(f, comp_fish_subs);
	fprintf(f, "\tend\nend\n\n# the options that take a value\n"
		   "set -g __chatctl_valopts");
	for (id = 1; id < OPT_MAX; id++) {
		o = cli_option_by_id(id);
		if (!o || !o->arg)
			continue;
		fprintf(f, " --%s", o->long_name);
		if (o->short_name)
			fprintf(f, " -%c", o->short_name);
	}
	fprintf(f, "\n\n"
		"# the nouns and verbs typed so far: \"chatctl conv ls\"\n"
		"function __chatctl_node\n"
		"\tset -l toks (commandline -opc)\n"
		"\tset -l node chatctl\n"
		"\tset -l i 2\n"
		"\twhile test $i -le (count $toks)\n"
		"\t\tset -l w $toks[$i]\n"
		"\t\tif string match -q -- '-*' $w\n"
		"\t\t\tcontains -- $w $__chatctl_valopts; and set i "
		"(math $i + 1)\n"
		"\t\telse if contains -- $w (__chatctl_subs $node)\n"
		"\t\t\tset node \"$node $w\"\n"
		"\t\telse\n"
		"\t\t\tbreak\n"
		"\t\tend\n"
		"\t\tset i (math $i + 1)\n"
		"\tend\n"
		"\techo $node\n"
		"end\n\n"
		"function __chatctl_at\n"
		"\ttest (__chatctl_node) = $argv[1]\n"
		"end\n\n"
		"# the server's words (ids, model names): one quiet call that "
		"gives up\n# after a second\n"
		"function __chatctl_from\n"
		"\tset -l toks (commandline -opc)\n"
		"\tset -l server\n"
		"\tif set -l i (contains -i -- --server $toks)\n"
		"\t\tset server --server $toks[(math $i + 1)]\n"
		"\tend\n"
		"\t$toks[1] $server __complete $argv[1] 2>/dev/null "
		"</dev/null\n"
		"end\n\n");
	comp_walk(f, comp_fish_node_lines);
}

/* ---- the commands ---- */

static const struct {
	const char *name;
	void (*gen)(FILE *f);
} comp_shells[] = {
	{ "bash", comp_bash },
	{ "fish", comp_fish },
	{ "zsh", comp_zsh },
};

static int comp_exec(struct cli_ctx *ctx, const struct cli_args *a)
{
	size_t i;

	(void)ctx;
	for (i = 0; i < sizeof(comp_shells) / sizeof(comp_shells[0]); i++) {
		if (strcmp(a->pos[0], comp_shells[i].name) == 0) {
			comp_shells[i].gen(stdout);
			return CLI_OK;
		}
	}
	cli_error("no completion for the shell '%s' (bash, zsh, fish)",
		  a->pos[0]);
	return CLI_USAGE;
}

/* Prints field of each item of the list at path, one a line; quiet. */
static int comp_list(struct cli_ctx *ctx, const char *path,
		     const char *field)
{
	struct api_req req = { "GET", path, NULL, API_QUIET, NULL, NULL,
			       NULL };
	struct api_res res;
	const cJSON *it;
	int rc;

	rc = api_call(ctx, &req, &res);
	if (rc == CLI_OK) {
		cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(
					       res.json, "data"))
			if (json_str(it, field))
				printf("%s\n", json_str(it, field));
	}
	api_res_release(&res);
	return rc;
}

static const struct {
	const char *kind;
	const char *path;
	const char *field;
} comp_kinds[] = {
	{ "conv-ids", "/v1/conversations?limit=" COMP_LIMIT, "id" },
	{ "models", "/v1/models", "id" },
	{ "users", "/v1/admin/users?limit=" COMP_LIMIT, "username" },
};

static int comp_server_exec(struct cli_ctx *ctx, const struct cli_args *a)
{
	struct client *cl = ctx->curl;
	size_t i;

	/* a shell waits for this: never long, whatever the server does */
	cl->connect_timeout_ms = COMP_TIMEOUT_MS;
	cl->timeout_ms = COMP_TIMEOUT_MS;
	for (i = 0; i < sizeof(comp_kinds) / sizeof(comp_kinds[0]); i++)
		if (strcmp(a->pos[0], comp_kinds[i].kind) == 0)
			return comp_list(ctx, comp_kinds[i].path,
					 comp_kinds[i].field);
	return CLI_USAGE;
}

const struct cli_cmd cmd_completion = {
	.name = "completion",
	.args = "SHELL",
	.summary = "print the completion script of bash, zsh or fish",
	.opts = (const int[]){ 0 },
	.min_pos = 1,
	.max_pos = 1,
	.exec = comp_exec,
	.complete = "bash zsh fish",
	.flags = CLI_CMD_OFFLINE,
};

/* the completion scripts' door to the server: words, one a line */
const struct cli_cmd cmd_complete_helper = {
	.name = "__complete",
	.args = "conv-ids|models|users",
	.summary = "words for the completion scripts, from the server",
	.opts = (const int[]){ 0 },
	.min_pos = 1,
	.max_pos = 1,
	.exec = comp_server_exec,
	.flags = CLI_CMD_HIDDEN,
};
