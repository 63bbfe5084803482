/*
 * send_pull_xfer.c: one dataset on a pull session (send_pull.c accepts
 * the connections and dispatches the receiver's frames here).
 *
 * A pull session is the n connections (streams) that one run of the
 * receiver dialled with one session number (pull.h); like the push
 * path's streams to a sink, they are all up before OPEN and they go down
 * together: one lost stream closes the session, the receiver dials a new
 * set, HAVE resumes.  Per connection:
 *
 *   HANDSHAKE --CHALLENGE: CN checked, HELLO i/n--> HELLO --WELCOME--> JOINED
 *
 * and per session (created by its first WELCOME, a newer session of the
 * dataset supersedes an older one):
 *
 *   GATHERING --n-th WELCOME: OPEN on stream 0--> OPENING --HAVE-->
 *   SENDING --all acked, COMMIT--> COMMITTING --COMMITTED--> PULLED
 *   (journal: pulled; we hang up; the receiver reduces)
 *
 * The push path's record and checks: DATA read by send_source.c (the
 * source checked unchanged, XXH3-64 per chunk), acks journaled in
 * batches and before COMMIT, HAVE after a reconnect resuming from what
 * the receiver holds, COMMIT with every file's digest.  Chunks go to the
 * streams in turn, each stream with at most [agent] window chunks' bytes
 * sent and not acked (as a push stream), each chunk read into a buffer
 * of its stream (read straight behind the DATA prefix, sent without a
 * copy); the receiver's sink acks a chunk on the stream that carried it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sltime.h"
#include "stream.h"
#include "send_int.h"
#include "send_pull_int.h"
#include "send_queue.h"
#include "send_sched.h"
#include "send_source.h"

#define ACK_FLUSH_SECS	0.5
#define GATHER_SECS	30.0	/* the first WELCOME of a session -> its n-th */

const char *
px_state_name(int s)
{
	switch (s) {
	case PS_PREAMBLE:	return "preamble";
	case PS_HANDSHAKE:	return "handshake";
	case PS_HELLO:		return "hello";
	case PS_JOINED:		return "joined";
	case PS_REPORT:		return "report";
	case PS_CLOSING:	return "closing";
	}
	return "unknown";
}

const char *
pg_state_name(int s)
{
	switch (s) {
	case PG_GATHERING:	return "gathering";
	case PG_OPENING:	return "opening";
	case PG_SENDING:	return "sending";
	case PG_COMMITTING:	return "committing";
	case PG_PULLED:		return "pulled";
	case PG_CLOSING:	return "closing";
	}
	return "unknown";
}

void
px_enter(struct psess *ps, int state)
{
	log_debug("pull", "conn=%s dataset=%016llx state=%s->%s", ps->label,
	    (unsigned long long)ps->dsid, px_state_name(ps->state), px_state_name(state));
	ps->state = state;
}

void
pg_enter(struct pgen *g, int state)
{
	log_debug("pull", "session=%s dataset=%016llx state=%s->%s", g->label,
	    (unsigned long long)g->dsid, pg_state_name(g->state), pg_state_name(state));
	g->state = state;
}

/* Journal a state change of the dataset (and keep the copy). */
void
pg_ds_to(struct pgen *g, int state, const char *reason, const char *published)
{
	struct agent	*a = g->p->a;
	int		 rc, from = g->d ? g->d->rec.state : 0;

	rc = journal_ds_set_state(a->j, g->dsid, state, reason, published);
	if (rc != SL_OK)
		log_err("journal", "dataset=%016llx cannot record state %s: %s",
		    (unsigned long long)g->dsid, ds_state_name(state), sl_strerror(rc));
	log_info("dataset", "dataset=%016llx state=%s->%s%s%s", (unsigned long long)
	    g->dsid, ds_state_name(from), ds_state_name(state), reason ? " reason=" : "",
	    reason ? log_q(reason) : "");
	if (g->d)
		g->d->rec.state = state;
}

void
pg_flush(struct pgen *g)
{
	struct agent	*a = g->p->a;
	struct ads	*d = g->d;
	int		 rc;

	if (d == NULL)
		return;
	d->flushed_at = sl_time_mono();
	if (d->npend > 0) {
		rc = journal_chunks_ack(a->j, d->rec.id, d->pend, d->npend);
		if (rc != SL_OK)
			log_err("journal", "dataset=%016llx ack: %s",
			    (unsigned long long)d->rec.id, sl_strerror(rc));
		d->npend = 0;
	}
	if (g->sent || g->resent) {
		rc = journal_ds_count(a->j, d->rec.id, g->sent, g->resent, 0);
		if (rc != SL_OK)
			log_warnx("journal", "dataset=%016llx counters: %s",
			    (unsigned long long)d->rec.id, sl_strerror(rc));
		g->sent = g->resent = 0;
	}
}

void
px_close(struct psess *ps, const char *why)
{
	if (ps->s != NULL && ps->state != PS_CLOSING)
		stream_close(ps->s, why);
	if (ps->state != PS_CLOSING)
		px_enter(ps, PS_CLOSING);
}

void
pg_close(struct pgen *g, const char *why)
{
	uint32_t	i;

	if (g->state == PG_CLOSING)
		return;
	ev_timer_stop(g->p->a->loop, &g->gather_to);
	/* PULLED stays PULLED until its first stream is gone (px_leave) */
	if (g->state != PG_PULLED)
		pg_enter(g, PG_CLOSING);
	for (i = 0; i < g->n; i++)
		if (g->st[i] != NULL)
			px_close(g->st[i], why);
}

/* ---- the dataset in memory ------------------------------------------------ */

static void
pg_free(struct pgen *g)
{
	struct ads	*d = g->d;

	ev_timer_stop(g->p->a->loop, &g->gather_to);
	if (d != NULL)
		sched_pull_leave(g->p->a, d, 0);
	*g->prevp = g->next;
	if (g->next)
		g->next->prevp = g->prevp;
	ads_free(d);
	free(g);
}

void
px_leave(struct psess *ps, const char *why)
{
	struct pgen	*g = ps->g;
	struct ds_rec	 r;
	char		 msg[128];
	int		 i;

	if (g != NULL) {
		pg_flush(g);
		g->st[ps->idx] = NULL;
		g->nlive--;
		/* The receiver hung up after the pull: it is reducing. */
		if (g->state == PG_PULLED) {
			memset(&r, 0, sizeof(r));
			if (journal_ds_get(g->p->a->j, g->dsid, &r) == SL_OK &&
			    r.state == DS_PULLED)
				pg_ds_to(g, DS_REDUCING, NULL, NULL);
			ds_rec_free(&r);
			pg_enter(g, PG_CLOSING);
		}
		snprintf(msg, sizeof(msg), "stream %u of the session closed: %s",
		    ps->idx, why);
		pg_close(g, msg);
		if (g->nlive == 0)
			pg_free(g);
		ps->g = NULL;
	}
	for (i = 0; i < ps->nbufs; i++)
		free(ps->bufs[i].p);
	free(ps->bufs);
	ps->bufs = NULL;
	ps->nbufs = 0;
}

/* The dataset from the journal: the push path's loader (send_queue.c),
 * so that both refuse a chunk record outside the manifest alike. */
static int
load(struct pgen *g, const struct ds_rec *r)
{
	g->d = ads_new(r);
	if (g->d == NULL)
		return SL_ENOMEM;
	return ads_load(g->p->a, g->d);
}

/* Send buffers for stream ps: two each (one filling while the other
 * drains), more when there are fewer streams than [agent] window. */
static int
stream_bufs(struct psess *ps)
{
	int	i, w = ps->p->a->cfg->window, n = (int)ps->n;

	ps->nbufs = (w + n - 1) / n < 2 ? 2 : (w + n - 1) / n;
	ps->bufs = calloc((size_t)ps->nbufs, sizeof(*ps->bufs));
	if (ps->bufs == NULL) {
		ps->nbufs = 0;
		return SL_ENOMEM;
	}
	for (i = 0; i < ps->nbufs; i++)
		ps->bufs[i].ps = ps;
	return SL_OK;
}

/* ---- sending ---------------------------------------------------------------- */

static void	pump(struct pgen *);

static void
data_done(void *arg, int sent)
{
	struct pbuf *b = arg;

	b->busy = 0;
	if (sent && b->ps->g != NULL)
		pump(b->ps->g);
}

/* Send a frame on stream 0, where OPEN and COMMIT go. */
static int
send0(struct pgen *g, struct wbuf *b)
{
	if (g->st[0] == NULL || g->st[0]->s == NULL)
		return SL_EIO;
	return stream_send_wbuf(g->st[0]->s, b);
}

/* The dataset cannot be pulled as journaled (source changed): failed. */
static void
fail_ds(struct pgen *g, const char *why)
{
	struct wire_error	e;
	struct wbuf		b;

	e.dsid = g->dsid;
	e.code = (uint16_t)-SL_ESTATE;
	e.message = wire_str_c(why);
	if (e.message.len > SL_MAX_MSG)
		e.message.len = SL_MAX_MSG;
	wbuf_init(&b, 0);
	if (wire_error_encode(&b, &e) == SL_OK)
		(void)send0(g, &b);
	wbuf_free(&b);
	pg_flush(g);
	pg_ds_to(g, DS_FAILED, why, NULL);
	pg_close(g, "dataset failed");
}

/* COMMIT with every file's digest (digests 0: zeros, asking where a
 * dataset published already went). */
static void
commit(struct pgen *g, int digests)
{
	struct ads		*d = g->d;
	struct wire_commit	 wc;
	struct wbuf		 b;
	uint8_t			*dig, *tmp = NULL;
	char			 err[SL_MAX_MSG], path[2 * SL_MAX_PATH + 2];
	uint32_t		 f, c;
	uint64_t		 i, h;
	int			 rc;

	pg_flush(g);
	d->phase = PH_COMMITTING;
	sched_pull_leave(g->p->a, d, 0);
	for (f = 0; digests && f < d->nfiles; f++) {
		snprintf(path, sizeof(path), "%s/%s", d->rec.src, d->files[f].path);
		if (check_unchanged(&d->files[f], path, err, sizeof(err)) != SL_OK) {
			fail_ds(g, err);
			return;
		}
	}
	/* chunks acked in an earlier session may have no known hash */
	for (i = 0; digests && i < d->rec.nchunks; i++) {
		if (d->cst[i] & CS_HASHED)
			continue;
		if (tmp == NULL && (tmp = malloc(d->rec.chunk_size)) == NULL) {
			pg_close(g, "out of memory");
			return;
		}
		f = chunk_file(d, i);
		c = (uint32_t)(i - d->files[f].first_chunk);
		rc = read_chunk(d, f, c, tmp, wire_chunk_len(d->files[f].size,
		    d->rec.chunk_size, c), &h, err, sizeof(err));
		if (rc != SL_OK) {
			free(tmp);
			fail_ds(g, err);
			return;
		}
		d->hash[i] = h;
		d->cst[i] |= CS_HASHED;
	}
	free(tmp);
	dig = calloc((size_t)d->nfiles * WIRE_DIGEST_LEN + 1, 1);
	if (dig == NULL) {
		pg_close(g, "out of memory");
		return;
	}
	for (f = 0; digests && f < d->nfiles; f++)
		ads_file_digest(d, f, dig + (size_t)f * WIRE_DIGEST_LEN);
	wc.dsid = d->rec.id;
	wc.nfiles = d->nfiles;
	wc.digests = dig;
	wbuf_init(&b, 0);
	rc = wire_commit_encode(&b, &wc);
	if (rc == SL_OK)
		rc = send0(g, &b);
	wbuf_free(&b);
	free(dig);
	if (rc != SL_OK) {
		pg_close(g, "cannot send COMMIT");
		return;
	}
	pg_enter(g, PG_COMMITTING);
}

/* Read chunk i of the dataset into b and queue it on b's stream. */
static int
send_chunk(struct pgen *g, struct pbuf *b, uint64_t i)
{
	struct agent		*a = g->p->a;
	struct psess		*ps = b->ps;
	struct ads		*d = g->d;
	struct wire_data	 wd;
	char			 err[SL_MAX_MSG];
	uint32_t		 f, c, len;
	uint64_t		 h;
	int			 rc;

	f = chunk_file(d, i);
	c = (uint32_t)(i - d->files[f].first_chunk);
	len = wire_chunk_len(d->files[f].size, d->rec.chunk_size, c);
	if (b->p == NULL && (b->p = malloc(WIRE_DATA_PREFIX +
	    (size_t)a->cfg->chunk_size)) == NULL) {
		pg_close(g, "out of memory");
		return SL_ENOMEM;
	}
	rc = read_chunk(d, f, c, b->p + WIRE_DATA_PREFIX, len, &h, err, sizeof(err));
	if (rc == SL_OK && (d->cst[i] & CS_HASHED) && d->hash[i] != h) {
		snprintf(err, sizeof(err), "%s/%s: chunk %u changed since it was "
		    "last sent", d->rec.src, d->files[f].path, c);
		rc = SL_ECHANGED;
	}
	if (rc != SL_OK) {
		log_err("pull", "dataset=%016llx file=%s chunk=%u error=%s",
		    (unsigned long long)d->rec.id, log_q(d->files[f].path), c, log_q(err));
		if (rc == SL_ECHANGED)
			fail_ds(g, err);
		else
			pg_close(g, err);	/* the receiver dials again */
		return rc;
	}
	memset(&wd, 0, sizeof(wd));
	wd.dsid = d->rec.id;
	wd.file = f;
	wd.chunk = c;
	wd.xxh3 = h;
	wd.len = len;
	wire_data_prefix(b->p, &wd);
	b->busy = 1;
	rc = stream_send_ref(ps->s, b->p, WIRE_DATA_PREFIX + (size_t)len, data_done, b);
	if (rc != SL_OK) {
		b->busy = 0;
		pg_close(g, "cannot queue DATA");
		return rc;
	}
	if (d->cst[i] & CS_SENT)
		g->resent++;
	g->sent++;
	d->hash[i] = h;
	d->cst[i] = CS_INFLIGHT | CS_HASHED | CS_SENT;
	d->ninflight++;
	ps->inflight_bytes += len;
	ps->chunks++;
	sched_sent(a, d, len);
	return SL_OK;
}

/* A free buffer of ps whose window is open, or NULL. */
static struct pbuf *
free_buf(struct pgen *g, struct psess *ps)
{
	const struct config	*cfg = g->p->a->cfg;
	int			 i;

	if (ps == NULL || ps->state != PS_JOINED ||
	    ps->inflight_bytes >= (uint64_t)cfg->window * cfg->chunk_size)
		return NULL;
	for (i = 0; i < ps->nbufs; i++)
		if (!ps->bufs[i].busy)
			return &ps->bufs[i];
	return NULL;
}

/* Fill the streams' free windows, one chunk per stream in turn. */
static void
pump(struct pgen *g)
{
	struct ads	*d = g->d;
	struct pbuf	*b;
	uint64_t	 i;
	uint32_t	 k, idx, sent;

	if (g->state != PG_SENDING)
		return;
	do {
		sent = 0;
		for (k = 0; k < g->n; k++) {
			idx = (g->rr + k) % g->n;
			b = free_buf(g, g->st[idx]);
			if (b == NULL)
				continue;
			if (!chunk_next(d, &i))
				goto out;
			if (!sched_pull_may(g->p->a, d)) {
				d->cursor = i;	/* not taken: woken at its turn */
				return;
			}
			if (send_chunk(g, b, i) != SL_OK)
				return;
			sent++;
			g->rr = (idx + 1) % g->n;
		}
	} while (sent > 0);
out:
	if (d->nacked == d->rec.nchunks)
		commit(g, 1);
}

/* Bytes of d's chunks not acked: what it has left to send. */
static uint64_t
left_bytes(const struct ads *d)
{
	uint64_t	i, left = 0;
	uint32_t	f;

	for (i = 0; i < d->rec.nchunks; i++)
		if ((d->cst[i] & CS_STATE) != CS_ACKED) {
			f = chunk_file(d, i);
			left += wire_chunk_len(d->files[f].size, d->rec.chunk_size,
			    (uint32_t)(i - d->files[f].first_chunk));
		}
	return left;
}

/* Every pull session that is sending fills its windows (the lanes'
 * wake-up: it may be their turn). */
void
pg_pump_all(struct pull *p)
{
	struct pgen *g, *next;

	for (g = p->gens; g; g = next) {
		next = g->next;
		if (g->state == PG_SENDING)
			pump(g);
	}
}

/* Chunk i of the dataset is out of flight (acked, refused) on ps. */
static void
unflight(struct psess *ps, struct ads *d, uint64_t i)
{
	uint32_t	 f = chunk_file(d, i);
	uint32_t	 len = wire_chunk_len(d->files[f].size, d->rec.chunk_size,
			    (uint32_t)(i - d->files[f].first_chunk));

	ps->inflight_bytes -= len < ps->inflight_bytes ? len : ps->inflight_bytes;
	if (d->ninflight > 0)
		d->ninflight--;
}

/* Chunk i is durable at the receiver (it said so on ps): 1 when newly
 * so (ref filled). */
static int
acked(struct psess *ps, struct ads *d, uint64_t i, struct chunk_ref *ref)
{
	uint32_t	 f = chunk_file(d, i);

	if ((d->cst[i] & CS_STATE) == CS_ACKED)
		return 0;
	if ((d->cst[i] & CS_STATE) == CS_INFLIGHT)
		unflight(ps, d, i);
	d->cst[i] = (uint8_t)((d->cst[i] & ~CS_STATE) | CS_ACKED);
	d->nacked++;
	ref->file = f;
	ref->chunk = (uint32_t)(i - d->files[f].first_chunk);
	ref->hash = d->hash[i];
	ref->has_hash = !!(d->cst[i] & CS_HASHED);
	return 1;
}

static int
pend_room(struct ads *d, uint32_t more)
{
	struct chunk_ref *r;

	if (d->npend + more <= d->apend)
		return SL_OK;
	r = realloc(d->pend, (d->npend + more + 256) * sizeof(*r));
	if (r == NULL)
		return SL_ENOMEM;
	d->pend = r;
	d->apend = d->npend + more + 256;
	return SL_OK;
}

/* ---- the receiver's frames ------------------------------------------------- */

void
px_hello(struct psess *ps, const uint8_t *p, uint32_t len)
{
	const struct config	*cfg = ps->p->a->cfg;
	struct wire_challenge	 ch;
	struct wire_hello	 h;
	struct wbuf		 b;
	const char		*cn = stream_peer_cn(ps->s);

	/* The handshake verified the chain against [job] ca; the CN says it
	 * is a receiver's certificate, not any other this CA signed. */
	if (cn == NULL || strcmp(cn, cfg->job_peer_cn) != 0) {
		log_warnx("pull", "conn=%s dataset=%016llx refused: the receiver's "
		    "certificate has CN %s, [job] peer_cn is %s", ps->label,
		    (unsigned long long)ps->dsid, log_q(cn ? cn : ""),
		    log_q(cfg->job_peer_cn));
		px_close(ps, "receiver certificate CN refused");
		return;
	}
	if (wire_challenge_decode(p, len, &ch) != SL_OK ||
	    ch.min_version > SL_PROTO_VERSION || ch.max_version < SL_PROTO_VERSION) {
		px_close(ps, "malformed CHALLENGE or no common protocol version");
		return;
	}
	memset(&h, 0, sizeof(h));
	h.version = SL_PROTO_VERSION;
	h.stream = ps->idx;
	h.nstreams = ps->n;
	h.agent_id = wire_str_c(cfg->id);
	wbuf_init(&b, 0);
	if (wire_hello_encode(&b, &h) != SL_OK || stream_send_wbuf(ps->s, &b) != SL_OK) {
		wbuf_free(&b);
		px_close(ps, "cannot send HELLO");
		return;
	}
	wbuf_free(&b);
	px_enter(ps, PS_HELLO);
}

static void
gather_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct pgen	*g = w->data;
	char		 why[96];

	(void)loop; (void)revents;
	snprintf(why, sizeof(why), "%u of %u streams joined within %.0fs", g->njoined,
	    g->n, GATHER_SECS);
	log_warnx("pull", "session=%s dataset=%016llx closed: %s", g->label,
	    (unsigned long long)g->dsid, why);
	pg_close(g, why);
}

/* The session of ps's dataset and session number: found, or made (an
 * older session of the dataset is superseded).  NULL: ps closed, why
 * logged. */
static struct pgen *
session_of(struct psess *ps)
{
	struct pull	*p = ps->p;
	struct pgen	*g, *o;

	for (g = p->gens; g; g = g->next)
		if (g->dsid == ps->dsid && g->session == ps->session &&
		    g->state != PG_CLOSING)
			break;
	if (g != NULL) {
		if (g->state != PG_GATHERING || g->n != ps->n || g->st[ps->idx] != NULL) {
			log_warnx("pull", "conn=%s dataset=%016llx refused: stream %u/%u "
			    "does not fit session %s (%s, %u streams)", ps->label,
			    (unsigned long long)ps->dsid, ps->idx, ps->n, g->label,
			    pg_state_name(g->state), g->n);
			px_close(ps, "stream does not fit its session");
			return NULL;
		}
		return g;
	}
	for (o = p->gens; o; o = o->next)
		if (o->dsid == ps->dsid && o->state != PG_CLOSING) {
			log_info("pull", "session=%s dataset=%016llx superseded by "
			    "session %08x", o->label, (unsigned long long)o->dsid,
			    ps->session);
			pg_close(o, "superseded by a new pull session");
		}
	g = calloc(1, sizeof(*g));
	if (g == NULL) {
		px_close(ps, "out of memory");
		return NULL;
	}
	g->p = p;
	g->dsid = ps->dsid;
	g->session = ps->session;
	g->n = ps->n;
	g->state = PG_GATHERING;
	snprintf(g->label, sizeof(g->label), "%08x", ps->session);
	ev_timer_init(&g->gather_to, gather_timeout_cb, GATHER_SECS, 0);
	g->gather_to.data = g;
	ev_timer_start(p->a->loop, &g->gather_to);
	g->next = p->gens;
	if (g->next)
		g->next->prevp = &g->next;
	g->prevp = &p->gens;
	p->gens = g;
	return g;
}

/* OPEN on stream 0: every stream of g is up (the receiver's sink closed
 * any stale connection as each HELLO came). */
static void
open_ds(struct pgen *g, struct ds_rec *r)
{
	struct wire_open	 op;
	struct wbuf		 b;
	uint32_t		 i;
	int			 rc;

	rc = load(g, r);
	if (rc != SL_OK) {
		log_err("pull", "dataset=%016llx cannot load from journal: %s",
		    (unsigned long long)g->dsid, sl_strerror(rc));
		pg_close(g, "cannot load the dataset");
		return;
	}
	if (r->state == DS_JOB_SUBMITTING || r->state == DS_JOB_SUBMITTED)
		pg_ds_to(g, DS_PULLING, NULL, NULL);
	memset(&op, 0, sizeof(op));
	op.dsid = r->id;
	op.name = wire_str_c(r->name);
	op.chunk_size = r->chunk_size;
	op.total_bytes = r->bytes;
	op.nfiles = g->d->nfiles;
	op.files = calloc(op.nfiles ? op.nfiles : 1, sizeof(*op.files));
	op.nmeta = r->nmeta;
	op.meta = calloc(r->nmeta ? r->nmeta : 1, sizeof(*op.meta));
	rc = op.files && op.meta ? SL_OK : SL_ENOMEM;
	for (i = 0; rc == SL_OK && i < op.nfiles; i++) {
		op.files[i].path = wire_str_c(g->d->files[i].path);
		op.files[i].size = g->d->files[i].size;
		op.files[i].mode = g->d->files[i].mode;
	}
	for (i = 0; rc == SL_OK && i < r->nmeta; i++) {
		op.meta[i].key = wire_str_c(r->meta[i][0]);
		op.meta[i].val = wire_str_c(r->meta[i][1]);
	}
	wbuf_init(&b, 0);
	if (rc == SL_OK)
		rc = wire_open_encode(&b, &op);
	if (rc == SL_OK)
		rc = send0(g, &b);
	wbuf_free(&b);
	free(op.files);
	free(op.meta);
	if (rc != SL_OK) {
		pg_close(g, "cannot send OPEN");
		return;
	}
	g->t_start = sl_time_wall();
	log_info("pull", "session=%s dataset=%016llx name=%s pulling: streams=%u "
	    "files=%u bytes=%llu chunks_acked=%llu/%llu", g->label,
	    (unsigned long long)g->dsid, log_q(g->d->rec.name), g->n, g->d->nfiles,
	    (unsigned long long)g->d->rec.bytes, (unsigned long long)g->d->nacked,
	    (unsigned long long)g->d->rec.nchunks);
	pg_enter(g, PG_OPENING);
}

/* WELCOME: the dataset must be on route job and not finished; the stream
 * joins its session; with the last, OPEN. */
void
px_join(struct psess *ps)
{
	struct agent	*a = ps->p->a;
	struct pgen	*g;
	struct ds_rec	 r;
	char		 why[256];
	int		 rc;

	memset(&r, 0, sizeof(r));
	rc = journal_ds_get(a->j, ps->dsid, &r);
	if (rc != SL_OK || strcmp(r.dest, DS_ROUTE_JOB) != 0 ||
	    (r.state != DS_JOB_SUBMITTING && r.state != DS_JOB_SUBMITTED &&
	    r.state != DS_PULLING && r.state != DS_PULLED && r.state != DS_REDUCING)) {
		snprintf(why, sizeof(why), "dataset %016llx is not waiting to be pulled "
		    "(%s)", (unsigned long long)ps->dsid, rc != SL_OK ? sl_strerror(rc) :
		    strcmp(r.dest, DS_ROUTE_JOB) ? "not on route job" :
		    ds_state_name(r.state));
		log_warnx("pull", "conn=%s refused: %s", ps->label, why);
		ds_rec_free(&r);
		px_close(ps, why);
		return;
	}
	g = session_of(ps);
	if (g == NULL || stream_bufs(ps) != SL_OK) {
		if (g != NULL)
			px_close(ps, "out of memory");
		ds_rec_free(&r);
		return;
	}
	g->st[ps->idx] = ps;
	g->njoined++;
	g->nlive++;
	ps->g = g;
	px_enter(ps, PS_JOINED);
	log_info("pull", "conn=%s dataset=%016llx stream=%u/%u session=%s", ps->label,
	    (unsigned long long)ps->dsid, ps->idx, ps->n, g->label);
	if (g->njoined == g->n) {
		ev_timer_stop(a->loop, &g->gather_to);
		open_ds(g, &r);
	}
	ds_rec_free(&r);
}

void
px_have(struct psess *ps, const uint8_t *p, uint32_t len)
{
	struct pgen		*g = ps->g;
	struct ads		*d = g->d;
	struct wire_have	 h;
	struct chunk_ref	*refs;
	uint64_t		 i, held = 0, lost = 0;
	uint32_t		 n = 0;
	int			 rc;

	if (wire_have_decode(p, len, &h) != SL_OK || h.dsid != g->dsid ||
	    g->state != PG_OPENING) {
		pg_close(g, "malformed or unexpected HAVE");
		return;
	}
	if (h.status == WIRE_HAVE_PUBLISHED) {	/* we missed its COMMITTED */
		commit(g, 0);
		return;
	}
	if (h.nchunks != d->rec.nchunks) {
		pg_close(g, "HAVE chunk count does not match the manifest");
		return;
	}
	refs = calloc(d->rec.nchunks ? d->rec.nchunks : 1, sizeof(*refs));
	if (refs == NULL) {
		pg_close(g, "out of memory");
		return;
	}
	for (i = 0; i < d->rec.nchunks; i++) {
		if ((h.bitmap[i / 8] >> (i % 8)) & 1) {
			held++;
			n += (uint32_t)acked(ps, d, i, &refs[n]);
		} else if ((d->cst[i] & CS_STATE) == CS_ACKED) {
			/* acked by another job's scratch, or one that was
			 * wiped: this receiver needs it again */
			lost++;
			d->cst[i] = (uint8_t)(d->cst[i] & ~CS_STATE);
			d->nacked--;
		}
	}
	if (n > 0 && (rc = journal_chunks_ack(g->p->a->j, d->rec.id, refs, n)) != SL_OK)
		log_err("journal", "dataset=%016llx ack: %s", (unsigned long long)d->rec.id,
		    sl_strerror(rc));
	free(refs);
	log_info("pull", "session=%s dataset=%016llx receiver_holds=%llu/%llu chunks%s",
	    g->label, (unsigned long long)d->rec.id, (unsigned long long)held,
	    (unsigned long long)d->rec.nchunks, lost ? " (sending again what an "
	    "earlier receiver held)" : "");
	d->cursor = 0;
	d->phase = PH_SENDING;
	sched_pull_join(g->p->a, d, left_bytes(d));
	pg_enter(g, PG_SENDING);
	pump(g);
}

void
px_ack(struct psess *ps, const uint8_t *p, uint32_t len)
{
	struct pgen	*g = ps->g;
	struct ads	*d = g->d;
	struct wire_ack	 k;
	uint32_t	 i, f, c;

	memset(&k, 0, sizeof(k));
	if (wire_ack_decode(p, len, &k) != SL_OK || k.dsid != g->dsid ||
	    pend_room(d, k.n) != SL_OK) {
		wire_ack_free(&k);
		pg_close(g, "malformed ACK");
		return;
	}
	for (i = 0; i < k.n; i++) {
		f = k.ents[i].file;
		c = k.ents[i].chunk;
		if (f >= d->nfiles || c >= d->files[f].nchunks) {
			wire_ack_free(&k);
			pg_close(g, "ACK for a chunk outside the manifest");
			return;
		}
		if (acked(ps, d, d->files[f].first_chunk + c, &d->pend[d->npend]))
			d->npend++;
	}
	wire_ack_free(&k);
	if (sl_time_mono() - d->flushed_at >= ACK_FLUSH_SECS)
		pg_flush(g);
	pump(g);
}

void
px_nack(struct psess *ps, const uint8_t *p, uint32_t len)
{
	struct pgen		*g = ps->g;
	struct ads		*d = g->d;
	struct wire_nack	 k;
	uint64_t		 i;

	if (wire_nack_decode(p, len, &k) != SL_OK || k.dsid != g->dsid ||
	    k.file >= d->nfiles || k.chunk >= d->files[k.file].nchunks) {
		pg_close(g, "malformed NACK");
		return;
	}
	i = d->files[k.file].first_chunk + k.chunk;
	log_warnx("pull", "dataset=%016llx file=%s chunk=%u nacked=%.*s, resending",
	    (unsigned long long)g->dsid, log_q(d->files[k.file].path), k.chunk,
	    (int)k.reason.len, k.reason.p);
	if ((d->cst[i] & CS_STATE) == CS_INFLIGHT) {
		unflight(ps, d, i);
		d->cst[i] = (uint8_t)(d->cst[i] & ~CS_STATE);
		if (i < d->cursor)
			d->cursor = i;
	}
	pump(g);
}

void
px_committed(struct psess *ps, const uint8_t *p, uint32_t len)
{
	struct pgen		*g = ps->g;
	struct wire_committed	 c;
	char			 path[SL_MAX_PATH + 1], why[SL_MAX_PATH + 64];
	double			 dt = sl_time_wall() - g->t_start;

	if (wire_committed_decode(p, len, &c) != SL_OK || c.dsid != g->dsid ||
	    g->state != PG_COMMITTING) {
		pg_close(g, "malformed or unexpected COMMITTED");
		return;
	}
	if (wire_str_copy(path, sizeof(path), c.path) != SL_OK)
		snprintf(path, sizeof(path), "%s", g->d->rec.name);
	log_info("dataset", "dataset=%016llx name=%s pulled=%s bytes=%llu seconds=%.3f "
	    "mb_per_s=%.1f streams=%u", (unsigned long long)g->dsid, log_q(g->d->rec.name),
	    log_q(path), (unsigned long long)g->d->rec.bytes, dt, dt > 0 ?
	    (double)g->d->rec.bytes / dt / 1e6 : 0.0, g->n);
	snprintf(why, sizeof(why), "published in the job's scratch as %s", path);
	if (g->d->rec.state == DS_PULLING)
		pg_ds_to(g, DS_PULLED, why, NULL);
	g->p->a->lane_done[g->d->lane == LANE_BACKLOG]++;
	pg_enter(g, PG_PULLED);
	/* The receiver reduces once we hang up (sink_pull.c). */
	pg_close(g, "pulled");
}
