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
 * A pull session (one stream, one dataset):
 *
 *   PREAMBLE --TLS--> HANDSHAKE --CHALLENGE/HELLO--> HELLO --WELCOME-->
 *   OPENING (OPEN sent) --HAVE--> SENDING --all acked, COMMIT-->
 *   COMMITTING --COMMITTED--> (journal: pulled; we hang up)
 *
 * with the push path's guarantees and record: DATA read by send_source.c
 * (the source checked unchanged, XXH3-64 per chunk), a chunk acked only
 * once durable in the job's scratch and journaled acked (in batches, and
 * before COMMIT), HAVE after a reconnect resuming from what the receiver
 * holds, COMMIT with every file's digest, publication verified by the
 * receiver's sink.  Up to [agent] window chunks are in flight, each in a
 * buffer of its own (read straight behind the DATA prefix, sent without
 * a copy).  A new session for a dataset supersedes an older one.
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
#include <xxhash.h>

#include "conn.h"
#include "fsx.h"
#include "log.h"
#include "net.h"
#include "pull.h"
#include "sltime.h"
#include "stream.h"
#include "send_int.h"
#include "send_pull.h"
#include "send_queue.h"
#include "send_source.h"

#define PREAMBLE_SECS	10.0	/* accept -> preamble, hard */
#define ACK_FLUSH_SECS	0.5

enum ps_state { PS_PREAMBLE, PS_HANDSHAKE, PS_HELLO, PS_OPENING, PS_SENDING,
	PS_COMMITTING, PS_PULLED, PS_REPORT, PS_CLOSING };

struct pbuf {
	struct psess	*ps;
	uint8_t		*p;
	int		 busy;
};

struct psess {
	struct psess	*next, **prevp;
	struct pull	*p;
	int		 state;
	int		 mode;		/* PULL_MODE_* */
	uint64_t	 dsid;
	int		 fd;		/* until the stream has it */
	ev_io		 pre_io;
	ev_timer	 pre_to;
	char		 pre[PULL_PREAMBLE_LEN];
	size_t		 npre;
	struct stream	*s;
	char		 label[96];
	/* a pull: the dataset, its chunk states (CS_* of send_int.h) */
	struct ads	*d;
	uint64_t	 inflight_bytes;
	struct pbuf	*bufs;
	int		 nbufs;
	uint64_t	 sent, resent;	/* not yet journaled */
	double		 t_start;
};

struct pull {
	struct agent	*a;
	struct tls_ctx	*tls;
	struct net_addr	 addr;
	int		 lfd;
	ev_io		 accept_io;
	struct psess	*list;
	uint64_t	 nsessions;
};

static const char *
ps_name(int s)
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

static void
ps_enter(struct psess *ps, int state)
{
	log_debug("pull", "conn=%s dataset=%016llx state=%s->%s", ps->label,
	    (unsigned long long)ps->dsid, ps_name(ps->state), ps_name(state));
	ps->state = state;
}

/* Journal a state change of the dataset (and keep the copy). */
static void
ds_to(struct psess *ps, int state, const char *reason, const char *published)
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

static void
flush(struct psess *ps)
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

static void
ps_close(struct psess *ps, const char *why)
{
	if (ps->s != NULL && ps->state != PS_CLOSING)
		stream_close(ps->s, why);
	if (ps->state != PS_CLOSING)
		ps_enter(ps, PS_CLOSING);
}

/* ---- the dataset in memory ------------------------------------------------ */

static void
unload(struct psess *ps)
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

/* Per-file digest: XXH3-128 over the chunk hashes as u64 LE (the same
 * definition as send_xfer.c's, PROTOCOL.md COMMIT). */
static void
file_digest(const struct ads *d, uint32_t f, uint8_t out[WIRE_DIGEST_LEN])
{
	XXH3_state_t		*st = XXH3_createState();
	XXH128_canonical_t	 canon;
	uint8_t			 le[8];
	uint64_t		 g;

	XXH3_128bits_reset(st);
	for (g = d->files[f].first_chunk;
	    g < d->files[f].first_chunk + d->files[f].nchunks; g++) {
		wire_put_u64(le, d->hash[g]);
		XXH3_128bits_update(st, le, sizeof(le));
	}
	XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(st));
	memcpy(out, canon.digest, WIRE_DIGEST_LEN);
	XXH3_freeState(st);
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
	flush(ps);
	ds_to(ps, DS_FAILED, why, NULL);
	ps_close(ps, "dataset failed");
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

	flush(ps);
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
			ps_close(ps, "out of memory");
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
		ps_close(ps, "out of memory");
		return;
	}
	for (f = 0; digests && f < d->nfiles; f++)
		file_digest(d, f, dig + (size_t)f * WIRE_DIGEST_LEN);
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
		ps_close(ps, "cannot send COMMIT");
		return;
	}
	ps_enter(ps, PS_COMMITTING);
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
		ps_close(ps, "out of memory");
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
			ps_close(ps, err);	/* the receiver dials again */
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
		ps_close(ps, "cannot queue DATA");
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

static void
send_hello(struct psess *ps, const uint8_t *p, uint32_t len)
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
		ps_close(ps, "receiver certificate CN refused");
		return;
	}
	if (wire_challenge_decode(p, len, &ch) != SL_OK ||
	    ch.min_version > SL_PROTO_VERSION || ch.max_version < SL_PROTO_VERSION) {
		ps_close(ps, "malformed CHALLENGE or no common protocol version");
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
		ps_close(ps, "cannot send HELLO");
		return;
	}
	wbuf_free(&b);
	ps_enter(ps, PS_HELLO);
}

/* WELCOME: the dataset must be on route job and not finished; then
 * OPEN.  A newer session for it supersedes an older one. */
static void
send_open(struct psess *ps)
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
		ps_close(ps, why);
		return;
	}
	for (o = ps->p->list; o; o = o->next)
		if (o != ps && o->mode == PULL_MODE_PULL && o->dsid == ps->dsid &&
		    o->state != PS_CLOSING && o->state != PS_PREAMBLE) {
			log_info("pull", "conn=%s dataset=%016llx superseded by conn=%s",
			    o->label, (unsigned long long)o->dsid, ps->label);
			ps_close(o, "superseded by a new pull session");
		}
	rc = load(ps, &r);
	if (rc != SL_OK) {
		log_err("pull", "dataset=%016llx cannot load from journal: %s",
		    (unsigned long long)ps->dsid, sl_strerror(rc));
		ds_rec_free(&r);
		ps_close(ps, "cannot load the dataset");
		return;
	}
	if (r.state == DS_JOB_SUBMITTING || r.state == DS_JOB_SUBMITTED)
		ds_to(ps, DS_PULLING, NULL, NULL);
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
		ps_close(ps, "cannot send OPEN");
		return;
	}
	ps->t_start = sl_time_wall();
	log_info("pull", "conn=%s dataset=%016llx name=%s pulling: files=%u bytes=%llu "
	    "chunks_acked=%llu/%llu", ps->label, (unsigned long long)ps->dsid,
	    log_q(ps->d->rec.name), ps->d->nfiles, (unsigned long long)ps->d->rec.bytes,
	    (unsigned long long)ps->d->nacked, (unsigned long long)ps->d->rec.nchunks);
	ps_enter(ps, PS_OPENING);
}

static void
on_have(struct psess *ps, const uint8_t *p, uint32_t len)
{
	struct ads		*d = ps->d;
	struct wire_have	 h;
	struct chunk_ref	*refs;
	uint64_t		 g, held = 0, lost = 0;
	uint32_t		 n = 0;
	int			 rc;

	if (wire_have_decode(p, len, &h) != SL_OK || h.dsid != ps->dsid ||
	    ps->state != PS_OPENING) {
		ps_close(ps, "malformed or unexpected HAVE");
		return;
	}
	if (h.status == WIRE_HAVE_PUBLISHED) {	/* we missed its COMMITTED */
		commit(ps, 0);
		return;
	}
	if (h.nchunks != d->rec.nchunks) {
		ps_close(ps, "HAVE chunk count does not match the manifest");
		return;
	}
	refs = calloc(d->rec.nchunks ? d->rec.nchunks : 1, sizeof(*refs));
	if (refs == NULL) {
		ps_close(ps, "out of memory");
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
	ps_enter(ps, PS_SENDING);
	pump(ps);
}

static void
on_ack(struct psess *ps, const uint8_t *p, uint32_t len)
{
	struct ads	*d = ps->d;
	struct wire_ack	 k;
	uint32_t	 i, f, c;

	memset(&k, 0, sizeof(k));
	if (wire_ack_decode(p, len, &k) != SL_OK || k.dsid != ps->dsid ||
	    pend_room(d, k.n) != SL_OK) {
		wire_ack_free(&k);
		ps_close(ps, "malformed ACK");
		return;
	}
	for (i = 0; i < k.n; i++) {
		f = k.ents[i].file;
		c = k.ents[i].chunk;
		if (f >= d->nfiles || c >= d->files[f].nchunks) {
			wire_ack_free(&k);
			ps_close(ps, "ACK for a chunk outside the manifest");
			return;
		}
		if (acked(ps, d->files[f].first_chunk + c, &d->pend[d->npend]))
			d->npend++;
	}
	wire_ack_free(&k);
	if (sl_time_mono() - d->flushed_at >= ACK_FLUSH_SECS)
		flush(ps);
	pump(ps);
}

static void
on_nack(struct psess *ps, const uint8_t *p, uint32_t len)
{
	struct ads		*d = ps->d;
	struct wire_nack	 k;
	uint64_t		 g;

	if (wire_nack_decode(p, len, &k) != SL_OK || k.dsid != ps->dsid ||
	    k.file >= d->nfiles || k.chunk >= d->files[k.file].nchunks) {
		ps_close(ps, "malformed NACK");
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

static void
on_committed(struct psess *ps, const uint8_t *p, uint32_t len)
{
	struct wire_committed	c;
	char			path[SL_MAX_PATH + 1], why[SL_MAX_PATH + 64];
	double			dt = sl_time_wall() - ps->t_start;

	if (wire_committed_decode(p, len, &c) != SL_OK || c.dsid != ps->dsid ||
	    ps->state != PS_COMMITTING) {
		ps_close(ps, "malformed or unexpected COMMITTED");
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
		ds_to(ps, DS_PULLED, why, NULL);
	ps_enter(ps, PS_PULLED);
	/* The receiver reduces once we hang up (sink_pull.c). */
	stream_close(ps->s, "pulled");
}

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
		ps_close(ps, "receiver certificate CN refused");
		return;
	}
	if (wire_result_decode(p, len, &e) != SL_OK || e.dsid != ps->dsid ||
	    wire_str_copy(msg, sizeof(msg), e.message) != SL_OK) {
		ps_close(ps, "malformed RESULT");
		return;
	}
	memset(&r, 0, sizeof(r));
	rc = journal_ds_get(a->j, ps->dsid, &r);
	if (rc != SL_OK || strcmp(r.dest, DS_ROUTE_JOB) != 0) {
		ds_rec_free(&r);
		ps_close(ps, "RESULT for a dataset not on route job");
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
			ps_close(ps, "cannot journal the result");	/* it reports again */
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
	ps_enter(ps, PS_REPORT);	/* on_drain hangs up */
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
			ps_close(ps, "expected RESULT");
		return;
	}
	if (h->type == WIRE_ERROR) {
		if (wire_error_decode(p, h->len, &e) == SL_OK)
			log_warnx("pull", "conn=%s dataset=%016llx receiver error %s: %.*s",
			    ps->label, (unsigned long long)ps->dsid,
			    sl_strerror(-(int)e.code), (int)e.message.len, e.message.p);
		ps_close(ps, "receiver error");
		return;
	}
	switch (ps->state) {
	case PS_HANDSHAKE:
		if (h->type == WIRE_CHALLENGE)
			send_hello(ps, p, h->len);
		else
			ps_close(ps, "expected CHALLENGE");
		return;
	case PS_HELLO:
		if (h->type == WIRE_WELCOME)
			send_open(ps);
		else
			ps_close(ps, "expected WELCOME");
		return;
	}
	switch (h->type) {
	case WIRE_HAVE:		on_have(ps, p, h->len); break;
	case WIRE_ACK:		if (ps->d) on_ack(ps, p, h->len); break;
	case WIRE_NACK:		if (ps->d) on_nack(ps, p, h->len); break;
	case WIRE_COMMITTED:	on_committed(ps, p, h->len); break;
	default:
		ps_close(ps, "unexpected frame");
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
	unload(ps);
	free(ps);
}

static void
ps_closed(struct stream *s, const char *why, void *arg)
{
	struct psess	*ps = arg;
	struct ds_rec	 r;

	(void)s;
	log_info("pull", "conn=%s dataset=%016llx closed in state %s why=%s", ps->label,
	    (unsigned long long)ps->dsid, ps_name(ps->state), log_q(why));
	flush(ps);
	/* The receiver hung up after the pull: it is reducing. */
	if (ps->mode == PULL_MODE_PULL && ps->state == PS_PULLED) {
		memset(&r, 0, sizeof(r));
		if (journal_ds_get(ps->p->a->j, ps->dsid, &r) == SL_OK &&
		    r.state == DS_PULLED)
			ds_to(ps, DS_REDUCING, NULL, NULL);
		ds_rec_free(&r);
	}
	ps->s = NULL;
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
	    "/%c", ps->mode);
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
	log_info("pull", "conn=%s dataset=%016llx %s session", ps->label,
	    (unsigned long long)ps->dsid, ps->mode == PULL_MODE_PULL ? "pull" : "report");
}

static void
pre_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct psess	*ps = w->data;
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
	if (pull_preamble_parse(ps->pre, &ps->mode, &ps->dsid) != SL_OK) {
		pre_done(ps, "not a pull preamble");
		return;
	}
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
			ps_close(ps, "shutting down");
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
