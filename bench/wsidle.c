/*
 * wsidle.c - opens N idle WebSocket connections to one server and holds
 * them, for bench/ws-idle.sh to measure what each costs the server.
 *
 * usage: wsidle PORT PATH TOKEN N [WINDOW]
 *
 * One process, one epoll set, non-blocking sockets to 127.0.0.1:PORT:
 * at most WINDOW (default 256) handshakes in flight, so the server sees a
 * steady bounded load rather than N connects at once.  A handshake is
 * "GET PATH" with Upgrade and "Authorization: Bearer TOKEN" (empty TOKEN:
 * none); it counts as open on a "101" status line.  Then one line on
 * stdout:
 *
 *   opened=N failed=F seconds=S rate=R
 *
 * and the connections are held (a server's ping is answered with its
 * pong, as a live client would, other frames are dropped, a server's
 * close is counted) until stdin reaches its end or gives a line; then a
 * last line "held=H closed_by_server=C" and exit.
 *
 * Why not a general client: a bench of idle connections must cost the
 * client little (no thread, no per-connection buffer beyond the
 * handshake's answer) so that N reaches the descriptor limit.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "banned.h"

#define WI_ANSWER_MAX 1024

enum wi_state { WI_CONNECTING, WI_ANSWER, WI_OPEN, WI_DONE };

struct wi_conn {
	int fd;
	enum wi_state state;
	unsigned short got;		/* answer bytes so far */
	char *answer;			/* WI_ANSWER_MAX, while WI_ANSWER */
};

struct wi {
	int ep;
	int port;
	const char *path;
	const char *token;
	struct wi_conn *conns;
	long n, next, inflight, opened, failed, closed;
};

static double wi_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void wi_fail(struct wi *w, struct wi_conn *c)
{
	if (c->state == WI_OPEN)
		w->closed++;
	else
		w->failed++;
	if (c->state != WI_OPEN)
		w->inflight--;
	close(c->fd);
	free(c->answer);
	c->answer = NULL;
	c->fd = -1;
	c->state = WI_DONE;
}

/* Starts connection i; 0, or -1 when no descriptor was left. */
static int wi_start(struct wi *w, long i)
{
	struct wi_conn *c = &w->conns[i];
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct epoll_event ev = { .events = EPOLLOUT, .data.u64 = (uint64_t)i };
	int fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	sa.sin_port = htons((unsigned short)w->port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->fd = fd;
	c->state = WI_CONNECTING;
	c->got = 0;
	w->inflight++;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
	    errno != EINPROGRESS) {
		wi_fail(w, c);
		return 0;
	}
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		wi_fail(w, c);
	return 0;
}

static void wi_send_handshake(struct wi *w, struct wi_conn *c, long i)
{
	char req[8192];
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)i };
	int err = 0, len;
	socklen_t el = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
		wi_fail(w, c);
		return;
	}
	len = snprintf(req, sizeof(req),
		       "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
		       "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		       "Sec-WebSocket-Version: 13\r\n%s%s%s\r\n",
		       w->path, w->port, *w->token ? "Authorization: Bearer " : "",
		       w->token, *w->token ? "\r\n" : "");
	if (len < 0 || (size_t)len >= sizeof(req) ||
	    write(c->fd, req, (size_t)len) != len) {
		wi_fail(w, c);
		return;
	}
	c->answer = malloc(WI_ANSWER_MAX);
	if (!c->answer || epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
		wi_fail(w, c);
		return;
	}
	c->state = WI_ANSWER;
}

/* Answers the pings among frames read whole (an idle connection gets
 * small control frames, each in one piece on loopback); the rest is
 * dropped.  A pong is masked, as a client's frames must be. */
static void wi_pongs(struct wi_conn *c, const unsigned char *p, size_t n)
{
	while (n >= 2) {
		size_t len = p[1] & 0x7f, h = 2;
		unsigned char pong[2 + 4 + 125];

		if (len == 126)
			h = 4;
		else if (len == 127)
			h = 10;
		if (n < h)
			return;
		if (h == 4)
			len = (size_t)p[2] << 8 | p[3];
		else if (h == 10)
			return;		/* a huge frame: not a ping */
		if (n < h + len)
			return;
		if ((p[0] & 0x0f) == 0x9 && len <= 125) {
			pong[0] = 0x8a;
			pong[1] = (unsigned char)(0x80 | len);
			memset(pong + 2, 0, 4);		/* mask key 0 */
			memcpy(pong + 6, p + h, len);
			if (write(c->fd, pong, 6 + len) < 0)
				return;
		}
		p += h + len;
		n -= h + len;
	}
}

static void wi_read(struct wi *w, struct wi_conn *c)
{
	unsigned char got[4096];
	ssize_t r;

	if (c->state == WI_OPEN) {
		while ((r = read(c->fd, got, sizeof(got))) > 0)
			wi_pongs(c, got, (size_t)r);
		if (r == 0 || (r < 0 && errno != EAGAIN))
			wi_fail(w, c);
		return;
	}
	r = read(c->fd, c->answer + c->got, WI_ANSWER_MAX - 1u - c->got);
	if (r <= 0) {
		if (r < 0 && errno == EAGAIN)
			return;
		wi_fail(w, c);
		return;
	}
	c->got = (unsigned short)(c->got + r);
	c->answer[c->got] = '\0';
	if (!strstr(c->answer, "\r\n\r\n")) {
		if (c->got >= WI_ANSWER_MAX - 1)
			wi_fail(w, c);
		return;
	}
	if (strncmp(c->answer, "HTTP/1.1 101", 12) != 0) {
		wi_fail(w, c);
		return;
	}
	free(c->answer);
	c->answer = NULL;
	c->state = WI_OPEN;
	w->inflight--;
	w->opened++;
}

static void wi_events(struct wi *w, int timeout_ms)
{
	struct epoll_event evs[256];
	int n, k;

	n = epoll_wait(w->ep, evs, 256, timeout_ms);
	for (k = 0; k < n; k++) {
		long i = (long)evs[k].data.u64;
		struct wi_conn *c = &w->conns[i];

		if (c->state == WI_DONE)
			continue;
		if (c->state == WI_CONNECTING)
			wi_send_handshake(w, c, i);
		else
			wi_read(w, c);
	}
}

int main(int argc, char **argv)
{
	struct wi w = { 0 };
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = UINT64_MAX };
	long window = 256, i;
	double t0, t1;
	char line[64];
	int rc = 1;

	if (argc < 5 || argc > 6) {
		fprintf(stderr, "usage: wsidle PORT PATH TOKEN N [WINDOW]\n");
		return 2;
	}
	w.port = atoi(argv[1]);
	w.path = argv[2];
	w.token = argv[3];
	w.n = atol(argv[4]);
	if (argc == 6)
		window = atol(argv[5]);
	if (w.port <= 0 || w.n <= 0 || window <= 0) {
		fprintf(stderr, "wsidle: bad PORT, N or WINDOW\n");
		return 2;
	}
	w.conns = calloc((size_t)w.n, sizeof(*w.conns));
	w.ep = epoll_create1(EPOLL_CLOEXEC);
	if (!w.conns || w.ep < 0) {
		perror("wsidle");
		goto out;
	}
	t0 = wi_now();
	while (w.opened + w.failed < w.n) {
		while (w.next < w.n && w.inflight < window) {
			if (wi_start(&w, w.next) < 0) {
				/* out of descriptors: the rest fail */
				w.failed += w.n - w.next;
				w.next = w.n;
				break;
			}
			w.next++;
		}
		if (w.opened + w.failed >= w.n)
			break;
		wi_events(&w, 1000);
	}
	t1 = wi_now();
	printf("opened=%ld failed=%ld seconds=%.3f rate=%.0f\n", w.opened,
	       w.failed, t1 - t0, (double)w.opened / (t1 - t0));
	fflush(stdout);
	/* hold: stdin's line or end ends it */
	fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
	if (epoll_ctl(w.ep, EPOLL_CTL_ADD, 0, &ev) < 0) {
		perror("wsidle: stdin");
		goto out;
	}
	for (;;) {
		struct epoll_event evs[256];
		int n = epoll_wait(w.ep, evs, 256, -1), k;
		int quit = 0;

		for (k = 0; k < n; k++) {
			if (evs[k].data.u64 == UINT64_MAX) {
				quit = 1;
				continue;
			}
			i = (long)evs[k].data.u64;
			if (w.conns[i].state != WI_DONE)
				wi_read(&w, &w.conns[i]);
		}
		if (quit) {
			ssize_t r = read(0, line, sizeof(line));

			if (r >= 0 || errno != EAGAIN)
				break;
		}
	}
	printf("held=%ld closed_by_server=%ld\n", w.opened - w.closed,
	       w.closed);
	rc = 0;
out:
	for (i = 0; w.conns && i < w.n; i++)
		if (w.conns[i].state != WI_DONE && w.conns[i].fd >= 0 &&
		    w.conns[i].state != WI_CONNECTING)
			close(w.conns[i].fd);
	free(w.conns);
	if (w.ep >= 0)
		close(w.ep);
	return rc;
}
