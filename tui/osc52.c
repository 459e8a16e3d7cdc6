/*
 * osc52.c - copying to the terminal's clipboard with OSC 52, which works
 * over ssh and inside tmux (set-clipboard on, or the passthrough wrapper
 * when asked).
 */
#include "chatui.h"

#include <string.h>

#include "err.h"
#include "banned.h"

int osc52_base64(const void *data, size_t len, struct buf *out)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		"0123456789+/";
	const unsigned char *p = data;
	char quad[4];
	size_t i;
	int rc;

	for (i = 0; i + 2 < len; i += 3) {
		quad[0] = tab[p[i] >> 2];
		quad[1] = tab[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
		quad[2] = tab[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)];
		quad[3] = tab[p[i + 2] & 63];
		rc = buf_append(out, quad, 4);
		if (rc < 0)
			return rc;
	}
	if (i < len) {
		quad[0] = tab[p[i] >> 2];
		if (i + 1 < len) {
			quad[1] = tab[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
			quad[2] = tab[(p[i + 1] & 15) << 2];
		} else {
			quad[1] = tab[(p[i] & 3) << 4];
			quad[2] = '=';
		}
		quad[3] = '=';
		rc = buf_append(out, quad, 4);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int osc52_encode(const void *data, size_t len, bool tmux_wrap,
		 struct buf *out)
{
	int rc;

	buf_reset(out);
	/* tmux passes "\ePtmux;" + the sequence with ESC doubled + "\e\\" */
	rc = buf_puts(out, tmux_wrap ? "\033Ptmux;\033\033]52;c;" :
				       "\033]52;c;");
	if (rc == 0)
		rc = osc52_base64(data, len, out);
	if (rc == 0)
		rc = buf_puts(out, tmux_wrap ? "\a\033\\" : "\a");
	return rc;
}
