/*
 * ws-frame.h - the WebSocket frame codec (RFC 6455 section 5): a push
 * parser of received frames and the header writer of sent ones, and the
 * opening handshake's accept value and a client's check of the 101,
 * with no I/O, so that it can be unit-tested and fuzzed on its own.  The
 * server (http-ws.c) and chatui's client (tui/ws.c) both use it.
 *
 * The parser enforces what RFC 6455 makes a protocol error (close code
 * 1002): reserved bits set (no extension is negotiated), an unknown
 * opcode, a control frame that is fragmented or longer than 125 bytes,
 * a length not in its shortest form or with the top bit set, a frame
 * from a client that is not masked (or from a server that is), a
 * continuation with no message begun or a new message before the last
 * one ended.  A close frame's payload is checked by ws_frame_close_code
 * once the caller has it whole (a one-byte payload, a code that may not
 * be sent); message sizes and text encoding (UTF-8, close code 1007,
 * also for a close frame's reason) are the caller's too: it puts the
 * payload pieces together.  After an error the parser is not reused.
 */
#ifndef CHAT_WS_FRAME_H
#define CHAT_WS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	WS_OP_CONT = 0x0,
	WS_OP_TEXT = 0x1,
	WS_OP_BINARY = 0x2,
	WS_OP_CLOSE = 0x8,
	WS_OP_PING = 0x9,
	WS_OP_PONG = 0xA,
};

#define WS_FRAME_MAX_HEADER	14	/* 2 + 8 length + 4 mask */
#define WS_CONTROL_MAX		125

/* What the parser has seen so far (zero it, then set masked_in). */
struct ws_frame_parser {
	bool masked_in;		/* frames must be masked (a server's) */
	/* the frame being read */
	int state;
	unsigned char hdr[WS_FRAME_MAX_HEADER];
	size_t hlen, hneed;
	int opcode;		/* of this frame */
	bool fin;
	uint64_t len, got;	/* payload length, bytes delivered */
	unsigned char mask[4];
	/* across frames */
	bool in_message;	/* a fragmented data message is open */
	int message_opcode;	/* its TEXT or BINARY */
};

/* What one call found. */
struct ws_frame_event {
	bool data;		/* false: more bytes needed */
	int opcode;		/* the frame's (WS_OP_CONT for a later piece
				 * of a fragmented message) */
	int message_opcode;	/* TEXT or BINARY for data frames, 0 for
				 * control frames */
	bool fin;		/* the frame ends its message */
	unsigned char *bytes;	/* payload, unmasked, inside the input */
	size_t len;
	bool start;		/* the frame's first payload piece */
	bool end;		/* the frame's last payload piece */
};

/*
 * Reads in[0..len) (unmasked in place, hence not const).  Returns the
 * bytes consumed and fills ev: ev->data when a piece of a frame's
 * payload is there (possibly empty; the last one has ev->end, which an
 * empty frame's only piece has too); call again with the rest.  A
 * negative return is the close code to close with: -1002 for a
 * protocol error.
 */
long ws_frame_feed(struct ws_frame_parser *p, unsigned char *in, size_t len,
		   struct ws_frame_event *ev);

/* Writes the header of a frame into out; returns its length.  mask NULL
 * for a server's frames; a client passes 4 random bytes and masks the
 * payload with ws_frame_mask. */
size_t ws_frame_header(unsigned char out[WS_FRAME_MAX_HEADER], int opcode,
		       bool fin, uint64_t len, const unsigned char *mask);

/* XORs data with mask, as if data began offset bytes into the payload. */
void ws_frame_mask(unsigned char *data, size_t len, const unsigned char *mask,
		   uint64_t offset);

/* A close frame's payload: its code (1005 when empty; the reason, if
 * any, follows the two code bytes).  -1002 when the payload is one byte or the code may not be sent
 * (below 1000, 1004-1006, 1012-2999 except 1012-1014, or 5000 and up). */
int ws_frame_close_code(const unsigned char *payload, size_t len, int *code);

/* The opening handshake (RFC 6455 4.2.2): the Sec-WebSocket-Accept
 * value for the client's key (out gets 28 characters and a NUL). */
int ws_frame_accept_key(const char *key, size_t len, char out[32]);

/*
 * A client reads the server's answer to its upgrade: head[0..len) is the
 * whole head, up to and with its empty line.  Returns 0 when it is a 101
 * with "Upgrade: websocket" and the Sec-WebSocket-Accept that key calls
 * for; else -1, with *status the answer's status (401 to refresh a
 * token), or 0 when the head is not HTTP/1.1 at all.
 */
int ws_frame_check_101(const char *head, size_t len, const char *key,
		       int *status);

#endif
