/*
 * sink_conn.c: a sink connection as the layers above it see it: its one
 * state (enum sc_state, every transition logged) and what it sends
 * outside a dataset's own answers: ERROR, which after a session error
 * closes the connection once written, and the ACKs it has promised,
 * queued until their batch is durable and then sent in runs.
 *
 * It is the bottom of the room (sink_int.h): the session, the dataset
 * state machine and the ACK batching all send through it, and it calls
 * none of them.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sink_int.h"

static const char *
sc_state_name(int s)
{
	switch (s) {
	case SC_HANDSHAKE:	return "handshake";
	case SC_CHALLENGED:	return "challenged";
	case SC_READY:		return "ready";
	case SC_CLOSING:	return "closing";
	}
	return "unknown";
}

void
sconn_enter(struct sconn *c, int state)
{
	log_debug("sink", "conn=%s state=%s->%s", c->label, sc_state_name(c->state),
	    sc_state_name(state));
	c->state = state;
}

void
sconn_send(struct sconn *c, struct wbuf *b)
{
	if (stream_send_wbuf(c->s, b) != SL_OK)
		stream_close(c->s, "cannot queue a frame");
}

/* Send ERROR; a session error (dsid 0) also closes once it is written. */
void
sconn_error(struct sconn *c, uint64_t dsid, int code, const char *fmt, ...)
{
	struct wire_error	e;
	struct wbuf		b;
	char			msg[SL_MAX_MSG];
	va_list			ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("sink", "conn=%s agent=%s dataset=%016llx error=%s msg=%s", c->label,
	    log_q(c->agent), (unsigned long long)dsid, sl_strerror(code), log_q(msg));
	e.dsid = dsid;
	e.code = (uint16_t)-code;
	e.message = wire_str_c(msg);
	wbuf_init(&b, 0);
	if (wire_error_encode(&b, &e) == SL_OK)
		sconn_send(c, &b);
	wbuf_free(&b);
	if (dsid == 0) {
		sconn_enter(c, SC_CLOSING);
		stream_set_idle(c->s, 5);	/* close after drain, or soon */
		/* ... and soon means soon: a peer dripping bytes restarts the
		 * idle timer, not this one. */
		sconn_deadline(c, 5, "closing after a session error");
	}
}

static void
deadline_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct sconn *c = t->data;

	(void)loop; (void)revents;
	log_warnx("sink", "conn=%s agent=%s deadline passed: %s", c->label,
	    log_q(c->agent), c->why_deadline);
	stream_close(c->s, c->why_deadline);
}

void
sconn_deadline(struct sconn *c, double secs, const char *why)
{
	ev_timer_stop(c->sk->loop, &c->deadline);
	if (secs <= 0)
		return;
	snprintf(c->why_deadline, sizeof(c->why_deadline), "%s", why);
	ev_timer_init(&c->deadline, deadline_cb, secs, 0);
	c->deadline.data = c;
	ev_timer_start(c->sk->loop, &c->deadline);
}

/* ENOSPC and EDQUOT are worth retrying once space is freed; anything
 * else is an I/O error. */
void
sconn_io_error(struct sconn *c, uint64_t dsid, const char *op, const char *path,
    int e)
{
	sconn_error(c, dsid, e == ENOSPC || e == EDQUOT ? SL_ENOSPC : SL_EIO,
	    "%s %s: %s", op, path, strerror(e));
}

/* The ACK queue of c: sent at the end of the loop pass for chunks already
 * durable, else once their group commit is done (sink_ack.c). */
int
sconn_ack(struct sconn *c, uint64_t dsid, uint32_t file, uint32_t chunk)
{
	if (c->nacks == c->aacks) {
		uint32_t na = c->aacks ? c->aacks * 2 : 64;
		struct pending_ack *p = realloc(c->acks, na * sizeof(*p));
		if (p == NULL)
			return SL_ENOMEM;
		c->acks = p;
		c->aacks = na;
	}
	c->acks[c->nacks].dsid = dsid;
	c->acks[c->nacks].file = file;
	c->acks[c->nacks].chunk = chunk;
	c->nacks++;
	return SL_OK;
}

void
sconn_send_acks(struct sconn *c)
{
	struct wire_ack	 k = { 0 };
	struct wbuf	 b;
	uint32_t	 i = 0, j, n;

	wbuf_init(&b, 0);
	while (i < c->nacks) {
		/* One frame per run of the same dataset, at most SL_MAX_ACKS. */
		for (j = i; j < c->nacks && j - i < SL_MAX_ACKS &&
		    c->acks[j].dsid == c->acks[i].dsid; j++)
			;
		n = j - i;
		k.dsid = c->acks[i].dsid;
		k.n = n;
		k.ents = malloc(n * sizeof(*k.ents));
		if (k.ents == NULL)
			break;
		for (j = 0; j < n; j++) {
			k.ents[j].file = c->acks[i + j].file;
			k.ents[j].chunk = c->acks[i + j].chunk;
		}
		if (wire_ack_encode(&b, &k) == SL_OK)
			sconn_send(c, &b);
		free(k.ents);
		i += n;
	}
	wbuf_free(&b);
	c->nacks = 0;
}

struct sconn *
sconn_find(struct sink *sk, uint64_t serial)
{
	struct sconn *c;

	for (c = sk->conns; c; c = c->next)
		if (c->serial == serial)
			return c;
	return NULL;
}
