/*
 * send_pull_xfer.c: one dataset on a pull session (send_pull.c accepts
 * the session and dispatches the receiver's frames here).
 *
 *   HANDSHAKE --CHALLENGE: CN checked, HELLO--> HELLO --WELCOME: OPEN-->
 *   OPENING --HAVE--> SENDING --all acked, COMMIT--> COMMITTING
 *   --COMMITTED--> PULLED (journal: pulled; we hang up)
 *
 * The push path's record and checks: DATA read by send_source.c (the
 * source checked unchanged, XXH3-64 per chunk), acks journaled in
 * batches and before COMMIT, HAVE after a reconnect resuming from what
 * the receiver holds, COMMIT with every file's digest.  Up to [agent]
 * window chunks are in flight, each in a buffer of its own (read straight
 * behind the DATA prefix, sent without a copy).  A new session for a
 * dataset supersedes an older one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sltime.h"
#include "stream.h"
#include "send_int.h"
#include "send_pull_int.h"
#include "send_queue.h"
#include "send_source.h"

#define ACK_FLUSH_SECS	0.5

const char *
px_state_name(int s)
{
	switch (s) {
	case PS_PREAMBLE:	return "preamble";
	case PS_HANDSHAKE:	return "handshake";
	case PS_HELLO:		return "hello";
	case PS_OPENING:	return "opening";
	case PS_SENDING:	return "sending";
	case PS_COMMITTING:	return "committing";
	case PS_PULLED:		return "pulled";
	case PS_REPORT:		return "report";
	case PS_CLOSING:	return "closing";
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

/* Journal a state change of the dataset (and keep the copy). */
void
px_ds_to(struct psess *ps, int state, const char *reason, const char *published)
{
	struct agent	*a = ps->p->a;
	int		 rc, from = ps->d ? ps->d->rec.state : 0;

	rc = journal_ds_set_state(a->j, ps->dsid, state, reason, published);
	if (rc != SL_OK)
		log_err("journal", "dataset=%016llx cannot record state %s: %s",
		    (unsigned long long)ps->dsid, ds_state_name(state), sl_strerror(rc));
	log_info("dataset", "dataset=%016llx state=%s->%s%s%s", (unsigned long long)
	    ps->dsid, ds_state_name(from), ds_state_name(state), reason ? " reason=" : "",
	    reason ? log_q(reason) : "");
	if (ps->d)
		ps->d->rec.state = state;
}

void
px_flush(struct psess *ps)
{
	struct agent	*a = ps->p->a;
	struct ads	*d = ps->d;
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
	if (ps->sent || ps->resent) {
		rc = journal_ds_count(a->j, d->rec.id, ps->sent, ps->resent, 0);
		if (rc != SL_OK)
			log_warnx("journal", "dataset=%016llx counters: %s",
			    (unsigned long long)d->rec.id, sl_strerror(rc));
		ps->sent = ps->resent = 0;
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

/* ---- the dataset in memory ------------------------------------------------ */

void
px_unload(struct psess *ps)
{
	struct ads	*d = ps->d;
	int		 i;

	if (d != NULL) {
		if (d->fd != -1)
			close(d->fd);
		free(d->files);
		free(d->cst);
		free(d->hash);
		free(d->pend);
		free(d);
	}
	ps->d = NULL;
	for (i = 0; i < ps->nbufs; i++)
		free(ps->bufs[i].p);
	free(ps->bufs);
	ps->bufs = NULL;
	ps->nbufs = 0;
}

static void
load_chunk(uint32_t file, uint32_t chunk, int state, uint64_t hash, int has_hash,
    void *arg)
{
	struct ads	*d = arg;
	uint64_t	 g;

	if (file >= d->nfiles || chunk >= d->files[file].nchunks)
		return;
	g = d->files[file].first_chunk + chunk;
	if (state == CHUNK_ACKED) {
		d->cst[g] = CS_ACKED;
		d->nacked++;
	}
	if (has_hash) {
		d->hash[g] = hash;
		d->cst[g] |= CS_HASHED;
	}
}

static int
load(struct psess *ps, const struct ds_rec *r)
{
	struct agent	*a = ps->p->a;
	struct ads	*d;
	uint64_t	 n = r->nchunks ? r->nchunks : 1;
	int		 i, rc;

	d = ads_new(r);
	if (d == NULL)
		return SL_ENOMEM;
	ps->d = d;
	rc = journal_files_load(a->j, r->id, &d->files, &d->nfiles);
	if (rc != SL_OK)
		return rc;
	d->cst = calloc(n, 1);
	d->hash = calloc(n, sizeof(uint64_t));
	ps->nbufs = a->cfg->window;
	ps->bufs = calloc((size_t)ps->nbufs, sizeof(*ps->bufs));
	if (d->cst == NULL || d->hash == NULL || ps->bufs == NULL)
		return SL_ENOMEM;
	for (i = 0; i < ps->nbufs; i++)
		ps->bufs[i].ps = ps;
	d->loaded = 1;
	return journal_chunks_foreach(a->j, r->id, load_chunk, d);
}

/* ---- sending ---------------------------------------------------------------- */

static void	pump(struct psess *);

static void
data_done(void *arg, int sent)
{
	struct pbuf *b = arg;

	b->busy = 0;
	if (sent)
		pump(b->ps);
}

/* The dataset cannot be pulled as journaled (source changed): failed. */
static void
fail_ds(struct psess *ps, const char *why)
{
	struct wire_error	e;
	struct wbuf		b;

	e.dsid = ps->dsid;
	e.code = (uint16_t)-SL_ESTATE;
	e.message = wire_str_c(why);
	if (e.message.len > SL_MAX_MSG)
		e.message.len = SL_MAX_MSG;
	wbuf_init(&b, 0);
	if (wire_error_encode(&b, &e) == SL_OK)
		(void)stream_send_wbuf(ps->s, &b);
	wbuf_free(&b);
	px_flush(ps);
	px_ds_to(ps, DS_FAILED, why, NULL);
	px_close(ps, "dataset failed");
}

/* COMMIT with every file's digest (digests 0: zeros, asking where a
 * dataset published already went). */
static void
commit(struct psess *ps, int digests)
{
	struct ads		*d = ps->d;
	struct wire_commit	 wc;
	struct wbuf		 b;
	uint8_t			*dig, *tmp = NULL;
	char			 err[SL_MAX_MSG], path[2 * SL_MAX_PATH + 2];
	uint32_t		 f, c;
	uint64_t		 g, h;
	int			 rc;

	px_flush(ps);
	for (f = 0; digests && f < d->nfiles; f++) {
		snprintf(path, sizeof(path), "%s/%s", d->rec.src, d->files[f].path);
		if (check_unchanged(&d->files[f], path, err, sizeof(err)) != SL_OK) {
			fail_ds(ps, err);
			return;
		}
	}
	/* chunks acked in an earlier session may have no known hash */
	for (g = 0; digests && g < d->rec.nchunks; g++) {
		if (d->cst[g] & CS_HASHED)
			continue;
		if (tmp == NULL && (tmp = malloc(d->rec.chunk_size)) == NULL) {
			px_close(ps, "out of memory");
			return;
		}
		f = chunk_file(d, g);
		c = (uint32_t)(g - d->files[f].first_chunk);
		rc = read_chunk(d, f, c, tmp, wire_chunk_len(d->files[f].size,
		    d->rec.chunk_size, c), &h, err, sizeof(err));
		if (rc != SL_OK) {
			free(tmp);
			fail_ds(ps, err);
			return;
		}
		d->hash[g] = h;
		d->cst[g] |= CS_HASHED;
	}
	free(tmp);
	dig = calloc((size_t)d->nfiles * WIRE_DIGEST_LEN + 1, 1);
	if (dig == NULL) {
		px_close(ps, "out of memory");
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
		rc = stream_send_wbuf(ps->s, &b);
	wbuf_free(&b);
	free(dig);
	if (rc != SL_OK) {
		px_close(ps, "cannot send COMMIT");
		return;
	}
	px_enter(ps, PS_COMMITTING);
}

static int
send_chunk(struct psess *ps, struct pbuf *b, uint64_t g)
{
	struct agent		*a = ps->p->a;
	struct ads		*d = ps->d;
	struct wire_data	 wd;
	char			 err[SL_MAX_MSG];
	uint32_t		 f, c, len;
	uint64_t		 h;
	int			 rc;

	f = chunk_file(d, g);
	c = (uint32_t)(g - d->files[f].first_chunk);
	len = wire_chunk_len(d->files[f].size, d->rec.chunk_size, c);
	if (b->p == NULL && (b->p = malloc(WIRE_DATA_PREFIX +
	    (size_t)a->cfg->chunk_size)) == NULL) {
		px_close(ps, "out of memory");
		return SL_ENOMEM;
	}
	rc = read_chunk(d, f, c, b->p + WIRE_DATA_PREFIX, len, &h, err, sizeof(err));
	if (rc == SL_OK && (d->cst[g] & CS_HASHED) && d->hash[g] != h) {
		snprintf(err, sizeof(err), "%s/%s: chunk %u changed since it was "
		    "last sent", d->rec.src, d->files[f].path, c);
		rc = SL_ECHANGED;
	}
	if (rc != SL_OK) {
		log_err("pull", "dataset=%016llx file=%s chunk=%u error=%s",
		    (unsigned long long)d->rec.id, log_q(d->files[f].path), c, log_q(err));
		if (rc == SL_ECHANGED)
			fail_ds(ps, err);
		else
			px_close(ps, err);	/* the receiver dials again */
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
		px_close(ps, "cannot queue DATA");
		return rc;
	}
	if (d->cst[g] & CS_SENT)
		ps->resent++;
	ps->sent++;
	d->hash[g] = h;
	d->cst[g] = CS_INFLIGHT | CS_HASHED | CS_SENT;
	d->ninflight++;
	ps->inflight_bytes += len;
	return SL_OK;
}

static void
pump(struct psess *ps)
{
	struct agent	*a = ps->p->a;
	struct ads	*d = ps->d;
	uint64_t	 g, cap = (uint64_t)a->cfg->window * a->cfg->chunk_size;
	int		 i;

	if (ps->state != PS_SENDING)
		return;
	for (i = 0; i < ps->nbufs && ps->inflight_bytes < cap; i++) {
		if (ps->bufs[i].busy)
			continue;
		if (!chunk_next(d, &g))
			break;
		if (send_chunk(ps, &ps->bufs[i], g) != SL_OK)
			return;
	}
	if (d->nacked == d->rec.nchunks)
		commit(ps, 1);
}

/* Chunk g of d is out of flight (acked, refused). */
static void
unflight(struct psess *ps, uint64_t g)
{
	struct ads	*d = ps->d;
	uint32_t	 f = chunk_file(d, g);
	uint32_t	 len = wire_chunk_len(d->files[f].size, d->rec.chunk_size,
			    (uint32_t)(g - d->files[f].first_chunk));

	ps->inflight_bytes -= len < ps->inflight_bytes ? len : ps->inflight_bytes;
	if (d->ninflight > 0)
		d->ninflight--;
}

/* Chunk g is durable at the receiver: 1 when newly so (ref filled). */
static int
acked(struct psess *ps, uint64_t g, struct chunk_ref *ref)
{
	struct ads	*d = ps->d;
	uint32_t	 f = chunk_file(d, g);

	if ((d->cst[g] & CS_STATE) == CS_ACKED)
		return 0;
	if ((d->cst[g] & CS_STATE) == CS_INFLIGHT)
		unflight(ps, g);
	d->cst[g] = (uint8_t)((d->cst[g] & ~CS_STATE) | CS_ACKED);
	d->nacked++;
	ref->file = f;
	ref->chunk = (uint32_t)(g - d->files[f].first_chunk);
	ref->hash = d->hash[g];
	ref->has_hash = !!(d->cst[g] & CS_HASHED);
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
	h.stream = 0;
	h.nstreams = 1;
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

/* WELCOME: the dataset must be on route job and not finished; then
 * OPEN.  A newer session for it supersedes an older one. */
void
px_open(struct psess *ps)
{
	struct agent		*a = ps->p->a;
	struct psess		*o;
	struct wire_open	 op;
	struct ds_rec		 r;
	struct wbuf		 b;
	char			 why[256];
	uint32_t		 i;
	int			 rc;

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
	for (o = ps->p->list; o; o = o->next)
		if (o != ps && o->mode == PULL_MODE_PULL && o->dsid == ps->dsid &&
		    o->state != PS_CLOSING && o->state != PS_PREAMBLE) {
			log_info("pull", "conn=%s dataset=%016llx superseded by conn=%s",
			    o->label, (unsigned long long)o->dsid, ps->label);
			px_close(o, "superseded by a new pull session");
		}
	rc = load(ps, &r);
	if (rc != SL_OK) {
		log_err("pull", "dataset=%016llx cannot load from journal: %s",
		    (unsigned long long)ps->dsid, sl_strerror(rc));
		ds_rec_free(&r);
		px_close(ps, "cannot load the dataset");
		return;
	}
	if (r.state == DS_JOB_SUBMITTING || r.state == DS_JOB_SUBMITTED)
		px_ds_to(ps, DS_PULLING, NULL, NULL);
	memset(&op, 0, sizeof(op));
	op.dsid = r.id;
	op.name = wire_str_c(r.name);
	op.chunk_size = r.chunk_size;
	op.total_bytes = r.bytes;
	op.nfiles = ps->d->nfiles;
	op.files = calloc(op.nfiles ? op.nfiles : 1, sizeof(*op.files));
	op.nmeta = r.nmeta;
	op.meta = calloc(r.nmeta ? r.nmeta : 1, sizeof(*op.meta));
	rc = op.files && op.meta ? SL_OK : SL_ENOMEM;
	for (i = 0; rc == SL_OK && i < op.nfiles; i++) {
		op.files[i].path = wire_str_c(ps->d->files[i].path);
		op.files[i].size = ps->d->files[i].size;
		op.files[i].mode = ps->d->files[i].mode;
	}
	for (i = 0; rc == SL_OK && i < r.nmeta; i++) {
		op.meta[i].key = wire_str_c(r.meta[i][0]);
		op.meta[i].val = wire_str_c(r.meta[i][1]);
	}
	wbuf_init(&b, 0);
	if (rc == SL_OK)
		rc = wire_open_encode(&b, &op);
	if (rc == SL_OK)
		rc = stream_send_wbuf(ps->s, &b);
	wbuf_free(&b);
	free(op.files);
	free(op.meta);
	ds_rec_free(&r);
	if (rc != SL_OK) {
		px_close(ps, "cannot send OPEN");
		return;
	}
	ps->t_start = sl_time_wall();
	log_info("pull", "conn=%s dataset=%016llx name=%s pulling: files=%u bytes=%llu "
	    "chunks_acked=%llu/%llu", ps->label, (unsigned long long)ps->dsid,
	    log_q(ps->d->rec.name), ps->d->nfiles, (unsigned long long)ps->d->rec.bytes,
	    (unsigned long long)ps->d->nacked, (unsigned long long)ps->d->rec.nchunks);
	px_enter(ps, PS_OPENING);
}

void
px_have(struct psess *ps, const uint8_t *p, uint32_t len)
{
	struct ads		*d = ps->d;
	struct wire_have	 h;
	struct chunk_ref	*refs;
	uint64_t		 g, held = 0, lost = 0;
	uint32_t		 n = 0;
	int			 rc;

	if (wire_have_decode(p, len, &h) != SL_OK || h.dsid != ps->dsid ||
	    ps->state != PS_OPENING) {
		px_close(ps, "malformed or unexpected HAVE");
		return;
	}
	if (h.status == WIRE_HAVE_PUBLISHED) {	/* we missed its COMMITTED */
		commit(ps, 0);
		return;
	}
	if (h.nchunks != d->rec.nchunks) {
		px_close(ps, "HAVE chunk count does not match the manifest");
		return;
	}
	refs = calloc(d->rec.nchunks ? d->rec.nchunks : 1, sizeof(*refs));
	if (refs == NULL) {
		px_close(ps, "out of memory");
		return;
	}
	for (g = 0; g < d->rec.nchunks; g++) {
		if ((h.bitmap[g / 8] >> (g % 8)) & 1) {
			held++;
			n += (uint32_t)acked(ps, g, &refs[n]);
		} else if ((d->cst[g] & CS_STATE) == CS_ACKED) {
			/* acked by another job's scratch, or one that was
			 * wiped: this receiver needs it again */
			lost++;
			d->cst[g] = (uint8_t)(d->cst[g] & ~CS_STATE);
			d->nacked--;
		}
	}
	if (n > 0 && (rc = journal_chunks_ack(ps->p->a->j, d->rec.id, refs, n)) != SL_OK)
		log_err("journal", "dataset=%016llx ack: %s", (unsigned long long)d->rec.id,
		    sl_strerror(rc));
	free(refs);
	log_info("pull", "conn=%s dataset=%016llx receiver_holds=%llu/%llu chunks%s",
	    ps->label, (unsigned long long)d->rec.id, (unsigned long long)held,
	    (unsigned long long)d->rec.nchunks, lost ? " (sending again what an "
	    "earlier receiver held)" : "");
	d->cursor = 0;
	px_enter(ps, PS_SENDING);
	pump(ps);
}

void
px_ack(struct psess *ps, const uint8_t *p, uint32_t len)
{
	struct ads	*d = ps->d;
	struct wire_ack	 k;
	uint32_t	 i, f, c;

	memset(&k, 0, sizeof(k));
	if (wire_ack_decode(p, len, &k) != SL_OK || k.dsid != ps->dsid ||
	    pend_room(d, k.n) != SL_OK) {
		wire_ack_free(&k);
		px_close(ps, "malformed ACK");
		return;
	}
	for (i = 0; i < k.n; i++) {
		f = k.ents[i].file;
		c = k.ents[i].chunk;
		if (f >= d->nfiles || c >= d->files[f].nchunks) {
			wire_ack_free(&k);
			px_close(ps, "ACK for a chunk outside the manifest");
			return;
		}
		if (acked(ps, d->files[f].first_chunk + c, &d->pend[d->npend]))
			d->npend++;
	}
	wire_ack_free(&k);
	if (sl_time_mono() - d->flushed_at >= ACK_FLUSH_SECS)
		px_flush(ps);
	pump(ps);
}

void
px_nack(struct psess *ps, const uint8_t *p, uint32_t len)
{
	struct ads		*d = ps->d;
	struct wire_nack	 k;
	uint64_t		 g;

	if (wire_nack_decode(p, len, &k) != SL_OK || k.dsid != ps->dsid ||
	    k.file >= d->nfiles || k.chunk >= d->files[k.file].nchunks) {
		px_close(ps, "malformed NACK");
		return;
	}
	g = d->files[k.file].first_chunk + k.chunk;
	log_warnx("pull", "dataset=%016llx file=%s chunk=%u nacked=%.*s, resending",
	    (unsigned long long)ps->dsid, log_q(d->files[k.file].path), k.chunk,
	    (int)k.reason.len, k.reason.p);
	if ((d->cst[g] & CS_STATE) == CS_INFLIGHT) {
		unflight(ps, g);
		d->cst[g] = (uint8_t)(d->cst[g] & ~CS_STATE);
		if (g < d->cursor)
			d->cursor = g;
	}
	pump(ps);
}

void
px_committed(struct psess *ps, const uint8_t *p, uint32_t len)
{
	struct wire_committed	c;
	char			path[SL_MAX_PATH + 1], why[SL_MAX_PATH + 64];
	double			dt = sl_time_wall() - ps->t_start;

	if (wire_committed_decode(p, len, &c) != SL_OK || c.dsid != ps->dsid ||
	    ps->state != PS_COMMITTING) {
		px_close(ps, "malformed or unexpected COMMITTED");
		return;
	}
	if (wire_str_copy(path, sizeof(path), c.path) != SL_OK)
		snprintf(path, sizeof(path), "%s", ps->d->rec.name);
	log_info("dataset", "dataset=%016llx name=%s pulled=%s bytes=%llu seconds=%.3f "
	    "mb_per_s=%.1f", (unsigned long long)ps->dsid, log_q(ps->d->rec.name),
	    log_q(path), (unsigned long long)ps->d->rec.bytes, dt, dt > 0 ?
	    (double)ps->d->rec.bytes / dt / 1e6 : 0.0);
	snprintf(why, sizeof(why), "published in the job's scratch as %s", path);
	if (ps->d->rec.state == DS_PULLING)
		px_ds_to(ps, DS_PULLED, why, NULL);
	px_enter(ps, PS_PULLED);
	/* The receiver reduces once we hang up (sink_pull.c). */
	stream_close(ps->s, "pulled");
}
