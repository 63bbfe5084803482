/*
 * metrics.c: Prometheus scrapes over a minimal HTTP/1.0 server (metrics.h).
 *
 * A listening socket and a fixed array of METRICS_MAX_CLIENTS client
 * slots, all watchers embedded (STYLE 11).  A client goes through three
 * phases: READ (collect the request head, at most METRICS_MAX_REQUEST
 * bytes), WRITE (the whole reply, prepared at once: status line, headers,
 * the render callback's text) and DRAIN (our side shut down for writing;
 * read and discard until the peer closes, so that a client that is still
 * sending does not get a RST that destroys the reply before it reads it).
 * One ev_timer per client, restarted with ev_timer_again on progress,
 * drops clients that stall.  Closing a client only stops its watchers,
 * closes its fd and marks the slot free: nothing is freed inside a
 * callback (STYLE 12).  When every slot is busy, or accept fails with
 * EMFILE/ENFILE, the listener is stopped (a second later it retries for
 * EMFILE) rather than spinning on a readable socket.
 */
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <ev.h>

#include "log.h"
#include "metrics.h"
#include "net.h"
#include "sluice.h"

enum mc_phase { MC_FREE = 0, MC_READ, MC_WRITE, MC_DRAIN };

struct mclient {
	struct metrics	*m;
	int		 fd;
	enum mc_phase	 phase;
	ev_io		 io;
	ev_timer	 idle;
	char		 req[METRICS_MAX_REQUEST + 1];
	size_t		 reqlen;
	struct wbuf	 out;
	size_t		 off;		/* bytes of out already written */
	size_t		 drained;
	char		 peer[80];
};

struct metrics {
	struct ev_loop	*loop;
	int		 lfd;
	ev_io		 lio;
	ev_timer	 pause;		/* EMFILE back-off */
	int		 nclients;
	metrics_render_fn render;
	void		*arg;
	struct net_addr	 addr;
	struct mclient	 c[METRICS_MAX_CLIENTS];
};

#define DRAIN_MAX	(64u * 1024)	/* bytes we discard before giving up */

static void client_io_cb(struct ev_loop *, ev_io *, int);

static void
listener_update(struct metrics *m)
{
	if (m->nclients < METRICS_MAX_CLIENTS && !ev_is_active(&m->pause))
		ev_io_start(m->loop, &m->lio);
	else
		ev_io_stop(m->loop, &m->lio);
}

static void
client_close(struct mclient *c)
{
	struct metrics *m = c->m;

	if (c->phase == MC_FREE)
		return;
	ev_io_stop(m->loop, &c->io);
	ev_timer_stop(m->loop, &c->idle);
	close(c->fd);
	c->fd = -1;
	wbuf_free(&c->out);
	c->phase = MC_FREE;
	m->nclients--;
	listener_update(m);
}

static void
append(struct wbuf *b, const char *s, size_t n)
{
	(void)wbuf_append(b, s, n);	/* past the cap: dropped, as documented */
}

/* Queue a complete reply and switch the client to WRITE. */
static void
client_reply(struct mclient *c, int code, const char *reason,
    const struct wbuf *body)
{
	struct metrics	*m = c->m;
	size_t		 blen = body ? body->len : 0;
	char		 head[256];	/* the longest reason is a short phrase */
	int		 n;

	wbuf_reset(&c->out);
	n = snprintf(head, sizeof(head), "HTTP/1.0 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n", code, reason,
	    code == 200 ? "text/plain; version=0.0.4; charset=utf-8" :
	    "text/plain; charset=utf-8", body ? blen : strlen(reason) + 1);
	if (n < 0 || (size_t)n >= sizeof(head))
		n = 0;		/* cannot happen with our reasons */
	append(&c->out, head, (size_t)n);
	if (body)
		append(&c->out, (const char *)body->p, blen);
	else {
		append(&c->out, reason, strlen(reason));
		append(&c->out, "\n", 1);
	}
	c->off = 0;
	c->phase = MC_WRITE;
	ev_io_stop(m->loop, &c->io);
	ev_io_set(&c->io, c->fd, EV_WRITE);
	ev_io_start(m->loop, &c->io);
	log_debug("metrics", "peer=%s status=%d bytes=%zu", c->peer, code, blen);
}

/* The head is complete (or too long): answer it. */
static void
client_request(struct mclient *c)
{
	struct metrics	*m = c->m;
	struct wbuf	 body;
	char		*sp1, *sp2, *eol;
	size_t		 plen;

	c->req[c->reqlen] = '\0';
	eol = strpbrk(c->req, "\r\n");
	if (eol)
		*eol = '\0';
	sp1 = strchr(c->req, ' ');
	sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (sp1 == NULL || sp2 == NULL || strncmp(sp2 + 1, "HTTP/", 5) != 0) {
		client_reply(c, 400, "Bad Request", NULL);
		return;
	}
	*sp1 = '\0';
	*sp2 = '\0';
	if (strcmp(c->req, "GET") != 0) {
		client_reply(c, 405, "Method Not Allowed", NULL);
		return;
	}
	plen = strcspn(sp1 + 1, "?");
	if (plen != strlen("/metrics") || strncmp(sp1 + 1, "/metrics", plen) != 0) {
		client_reply(c, 404, "Not Found", NULL);
		return;
	}
	wbuf_init(&body, METRICS_MAX_REPLY);
	m->render(m->arg, &body);
	client_reply(c, 200, "OK", &body);
	wbuf_free(&body);
}

static int
head_complete(const struct mclient *c)
{
	size_t	i;

	/* the blank line that ends the head: CRLFCRLF or LFLF */
	for (i = 0; i + 1 < c->reqlen; i++) {
		if (c->req[i] != '\n')
			continue;
		if (c->req[i + 1] == '\n')
			return 1;
		if (c->req[i + 1] == '\r' && i + 2 < c->reqlen && c->req[i + 2] == '\n')
			return 1;
	}
	return 0;
}

static void
client_read(struct mclient *c)
{
	ssize_t	n;
	char	junk[4096];

	if (c->phase == MC_DRAIN) {
		n = read(c->fd, junk, sizeof(junk));
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) ||
		    (c->drained += n > 0 ? (size_t)n : 0) > DRAIN_MAX)
			client_close(c);
		return;
	}
	n = read(c->fd, c->req + c->reqlen, METRICS_MAX_REQUEST - c->reqlen);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			client_close(c);
		return;
	}
	if (n == 0) {		/* closed before a whole head */
		client_close(c);
		return;
	}
	c->reqlen += (size_t)n;
	ev_timer_again(c->m->loop, &c->idle);
	if (head_complete(c))
		client_request(c);
	else if (c->reqlen == METRICS_MAX_REQUEST) {
		log_warnx("metrics", "peer=%s request head over %d bytes", c->peer,
		    METRICS_MAX_REQUEST);
		client_reply(c, 431, "Request Header Fields Too Large", NULL);
	}
}

static void
client_write(struct mclient *c)
{
	struct metrics	*m = c->m;
	ssize_t		 n;

	n = send(c->fd, c->out.p + c->off, c->out.len - c->off, MSG_NOSIGNAL);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			client_close(c);
		return;
	}
	c->off += (size_t)n;
	ev_timer_again(m->loop, &c->idle);
	if (c->off < c->out.len)
		return;
	/* all written: half-close and wait for the peer's EOF */
	shutdown(c->fd, SHUT_WR);
	wbuf_free(&c->out);
	c->phase = MC_DRAIN;
	ev_io_stop(m->loop, &c->io);
	ev_io_set(&c->io, c->fd, EV_READ);
	ev_io_start(m->loop, &c->io);
}

static void
client_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct mclient *c = w->data;

	(void)loop;
	if (c->phase == MC_WRITE)
		client_write(c);
	else
		client_read(c);
}

static void
client_idle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mclient *c = w->data;

	(void)loop;
	if (c->phase == MC_READ)
		log_debug("metrics", "peer=%s idle, closed", c->peer);
	client_close(c);
}

static void
pause_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct metrics *m = w->data;

	ev_timer_stop(loop, w);
	listener_update(m);
}

static void
accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct metrics	*m = w->data;
	struct net_addr	 peer;
	struct mclient	*c;
	int		 fd, i, rc;

	while (m->nclients < METRICS_MAX_CLIENTS) {
		rc = net_accept(m->lfd, &fd, &peer);
		if (rc == SL_EAGAIN)
			return;
		if (rc != SL_OK) {
			log_warn("metrics", "accept on %s", m->addr.text);
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				ev_io_stop(loop, &m->lio);
				ev_timer_set(&m->pause, 1.0, 0.);
				ev_timer_start(loop, &m->pause);
			}
			return;
		}
		for (i = 0; i < METRICS_MAX_CLIENTS && m->c[i].phase != MC_FREE; i++)
			;
		c = &m->c[i];
		c->fd = fd;
		c->phase = MC_READ;
		c->reqlen = 0;
		c->off = 0;
		c->drained = 0;
		snprintf(c->peer, sizeof(c->peer), "%s", peer.text);
		wbuf_init(&c->out, 0);
		ev_io_init(&c->io, client_io_cb, fd, EV_READ);
		c->io.data = c;
		ev_io_start(loop, &c->io);
		ev_init(&c->idle, client_idle_cb);
		c->idle.repeat = METRICS_IDLE_TIMEOUT;
		c->idle.data = c;
		ev_timer_again(loop, &c->idle);
		m->nclients++;
	}
	listener_update(m);
}

int
metrics_start(struct metrics **out, struct ev_loop *loop, const char *addr,
    metrics_render_fn render, void *arg, char *err, size_t errlen)
{
	struct metrics	*m;
	int		 rc, i;

	*out = NULL;
	if (addr == NULL || addr[0] == '\0')
		return SL_OK;
	m = calloc(1, sizeof(*m));
	if (m == NULL) {
		snprintf(err, errlen, "metrics: out of memory");
		return SL_ENOMEM;
	}
	m->loop = loop;
	m->render = render;
	m->arg = arg;
	m->lfd = -1;
	for (i = 0; i < METRICS_MAX_CLIENTS; i++) {
		m->c[i].m = m;
		m->c[i].fd = -1;
	}
	rc = net_resolve(addr, &m->addr, err, errlen);
	if (rc != SL_OK)
		goto fail;
	rc = net_listen(&m->addr, 16, &m->lfd, err, errlen);
	if (rc != SL_OK)
		goto fail;
	ev_io_init(&m->lio, accept_cb, m->lfd, EV_READ);
	m->lio.data = m;
	ev_init(&m->pause, pause_cb);
	m->pause.data = m;
	ev_io_start(loop, &m->lio);
	log_info("metrics", "listen=%s path=/metrics", m->addr.text);
	*out = m;
	return SL_OK;
fail:
	free(m);
	return rc;
}

void
metrics_stop(struct metrics *m)
{
	int	i;

	if (m == NULL)
		return;
	for (i = 0; i < METRICS_MAX_CLIENTS; i++)
		client_close(&m->c[i]);
	ev_io_stop(m->loop, &m->lio);
	ev_timer_stop(m->loop, &m->pause);
	if (m->lfd != -1)
		close(m->lfd);
	free(m);
}
