/*
 * term.c - chatui's one terminal module: ncursesw in raw mode with the
 * locale's UTF-8, keypad, mouse wheel, bracketed paste (ESC [ ? 2004 h,
 * its markers defined as keys), colours (256, else 8, else attributes
 * only; NO_COLOR honoured), and the terminal restored at exit and on
 * fatal signals.
 */
#include "app.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "banned.h"

static bool term_active;
static int term_mode;		/* 0 mono, 8, 256 */

/* Colour of each UI element: 256-colour foreground, 8-colour foreground
 * (-1 default), attributes on a monochrome terminal. */
static const struct {
	short fg256, fg8, bg256, bg8;
	int mono;
} ui_colors[UC_COUNT] = {
	[UC_NORMAL] = { -1, -1, -1, -1, 0 },
	[UC_DIM] = { 244, COLOR_WHITE, -1, -1, A_DIM },
	[UC_USER] = { 39, COLOR_CYAN, -1, -1, A_BOLD },
	[UC_ASSISTANT] = { 114, COLOR_GREEN, -1, -1, A_BOLD },
	[UC_SELECTED] = { 231, COLOR_WHITE, 24, COLOR_BLUE, A_REVERSE },
	[UC_STATUS] = { 252, COLOR_WHITE, 236, COLOR_BLUE, A_REVERSE },
	[UC_BANNER] = { 231, COLOR_WHITE, 124, COLOR_RED, A_REVERSE },
	[UC_ERROR] = { 203, COLOR_RED, -1, -1, A_BOLD },
	[UC_BORDER] = { 240, COLOR_BLUE, -1, -1, 0 },
	[UC_CURRENT] = { 222, COLOR_YELLOW, -1, -1, A_BOLD },
	[UC_OK] = { 114, COLOR_GREEN, -1, -1, 0 },
};

static const struct {
	short fg256, fg8;
	int mono;
} md_colors[MD_K_COUNT] = {
	[MD_K_TEXT] = { -1, -1, 0 },
	[MD_K_HEADING] = { 75, COLOR_BLUE, A_BOLD },
	[MD_K_CODE_INLINE] = { 180, COLOR_YELLOW, A_BOLD },
	[MD_K_LINK] = { 75, COLOR_CYAN, A_UNDERLINE },
	[MD_K_URL] = { 244, COLOR_BLUE, A_DIM },
	[MD_K_QUOTE_BAR] = { 244, COLOR_WHITE, A_DIM },
	[MD_K_LIST_MARK] = { 179, COLOR_YELLOW, A_BOLD },
	[MD_K_RULE] = { 240, COLOR_WHITE, A_DIM },
	[MD_K_TABLE_BORDER] = { 240, COLOR_WHITE, A_DIM },
	[MD_K_TABLE_HEADER] = { -1, -1, A_BOLD },
	[MD_K_CODE_FRAME] = { 240, COLOR_WHITE, A_DIM },
	[MD_K_CODE_LANG] = { 179, COLOR_YELLOW, A_BOLD },
	[MD_K_CODE] = { 252, -1, 0 },
	[MD_K_CODE_KEYWORD] = { 204, COLOR_MAGENTA, A_BOLD },
	[MD_K_CODE_TYPE] = { 81, COLOR_CYAN, 0 },
	[MD_K_CODE_STRING] = { 150, COLOR_GREEN, 0 },
	[MD_K_CODE_NUMBER] = { 215, COLOR_YELLOW, 0 },
	[MD_K_CODE_COMMENT] = { 244, COLOR_WHITE, A_DIM },
	[MD_K_CODE_PUNCT] = { 248, -1, 0 },
	[MD_K_CODE_CONT] = { 240, COLOR_WHITE, A_DIM },
};

#define MD_PAIR0 (UC_COUNT + 1)

static void term_on_fatal(int sig)
{
	static const char reset[] = "\033[?2004l\033[?1000l\033[?1006l";

	if (term_active) {
		term_active = false;
		endwin();	/* htop does the same: the terminal first */
		if (write(STDOUT_FILENO, reset, sizeof(reset) - 1) < 0) {
			/* nothing more to do */
		}
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static void term_colors(void)
{
	const char *nc = getenv("NO_COLOR");
	int i;

	term_mode = 0;
	if ((nc && nc[0]) || !has_colors() || start_color() != OK)
		return;
	use_default_colors();
	term_mode = COLORS >= 256 ? 256 : 8;
	for (i = 0; i < UC_COUNT; i++)
		init_pair((short)(i + 1),
			  term_mode == 256 ? ui_colors[i].fg256 :
					     ui_colors[i].fg8,
			  term_mode == 256 ? ui_colors[i].bg256 :
					     ui_colors[i].bg8);
	for (i = 0; i < MD_K_COUNT; i++)
		init_pair((short)(MD_PAIR0 + i),
			  term_mode == 256 ? md_colors[i].fg256 :
					     md_colors[i].fg8, -1);
}

int term_init(struct app *a)
{
	static const int fatal[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL,
				     SIGABRT };
	size_t i;

	if (!initscr())
		return CHAT_EIO;
	term_active = true;
	for (i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		signal(fatal[i], term_on_fatal);
	raw();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	set_escdelay(25);
	define_key("\033[200~", KEY_PASTE_BEGIN);
	define_key("\033[201~", KEY_PASTE_END);
	mousemask(BUTTON4_PRESSED | BUTTON5_PRESSED, NULL);
	mouseinterval(0);
	term_colors();
	a->color_mode = term_mode;
	printf("\033[?2004h");	/* bracketed paste */
	fflush(stdout);
	getmaxyx(stdscr, a->rows, a->cols);
	return 0;
}

void term_restore(void)
{
	if (!term_active)
		return;
	term_active = false;
	printf("\033[?2004l");
	fflush(stdout);
	endwin();
}

void term_write_raw(const char *s, size_t len)
{
	size_t off = 0;
	ssize_t n;

	fflush(stdout);
	while (off < len) {
		n = write(STDOUT_FILENO, s + off, len - off);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
}

int term_attr(enum ui_color c)
{
	if ((unsigned)c >= UC_COUNT)
		c = UC_NORMAL;
	if (term_mode == 0)
		return ui_colors[c].mono;
	return COLOR_PAIR(c + 1) | (c == UC_USER || c == UC_ASSISTANT ||
				    c == UC_ERROR || c == UC_CURRENT ?
				    A_BOLD : 0);
}

int term_attr_md(int kind, int attrs, int level)
{
	int at = 0;

	if (kind < 0 || kind >= MD_K_COUNT)
		kind = MD_K_TEXT;
	if (attrs & MD_BOLD)
		at |= A_BOLD;
	if (attrs & MD_ITALIC)
		at |= term_mode ? A_ITALIC : A_UNDERLINE;
	if (attrs & MD_UNDERLINE)
		at |= A_UNDERLINE;
	if (attrs & MD_STRIKE)
		at |= A_DIM;
	if (kind == MD_K_HEADING && level <= 2)
		at |= A_BOLD | (level == 1 ? A_UNDERLINE : 0);
	if (term_mode == 0)
		return at | md_colors[kind].mono;
	return at | COLOR_PAIR(MD_PAIR0 + kind) |
	       (md_colors[kind].mono & (A_BOLD | A_UNDERLINE));
}
