/*
 * ws-frame.c - WebSocket frames (RFC 6455 section 5): the parser of
 * received frames and the header of sent ones.  The rules it enforces
 * are listed in ws-frame.h.
 */
#include "ws-frame.h"

#include <string.h>
#include <strings.h>

#include <libwebsockets.h>

#include "banned.h"

enum { WF_HEADER, WF_PAYLOAD };

static bool is_control(int op)
{
	return op >= 0x8;
}

/* The header is whole: checks it and sets up the payload. */
static int header_done(struct ws_frame_parser *p)
{
	const unsigned char *h = p->hdr;
	size_t i = 2;
	unsigned len7 = h[1] & 0x7f;

	if (len7 == 126) {
		p->len = (uint64_t)h[2] << 8 | h[3];
		if (p->len < 126)
			return -1002;	/* not the shortest form */
		i = 4;
	} else if (len7 == 127) {
		p->len = 0;
		for (i = 2; i < 10; i++)
			p->len = p->len << 8 | h[i];
		if (p->len >> 63 || p->len <= 0xffff)
			return -1002;
	} else {
		p->len = len7;
	}
	if (h[1] & 0x80)
		memcpy(p->mask, h + i, 4);
	p->got = 0;
	p->state = WF_PAYLOAD;
	return 0;
}

/* The first two bytes are there: checks what they say. */
static int header_start(struct ws_frame_parser *p)
{
	unsigned char b0 = p->hdr[0], b1 = p->hdr[1];
	bool masked = b1 & 0x80;
	unsigned len7 = b1 & 0x7f;

	p->fin = b0 & 0x80;
	p->opcode = b0 & 0x0f;
	if (b0 & 0x70)
		return -1002;		/* RSV1-3: no extension agreed */
	if (masked != p->masked_in)
		return -1002;
	switch (p->opcode) {
	case WS_OP_CONT:
		if (!p->in_message)
			return -1002;
		p->in_message = !p->fin;
		break;
	case WS_OP_TEXT:
	case WS_OP_BINARY:
		if (p->in_message)
			return -1002;
		p->message_opcode = p->opcode;
		p->in_message = !p->fin;
		break;
	case WS_OP_CLOSE:
	case WS_OP_PING:
	case WS_OP_PONG:
		if (!p->fin || len7 > WS_CONTROL_MAX)
			return -1002;
		break;
	default:
		return -1002;
	}
	p->hneed = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) +
		   (masked ? 4 : 0);
	return 0;
}

long ws_frame_feed(struct ws_frame_parser *p, unsigned char *in, size_t len,
		   struct ws_frame_event *ev)
{
	size_t used = 0;
	int rc;

	memset(ev, 0, sizeof(*ev));
	while (p->state == WF_HEADER) {
		if (p->hlen < 2 || p->hlen < p->hneed) {
			if (used == len)
				return (long)used;
			p->hdr[p->hlen++] = in[used++];
			if (p->hlen == 2 && (rc = header_start(p)) != 0)
				return rc;
			continue;
		}
		rc = header_done(p);
		if (rc)
			return rc;
	}
	{
		uint64_t left = p->len - p->got;
		size_t n = len - used;

		if (n > left)
			n = (size_t)left;
		if (p->hdr[1] & 0x80)
			ws_frame_mask(in + used, n, p->mask, p->got);
		ev->data = true;
		ev->opcode = p->opcode;
		ev->message_opcode = is_control(p->opcode) ? 0 :
				     p->message_opcode;
		ev->fin = p->fin;
		ev->bytes = in + used;
		ev->len = n;
		ev->start = p->got == 0;
		p->got += n;
		used += n;
		if (p->got == p->len) {
			ev->end = true;
			p->state = WF_HEADER;
			p->hlen = 0;
			p->hneed = 0;
		} else if (n == 0) {
			ev->data = false;	/* nothing new to say */
		}
	}
	return (long)used;
}

size_t ws_frame_header(unsigned char out[WS_FRAME_MAX_HEADER], int opcode,
		       bool fin, uint64_t len, const unsigned char *mask)
{
	size_t i = 2;
	int k;

	out[0] = (unsigned char)((fin ? 0x80 : 0) | (opcode & 0x0f));
	if (len < 126) {
		out[1] = (unsigned char)len;
	} else if (len <= 0xffff) {
		out[1] = 126;
		out[2] = (unsigned char)(len >> 8);
		out[3] = (unsigned char)len;
		i = 4;
	} else {
		out[1] = 127;
		for (k = 7; k >= 0; k--)
			out[i++] = (unsigned char)(len >> (k * 8));
	}
	if (mask) {
		out[1] |= 0x80;
		memcpy(out + i, mask, 4);
		i += 4;
	}
	return i;
}

void ws_frame_mask(unsigned char *data, size_t len, const unsigned char *mask,
		   uint64_t offset)
{
	size_t i;

	for (i = 0; i < len; i++)
		data[i] ^= mask[(offset + i) & 3];
}

int ws_frame_close_code(const unsigned char *payload, size_t len, int *code)
{
	int c;

	*code = 1005;
	if (len == 0)
		return 0;
	if (len == 1)
		return -1002;
	c = payload[0] << 8 | payload[1];
	if (c < 1000 || (c >= 1004 && c <= 1006) || (c >= 1015 && c < 3000) ||
	    c >= 5000)
		return -1002;
	*code = c;
	return 0;
}

int ws_frame_accept_key(const char *key, size_t len, char out[32])
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	unsigned char in[64], md[20];

	if (len + sizeof(guid) - 1 > sizeof(in))
		return -1;
	memcpy(in, key, len);
	memcpy(in + len, guid, sizeof(guid) - 1);
	if (!lws_SHA1(in, len + sizeof(guid) - 1, md))
		return -1;
	return lws_b64_encode_string((const char *)md, sizeof(md), out,
				     32) == 28 ? 0 : -1;
}

/* Field name's value in the head's field lines (first match, any case,
 * surrounding whitespace dropped), or NULL; *vlen its length. */
static const char *head_field(const char *head, size_t len, const char *name,
			      size_t *vlen)
{
	size_t nlen = strlen(name);
	const char *p = memchr(head, '\n', len), *end = head + len;

	while (p && ++p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *v, *ve;

		if (!eol)
			return NULL;
		if ((size_t)(eol - p) > nlen && p[nlen] == ':' &&
		    strncasecmp(p, name, nlen) == 0) {
			v = p + nlen + 1;
			ve = eol;
			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' ||
					  ve[-1] == '\t'))
				ve--;
			*vlen = (size_t)(ve - v);
			return v;
		}
		p = eol;
	}
	return NULL;
}

int ws_frame_check_101(const char *head, size_t len, const char *key,
		       int *status)
{
	char want[32];
	const char *v;
	size_t vlen;
	int i, st = 0;

	*status = 0;
	if (len < 12 || memcmp(head, "HTTP/1.1 ", 9) != 0)
		return -1;
	for (i = 9; i < 12; i++) {
		if (head[i] < '0' || head[i] > '9')
			return -1;
		st = st * 10 + (head[i] - '0');
	}
	*status = st;
	if (*status != 101)
		return -1;
	v = head_field(head, len, "upgrade", &vlen);
	if (!v || vlen != 9 || strncasecmp(v, "websocket", 9) != 0)
		return -1;
	v = head_field(head, len, "sec-websocket-accept", &vlen);
	if (!v || ws_frame_accept_key(key, strlen(key), want) != 0 ||
	    vlen != strlen(want) || memcmp(v, want, vlen) != 0)
		return -1;
	return 0;
}
