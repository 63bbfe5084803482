/*
 * send_pull.c: the agent's pull listener, route job (pull.h, job.h).
 *
 * A Slurm job's receiver dials [job] pull_listen; this file accepts it,
 * reads the preamble (which dataset, pull or report), and then plays the
 * agent's half of the ordinary protocol over the accepted socket, as the
 * TLS client: the TCP direction is the only thing reversed.  The receiver
 * must present a certificate that chains to [job] ca and whose CN is
 * [job] peer_cn, checked before any frame of ours goes out.
 *
 A pull connection is PREAMBLE --TLS--> HANDSHAKE, then send_pull_xfer.c's
 * states (HELLO, JOINED): the receiver dials n of them with one session
 * number, joined into one pull session of the dataset (GATHERING,
 * OPENING, SENDING, COMMITTING, PULLED), the chunks spread over them: the
 * push path's guarantees and record, a chunk acked only once durable in
 * the job's scratch, resume through HAVE, publication verified by the
 * receiver's sink.
 *
 * A report session: PREAMBLE --TLS--> the receiver's RESULT (dsid, code,
 * result path or reason) --journal done or failed--> our RESULT (code 0),
 * then we hang up.  Pulled -> reducing when the receiver hangs up after
 * the COMMITTED: it does so to run the reduction.
 *
 * The datasets of this route never enter the push queue (send_queue.c
 * skips dest DS_ROUTE_JOB); job.c submits and watches their jobs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "conn.h"
#include "fsx.h"
#include "log.h"
#include "net.h"
#include "pull.h"
#include "stream.h"
#include "send_int.h"
#include "send_pull.h"
#include "send_pull_int.h"

#define PREAMBLE_SECS	10.0	/* accept -> preamble, hard */

/* RESULT of a report session: journal the outcome, then answer. */
static void
on_result(struct psess *ps, const uint8_t *p, uint32_t len)
{
	struct agent		*a = ps->p->a;
	struct wire_error	 e, ans;
	struct ds_rec		 r;
	struct wbuf		 b;
	char			 msg[SL_MAX_MSG + 1], why[SL_MAX_MSG + 64];
	const char		*cn = stream_peer_cn(ps->s);
	int			 rc;

	if (cn == NULL || strcmp(cn, a->cfg->job_peer_cn) != 0) {
		log_warnx("pull", "conn=%s dataset=%016llx report refused: the "
		    "certificate has CN %s, [job] peer_cn is %s", ps->label,
		    (unsigned long long)ps->dsid, log_q(cn ? cn : ""),
		    log_q(a->cfg->job_peer_cn));
		px_close(ps, "receiver certificate CN refused");
		return;
	}
	if (wire_result_decode(p, len, &e) != SL_OK || e.dsid != ps->dsid ||
	    wire_str_copy(msg, sizeof(msg), e.message) != SL_OK) {
		px_close(ps, "malformed RESULT");
		return;
	}
	memset(&r, 0, sizeof(r));
	rc = journal_ds_get(a->j, ps->dsid, &r);
	if (rc != SL_OK || strcmp(r.dest, DS_ROUTE_JOB) != 0) {
		ds_rec_free(&r);
		px_close(ps, "RESULT for a dataset not on route job");
		return;
	}
	if (r.state == DS_PULLING || r.state == DS_PULLED || r.state == DS_REDUCING) {
		if (e.code == 0) {
			snprintf(why, sizeof(why), "result confirmed: %s", msg);
			rc = journal_ds_hook(a->j, r.id, DS_DONE, r.hook_attempts, 0, 0,
			    NULL, msg, why);
		} else {
			snprintf(why, sizeof(why), "reduction failed: %s", msg);
			rc = journal_ds_set_state(a->j, r.id, DS_FAILED, why, NULL);
		}
		if (rc != SL_OK) {
			log_err("journal", "dataset=%016llx result: %s",
			    (unsigned long long)r.id, sl_strerror(rc));
			ds_rec_free(&r);
			px_close(ps, "cannot journal the result");	/* it reports again */
			return;
		}
		log_info("dataset", "dataset=%016llx name=%s state=%s->%s job=%s %s",
		    (unsigned long long)r.id, log_q(r.name), ds_state_name(r.state),
		    e.code == 0 ? "done" : "failed", r.hook_out, log_q(why));
	} else
		log_info("pull", "conn=%s dataset=%016llx RESULT again (state %s): "
		    "answering", ps->label, (unsigned long long)r.id,
		    ds_state_name(r.state));
	ds_rec_free(&r);
	memset(&ans, 0, sizeof(ans));
	ans.dsid = ps->dsid;
	ans.message = wire_str_c("recorded");
	wbuf_init(&b, 0);
	if (wire_result_encode(&b, &ans) == SL_OK)
		(void)stream_send_wbuf(ps->s, &b);
	wbuf_free(&b);
	px_enter(ps, PS_REPORT);	/* on_drain hangs up */
}

static void
ps_frame(struct stream *s, const struct wire_hdr *h, const uint8_t *p, void *arg)
{
	struct psess	*ps = arg;
	struct wire_error e;

	(void)s;
	if (ps->state == PS_CLOSING || ps->state == PS_REPORT)
		return;
	if (ps->mode == PULL_MODE_REPORT) {
		if (h->type == WIRE_RESULT)
			on_result(ps, p, h->len);
		else
			px_close(ps, "expected RESULT");
		return;
	}
	if (h->type == WIRE_ERROR) {
		if (wire_error_decode(p, h->len, &e) == SL_OK)
			log_warnx("pull", "conn=%s dataset=%016llx receiver error %s: %.*s",
			    ps->label, (unsigned long long)ps->dsid,
			    sl_strerror(-(int)e.code), (int)e.message.len, e.message.p);
		if (ps->g != NULL)
			pg_close(ps->g, "receiver error");
		else
			px_close(ps, "receiver error");
		return;
	}
	switch (ps->state) {
	case PS_HANDSHAKE:
		if (h->type == WIRE_CHALLENGE)
			px_hello(ps, p, h->len);
		else
			px_close(ps, "expected CHALLENGE");
		return;
	case PS_HELLO:
		if (h->type == WIRE_WELCOME)
			px_join(ps);
		else
			px_close(ps, "expected WELCOME");
		return;
	}
	if (ps->g == NULL || ps->g->d == NULL) {	/* OPEN not sent yet */
		px_close(ps, "frame before OPEN");
		return;
	}
	switch (h->type) {
	case WIRE_HAVE:		px_have(ps, p, h->len); break;
	case WIRE_ACK:		px_ack(ps, p, h->len); break;
	case WIRE_NACK:		px_nack(ps, p, h->len); break;
	case WIRE_COMMITTED:	px_committed(ps, p, h->len); break;
	default:
		pg_close(ps->g, "unexpected frame");
	}
}

static void
ps_drain(struct stream *s, void *arg)
{
	struct psess *ps = arg;

	if (ps->state == PS_REPORT)
		stream_close(s, "reported");
}

static void
ps_free(struct psess *ps)
{
	*ps->prevp = ps->next;
	if (ps->next)
		ps->next->prevp = ps->prevp;
	free(ps);
}

static void
ps_closed(struct stream *s, const char *why, void *arg)
{
	struct psess	*ps = arg;

	(void)s;
	if (ps->mode == PULL_MODE_PULL && ps->state != PS_PREAMBLE)
		log_info("pull", "conn=%s dataset=%016llx stream=%u/%u session=%08x "
		    "closed in state %s chunks_sent=%llu why=%s", ps->label,
		    (unsigned long long)ps->dsid, ps->idx, ps->n, ps->session,
		    px_state_name(ps->state), (unsigned long long)ps->chunks, log_q(why));
	else
		log_info("pull", "conn=%s dataset=%016llx closed in state %s why=%s",
		    ps->label, (unsigned long long)ps->dsid, px_state_name(ps->state),
		    log_q(why));
	ps->s = NULL;
	px_leave(ps, why);
	ps_free(ps);
}

static const struct stream_ops ps_ops = {
	.on_frame = ps_frame,
	.on_drain = ps_drain,
	.on_close = ps_closed,
};

/* ---- accept and preamble --------------------------------------------------- */

static void
pre_done(struct psess *ps, const char *why)
{
	struct pull	*p = ps->p;
	struct agent	*a = p->a;
	int		 fd = ps->fd;

	ev_io_stop(a->loop, &ps->pre_io);
	ev_timer_stop(a->loop, &ps->pre_to);
	if (why != NULL) {
		log_warnx("pull", "conn=%s refused: %s", ps->label, why);
		close(fd);
		ps_free(ps);
		return;
	}
	ps->fd = -1;
	snprintf(ps->label + strlen(ps->label), sizeof(ps->label) - strlen(ps->label),
	    "/%c%u", ps->mode, ps->idx);
	ps->state = PS_HANDSHAKE;
	/* TLS client over the accepted socket: the receiver is the server;
	 * no name to check in its certificate (CN checked at CHALLENGE). */
	ps->s = stream_new(a->loop, fd, 0, p->tls, 0, NULL, &ps_ops, ps, SL_MAX_FRAME,
	    a->cfg->idle_timeout, ps->label);
	if (ps->s == NULL) {
		ps_free(ps);
		return;
	}
	if (a->pool != NULL && ps->mode == PULL_MODE_PULL)
		stream_use_pool(ps->s, a->pool, 0, FSX_DIO_MIN_FILE);
	if (ps->mode == PULL_MODE_PULL)
		log_info("pull", "conn=%s dataset=%016llx pull stream %u/%u of session "
		    "%08x", ps->label, (unsigned long long)ps->dsid, ps->idx, ps->n,
		    ps->session);
	else
		log_info("pull", "conn=%s dataset=%016llx report session", ps->label,
		    (unsigned long long)ps->dsid);
}

static void
pre_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct psess	*ps = w->data;
	struct pull_pre	 pp;
	ssize_t		 n;

	(void)loop; (void)revents;
	n = recv(ps->fd, ps->pre + ps->npre, PULL_PREAMBLE_LEN - ps->npre, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		pre_done(ps, n == 0 ? "closed before the preamble" : strerror(errno));
		return;
	}
	ps->npre += (size_t)n;
	if (ps->npre < PULL_PREAMBLE_LEN)
		return;
	if (pull_preamble_parse(ps->pre, &pp) != SL_OK) {
		pre_done(ps, "not a pull preamble");
		return;
	}
	ps->mode = pp.mode;
	ps->dsid = pp.id;
	ps->session = pp.session;
	ps->idx = pp.stream;
	ps->n = pp.nstreams;
	pre_done(ps, NULL);
}

static void
pre_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop; (void)revents;
	pre_done(w->data, "no preamble within 10s");
}

static void
accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct pull	*p = w->data;
	struct psess	*ps;
	struct net_addr	 peer;
	int		 fd, i;

	(void)revents;
	for (i = 0; i < 16; i++) {
		if (net_accept(p->lfd, &fd, &peer) != SL_OK)
			return;
		net_tune(fd, p->a->cfg->sndbuf);
		net_user_timeout(fd, p->a->cfg->stall_timeout);
		ps = calloc(1, sizeof(*ps));
		if (ps == NULL) {
			close(fd);
			return;
		}
		ps->p = p;
		ps->fd = fd;
		ps->state = PS_PREAMBLE;
		snprintf(ps->label, sizeof(ps->label), "%s#%llu", peer.text,
		    (unsigned long long)++p->nsessions);
		ps->next = p->list;
		if (ps->next)
			ps->next->prevp = &ps->next;
		ps->prevp = &p->list;
		p->list = ps;
		ev_io_init(&ps->pre_io, pre_read_cb, fd, EV_READ);
		ps->pre_io.data = ps;
		ev_io_start(loop, &ps->pre_io);
		ev_timer_init(&ps->pre_to, pre_timeout_cb, PREAMBLE_SECS, 0);
		ps->pre_to.data = ps;
		ev_timer_start(loop, &ps->pre_to);
	}
}

/* The lanes' wake-up (send_sched.c): it may be the pulls' turn. */
static void
wake_pulls(struct agent *a)
{
	if (a->pull != NULL)
		pg_pump_all(a->pull);
}

int
pull_start(struct pull **out, struct agent *a, char *err, size_t errlen)
{
	const struct config	*cfg = a->cfg;
	struct pull		*p;
	int			 rc;

	*out = NULL;
	if (cfg->job_listen[0] == '\0')
		return SL_OK;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return SL_ENOMEM;
	p->a = a;
	p->lfd = -1;
	rc = net_resolve(cfg->job_listen, &p->addr, err, errlen);
	if (rc == SL_OK)
		rc = tls_ctx_new(&p->tls, 0, cfg->job_ca, cfg->job_cert, cfg->job_key,
		    err, errlen);
	if (rc == SL_OK && cfg->ciphersuites[0] != '\0')
		rc = tls_ctx_set_suites(p->tls, cfg->ciphersuites, err, errlen);
	if (rc == SL_OK)
		rc = net_listen(&p->addr, 64, &p->lfd, err, errlen);
	if (rc != SL_OK) {
		tls_ctx_free(p->tls);
		free(p);
		return rc;
	}
	a->wake_pull = wake_pulls;
	ev_io_init(&p->accept_io, accept_cb, p->lfd, EV_READ);
	p->accept_io.data = p;
	ev_io_start(a->loop, &p->accept_io);
	log_info("pull", "listen=%s peer_cn=%s (route job)", p->addr.text,
	    log_q(cfg->job_peer_cn));
	*out = p;
	return SL_OK;
}

void
pull_stop(struct pull *p)
{
	struct psess *ps, *next;

	if (p == NULL)
		return;
	ev_io_stop(p->a->loop, &p->accept_io);
	for (ps = p->list; ps; ps = next) {
		next = ps->next;
		if (ps->state == PS_PREAMBLE)
			pre_done(ps, "shutting down");
		else
			px_close(ps, "shutting down");
	}
	/* the streams' on_close (ps_closed) frees the rest on the next
	 * passes, run by agent_stop */
}

void
pull_free(struct pull *p)
{
	if (p == NULL)
		return;
	close(p->lfd);
	tls_ctx_free(p->tls);
	free(p);
}
