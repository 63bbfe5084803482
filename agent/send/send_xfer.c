/*
 * send_xfer.c: datasets on the wire.
 *
 * Up to [agent] max_in_flight datasets are on the wire at once, chosen by
 * lane (send_sched.c), their chunks interleaved over the same streams.
 * Every frame names its dataset, so each one goes through the protocol on
 * its own, with the same guarantees as if it were alone:
 *
 *   IDLE --OPEN--> OPENING --HAVE--> SENDING --all acked, COMMIT-->
 *   COMMITTING --COMMITTED--> (journal: transferred, its slot to the next)
 *
 * An OPEN goes on a stream with no other OPEN waiting for its HAVE (the
 * sink answers HAVE on the stream the OPEN came on, and a HAVE that waits
 * for chunks still on their way to its disk is one per connection), so at
 * most `streams` OPENs are outstanding; COMMIT goes on stream 0.
 *
 * In SENDING, each stream owns one send buffer: a chunk is pread straight
 * into it behind a DATA prefix, hashed with XXH3-64, and queued without a
 * copy; when the socket has taken the last byte the buffer is free for
 * the next chunk.  A stream may have at most `window` chunks sent but not
 * acked.  The sink acks a chunk only once it is durable, so an ACK is
 * journaled as "acked" and the chunk is never sent again, in this session
 * or after a restart (HAVE reports the sink's view after reconnecting).
 *
 * This file speaks the protocol and decides what to send; send_queue.c
 * records the states, send_link.c owns the streams.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_hook.h"
#include "log.h"
#include "sltime.h"
#include "stream.h"
#include "send_int.h"
#include "send_link.h"
#include "send_queue.h"
#include "send_sched.h"
#include "send_source.h"
#include "send_xfer.h"

/* Acks and counters reach the journal at most this often while chunks
 * flow (and always before COMMIT, on link loss and at stop). */
#define ACK_FLUSH_SECS	0.5

static void	pump(struct agent *);
static void	send_commit(struct agent *, struct ads *);

/* Tell the sink we abandon dataset d (ERROR with its id), so that it
 * discards the partial copy instead of keeping it forever.  Best effort:
 * a sink that does not hear it keeps the partial directory, never
 * publishes it. */
static void
abandon_at_sink(struct agent *a, struct ads *d, const char *reason)
{
	struct wire_error	e;
	struct wbuf		b;

	if (a->link != LINK_UP || a->st[0].s == NULL || d->phase == PH_IDLE ||
	    d->phase == PH_COMMITTING)
		return;
	e.dsid = d->rec.id;
	e.code = (uint16_t)-SL_ESTATE;
	e.message = wire_str_c(reason);
	if (e.message.len > SL_MAX_MSG)
		e.message.len = SL_MAX_MSG;
	wbuf_init(&b, 0);
	if (wire_error_encode(&b, &e) == SL_OK)
		stream_send_wbuf(a->st[0].s, &b);
	wbuf_free(&b);
}

/* Stop working on d: it failed for a reason an operator must see. */
void
xfer_fail(struct agent *a, struct ads *d, const char *reason)
{
	abandon_at_sink(a, d, reason);
	queue_fail(a, d, reason);
	xfer_next(a);
}

/* ---- sending ----------------------------------------------------------- */

static void
data_done(void *arg, int sent)
{
	struct astream *as = arg;

	as->buf_busy = 0;
	if (sent)
		pump(as->a);
}

static int
send_chunk(struct agent *a, struct astream *as, struct ads *d, uint64_t g)
{
	struct wire_data	wd;
	char			err[SL_MAX_MSG];
	uint32_t		f, c, len;
	uint64_t		h;
	int			rc;

	f = chunk_file(d, g);
	c = (uint32_t)(g - d->files[f].first_chunk);
	len = wire_chunk_len(d->files[f].size, d->rec.chunk_size, c);
	if (as->buf == NULL) {
		as->buf = malloc(WIRE_DATA_PREFIX + (size_t)a->cfg->chunk_size);
		if (as->buf == NULL)
			return SL_ENOMEM;
	}
	rc = read_chunk(d, f, c, as->buf + WIRE_DATA_PREFIX, len, &h, err, sizeof(err));
	if (rc != SL_OK) {
		log_err("agent", "dataset=%016llx file=%s chunk=%u error=%s",
		    (unsigned long long)d->rec.id, log_q(d->files[f].path), c, log_q(err));
		if (rc == SL_ECHANGED)
			xfer_fail(a, d, err);
		else
			link_down(a, err);	/* retry later: may be transient */
		return rc;
	}
	if ((d->cst[g] & CS_HASHED) && d->hash[g] != h) {
		snprintf(err, sizeof(err), "%s/%s: chunk %u changed since it was "
		    "last sent", d->rec.src, d->files[f].path, c);
		xfer_fail(a, d, err);
		return SL_ECHANGED;
	}
	memset(&wd, 0, sizeof(wd));
	wd.dsid = d->rec.id;
	wd.file = f;
	wd.chunk = c;
	wd.xxh3 = h;
	wd.len = len;
	wire_data_prefix(as->buf, &wd);
	as->buf_busy = 1;
	rc = stream_send_ref(as->s, as->buf, WIRE_DATA_PREFIX + (size_t)len,
	    data_done, as);
	if (rc != SL_OK) {
		as->buf_busy = 0;
		return rc;
	}
	chunk_sent(d, as, g, h, len);
	return SL_OK;
}

/* A stream may have `window` chunks' worth of bytes sent and not acked.
 * Counting bytes rather than chunks lets small files pipeline deeply (a
 * 64 KiB file is not worth a whole 8 MiB slot), capped in count so that
 * one ACK batch stays small. */
#define WINDOW_MAX_CHUNKS	4096
static int
window_open(const struct agent *a, const struct astream *as)
{
	return as->inflight < WINDOW_MAX_CHUNKS &&
	    as->inflight_bytes < (uint64_t)a->cfg->window * a->cfg->chunk_size;
}

/* Every dataset in flight whose chunks are all acked sends COMMIT. */
static void
commit_ready(struct agent *a)
{
	int i;

again:
	for (i = 0; i < a->nact && a->link == LINK_UP; i++) {
		struct ads *d = a->act[i];

		if (d->phase == PH_SENDING && d->nacked == d->rec.nchunks) {
			send_commit(a, d);	/* may fail d: a->act changes */
			goto again;
		}
	}
}

/* Fill the streams' free windows, each chunk from the dataset whose turn
 * it is (send_sched.c). */
static void
pump(struct agent *a)
{
	struct ads	*d;
	struct astream	*as;
	uint64_t	 g;
	uint32_t	 f, len;
	int		 i, rc, progress, n = a->cfg->streams;

	if (a->link != LINK_UP)
		return;
	do {
		progress = 0;
		for (i = 0; i < n; i++) {
			as = &a->st[(a->rr + i) % n];
			if (as->state != AS_READY || as->buf_busy ||
			    !window_open(a, as))
				continue;
			d = sched_pick(a);
			if (d == NULL || !chunk_next(d, &g))
				goto done;
			f = chunk_file(d, g);
			len = wire_chunk_len(d->files[f].size, d->rec.chunk_size,
			    (uint32_t)(g - d->files[f].first_chunk));
			rc = send_chunk(a, as, d, g);
			if (rc == SL_ECHANGED && a->link == LINK_UP) {
				progress = 1;	/* d failed; the others go on */
				continue;
			}
			if (rc != SL_OK)
				return;		/* the link may be gone */
			sched_sent(a, d, len);
			progress = 1;
		}
		a->rr = (a->rr + 1) % n;
	} while (progress);
done:
	commit_ready(a);
}

void
xfer_pump(struct agent *a)
{
	pump(a);
}

/* ---- protocol ------------------------------------------------------------ */

static void
send_open(struct agent *a, struct ads *d, int stream)
{
	struct wire_open	 o;
	struct ds_rec		 full;
	struct wbuf		 b;
	uint32_t		 i;
	int			 rc;

	memset(&full, 0, sizeof(full));
	rc = journal_ds_get(a->j, d->rec.id, &full);
	if (rc != SL_OK) {
		log_err("journal", "dataset=%016llx: %s", (unsigned long long)d->rec.id,
		    sl_strerror(rc));
		link_down(a, "cannot read the journal");	/* parks d: tried again */
		return;
	}
	memset(&o, 0, sizeof(o));
	o.dsid = d->rec.id;
	o.name = wire_str_c(d->rec.name);
	o.chunk_size = d->rec.chunk_size;
	o.total_bytes = d->rec.bytes;
	o.nfiles = d->nfiles;
	o.files = calloc(d->nfiles ? d->nfiles : 1, sizeof(*o.files));
	o.nmeta = full.nmeta;
	o.meta = calloc(full.nmeta ? full.nmeta : 1, sizeof(*o.meta));
	if (o.files == NULL || o.meta == NULL) {
		rc = SL_ENOMEM;
		goto out;
	}
	for (i = 0; i < d->nfiles; i++) {
		o.files[i].path = wire_str_c(d->files[i].path);
		o.files[i].size = d->files[i].size;
		o.files[i].mode = d->files[i].mode;
	}
	for (i = 0; i < full.nmeta; i++) {
		o.meta[i].key = wire_str_c(full.meta[i][0]);
		o.meta[i].val = wire_str_c(full.meta[i][1]);
	}
	wbuf_init(&b, 0);
	rc = wire_open_encode(&b, &o);
	if (rc == SL_OK) {
		d->open_stream = stream;
		phase_enter(d, PH_OPENING);
		log_info("agent", "dataset=%016llx name=%s lane=%s open stream=%d "
		    "in_flight=%d", (unsigned long long)d->rec.id, log_q(d->rec.name),
		    ds_lane_name(d->lane), stream, a->nact);
		link_send(a, &a->st[stream], &b);
	}
	wbuf_free(&b);
out:
	free(o.files);
	free(o.meta);
	ds_rec_free(&full);
	if (rc != SL_OK) {
		char why[128];
		snprintf(why, sizeof(why), "cannot encode OPEN: %s", sl_strerror(rc));
		xfer_fail(a, d, why);
	}
}

/* A stream with no OPEN waiting for its HAVE, or -1. */
static int
open_stream(const struct agent *a)
{
	int s, i, busy;

	for (s = 0; s < a->cfg->streams; s++) {
		for (busy = 0, i = 0; i < a->nact && !busy; i++)
			busy = a->act[i]->phase == PH_OPENING &&
			    a->act[i]->open_stream == s;
		if (!busy)
			return s;
	}
	return -1;
}

/* Put datasets on the wire while slots are free: first those whose COMMIT
 * went here (only here can answer them), then the lane whose turn it is
 * (send_sched.c), the first in queue order of it that this destination
 * may take.  A better destination that may be back, or another that owes
 * a dataset the answer to its COMMIT, is visited once nothing is in
 * flight: no dataset starts here meanwhile. */
void
xfer_next(struct agent *a)
{
	struct ads	*d;
	const char	*here;
	double		 now;
	int		 waiting[2], lane, s;

	if (a->link != LINK_UP || a->in_next)
		return;
	a->in_next = 1;
	here = a->dests[a->cur_dest].text;
	while (a->link == LINK_UP && (s = open_stream(a)) >= 0 &&
	    (d = queue_next(a, here, QUEUE_COMMITTED_HERE, sl_time_wall())) != NULL)
		send_open(a, d, s);
	a->in_next = 0;
	if (a->link != LINK_UP)
		return;
	if (link_want_failback(a)) {
		if (a->nact == 0)
			link_switch(a, "trying a preferred destination again");
		return;
	}
	if (link_want_bound(a)) {
		if (a->nact == 0)
			link_switch(a, "a dataset waits for its COMMIT's answer there");
		return;
	}
	a->in_next = 1;
	while (a->link == LINK_UP && (s = open_stream(a)) >= 0) {
		now = sl_time_wall();
		queue_waiting(a, here, now, waiting);
		lane = sched_admit_lane(a, waiting);
		if (lane < 0)
			break;
		d = queue_next(a, here, lane, now);
		if (d == NULL)
			break;
		send_open(a, d, s);
	}
	a->in_next = 0;
}

/* ---- partial copies left behind by moves ------------------------------- */

struct left_walk {
	const char	*here;
	uint64_t	*ids;
	size_t		 n, alloc;
	int		 nomem;
};

static int
left_cb(uint64_t id, const char *dest, void *arg)
{
	struct left_walk	*w = arg;
	uint64_t		*p;

	if (strcmp(dest, w->here) != 0)
		return 0;
	if (w->n == w->alloc) {
		p = realloc(w->ids, (w->alloc * 2 + 16) * sizeof(*p));
		if (p == NULL) {
			w->nomem = 1;
			return 1;
		}
		w->ids = p;
		w->alloc = w->alloc * 2 + 16;
	}
	w->ids[w->n++] = id;
	return 0;
}

/*
 * The session to this destination is up: release the partial copies it
 * keeps of datasets that moved away for good (published elsewhere, or no
 * longer in the journal).  One still moving may come back and resume from
 * its copy, and a failed one may be retried, so those are kept.  The release is the abandon ERROR (PROTOCOL.md) on stream
 * 0, ahead of any OPEN; the entry is dropped once the frame is queued.  A
 * sink that never hears it (the session dies first) removes the copy
 * itself after its partial_ttl.
 */
static void
release_left(struct agent *a)
{
	struct left_walk	 w = { a->dests[a->cur_dest].text, NULL, 0, 0, 0 };
	struct wire_error	 e;
	struct ds_rec		 r;
	struct wbuf		 b;
	char			 why[SL_MAX_MSG];
	size_t			 i;
	int			 rc;

	rc = journal_left_foreach(a->j, left_cb, &w);
	if (rc != SL_OK || w.nomem)
		log_err("journal", "partial copies left at %s: %s", w.here,
		    w.nomem ? "out of memory" : sl_strerror(rc));
	for (i = 0; i < w.n && a->link == LINK_UP; i++) {
		memset(&r, 0, sizeof(r));
		rc = journal_ds_get(a->j, w.ids[i], &r);
		if (rc == SL_ENOTFOUND)
			snprintf(why, sizeof(why), "released: the agent no longer "
			    "has the dataset");
		else if (rc != SL_OK || !DS_PUBLISHED(r.state)) {
			/* Still moving, it may come back here; failed, a
			 * retry may.  Kept (the sink's partial_ttl bounds it). */
			ds_rec_free(&r);
			continue;
		} else
			snprintf(why, sizeof(why), "released: published at %s", r.dest);
		ds_rec_free(&r);
		e.dsid = w.ids[i];
		e.code = (uint16_t)-SL_ESTATE;
		e.message = wire_str_c(why);
		if (e.message.len > SL_MAX_MSG)
			e.message.len = SL_MAX_MSG;
		wbuf_init(&b, 0);
		rc = wire_error_encode(&b, &e);
		if (rc == SL_OK)
			rc = stream_send_wbuf(a->st[0].s, &b);
		wbuf_free(&b);
		if (rc != SL_OK)
			break;		/* tried again at the next session */
		rc = journal_left_del(a->j, w.ids[i], w.here);
		if (rc != SL_OK)
			log_err("journal", "dataset=%016llx left at %s: %s",
			    (unsigned long long)w.ids[i], w.here, sl_strerror(rc));
		log_info("dataset", "dataset=%016llx dest=%s partial copy released (%s)",
		    (unsigned long long)w.ids[i], w.here, why);
	}
	free(w.ids);
}

/* The session is up (link_ops.up): releases first, then the next dataset. */
void
xfer_up(struct agent *a)
{
	release_left(a);
	xfer_next(a);
}

/* Send d's COMMIT on stream 0: each file's digest, or zeros (digests
 * 0: a COMMIT that only asks where a published dataset went). */
static void
commit_out(struct agent *a, struct ads *d, int digests)
{
	struct wire_commit	 wc;
	struct wbuf		 b;
	uint8_t			*dig;
	uint32_t		 f;
	int			 rc;

	dig = calloc((size_t)d->nfiles * WIRE_DIGEST_LEN + 1, 1);
	if (dig == NULL) {
		link_down(a, "out of memory");
		return;
	}
	for (f = 0; digests && f < d->nfiles; f++)
		ads_file_digest(d, f, dig + (size_t)f * WIRE_DIGEST_LEN);
	wc.dsid = d->rec.id;
	wc.nfiles = d->nfiles;
	wc.digests = dig;
	wbuf_init(&b, 0);
	rc = wire_commit_encode(&b, &wc);
	free(dig);
	if (rc != SL_OK) {
		wbuf_free(&b);
		xfer_fail(a, d, "cannot encode COMMIT");
		return;
	}
	phase_enter(d, PH_COMMITTING);
	ds_enter(a, d, DS_COMMITTING, NULL, NULL);
	link_send(a, &a->st[0], &b);
	wbuf_free(&b);
}

static void
send_commit(struct agent *a, struct ads *d)
{
	uint8_t			*tmp = NULL;
	char			 err[SL_MAX_MSG], path[2 * SL_MAX_PATH + 2];
	uint32_t		 f, c;
	uint64_t		 g, h;
	int			 rc;

	if (d->phase == PH_COMMITTING)
		return;
	flush_counts(a, d);
	/* The source must still be what we sent (STYLE: detect, say why). */
	for (f = 0; f < d->nfiles; f++) {
		snprintf(path, sizeof(path), "%s/%s", d->rec.src, d->files[f].path);
		if (check_unchanged(&d->files[f], path, err, sizeof(err)) != SL_OK) {
			xfer_fail(a, d, err);
			return;
		}
	}
	/* Chunks acked in an earlier life (HAVE) may have no known hash. */
	for (g = 0; g < d->rec.nchunks; g++) {
		if (d->cst[g] & CS_HASHED)
			continue;
		if (tmp == NULL && (tmp = malloc(d->rec.chunk_size)) == NULL) {
			link_down(a, "out of memory");
			return;
		}
		f = chunk_file(d, g);
		c = (uint32_t)(g - d->files[f].first_chunk);
		rc = read_chunk(d, f, c, tmp, wire_chunk_len(d->files[f].size,
		    d->rec.chunk_size, c), &h, err, sizeof(err));
		if (rc != SL_OK) {
			free(tmp);
			xfer_fail(a, d, err);
			return;
		}
		d->hash[g] = h;
		d->cst[g] |= CS_HASHED;
	}
	free(tmp);
	commit_out(a, d, 1);
}

/* The sink says d is published already (we missed its COMMITTED): a
 * COMMIT of a published dataset is answered with COMMITTED and where it
 * went (the sink's layout decides: <name> or <agent>/<name>), without a
 * look at its digests (PROTOCOL.md 6.3), so they are zeros. */
static void
commit_published(struct agent *a, struct ads *d)
{
	commit_out(a, d, 0);
}

/* The sink published d: journal it (hook_pending when a hook is
 * configured, so that a crash right here still runs the hook), hand it to
 * the hook schedule, and give its slot to the next dataset. */
static void
published(struct agent *a, struct ads *d, const char *path)
{
	uint64_t id = d->rec.id;

	link_progress(a);
	a->lane_done[d->lane == LANE_BACKLOG]++;
	queue_drop(a, d, a->hook ? DS_HOOK_PENDING : DS_TRANSFERRED, NULL, path);
	if (a->hook)
		ahook_published(a->hook, id);
	xfer_next(a);
}

void
xfer_on_have(struct agent *a, const uint8_t *p, uint32_t len)
{
	struct ads		*d;
	struct wire_have	 h;
	uint64_t		 nheld, nlost;
	int			 rc;

	rc = wire_have_decode(p, len, &h);
	d = rc == SL_OK ? queue_active(a, h.dsid) : NULL;
	if (rc != SL_OK || d == NULL || d->phase != PH_OPENING) {
		link_down(a, rc != SL_OK ? "malformed HAVE" : "unexpected HAVE");
		return;
	}
	if (h.status == WIRE_HAVE_PUBLISHED) {
		/* Published in an earlier session whose COMMITTED we missed. */
		commit_published(a, d);
		return;
	}
	if (h.nchunks != d->rec.nchunks) {
		link_down(a, "HAVE chunk count does not match the manifest");
		return;
	}
	if (queue_have(a, d, h.bitmap, &nheld, &nlost) != SL_OK) {
		link_down(a, "out of memory");
		return;
	}
	if (nlost)	/* acked by this destination since the dataset was bound to it */
		log_warnx("agent", "dataset=%016llx dest=%s sink no longer holds %llu "
		    "chunks it acked (its journal was reset, or its partial copy was "
		    "removed or expired); resending them", (unsigned long long)d->rec.id,
		    a->dests[a->cur_dest].text, (unsigned long long)nlost);
	log_info("agent", "dataset=%016llx name=%s sink_holds=%llu/%llu chunks",
	    (unsigned long long)d->rec.id, log_q(d->rec.name),
	    (unsigned long long)nheld, (unsigned long long)d->rec.nchunks);
	d->cursor = 0;
	phase_enter(d, PH_SENDING);
	sched_join(a, d, d->rec.nchunks ? (uint64_t)((double)d->rec.bytes *
	    (double)(d->rec.nchunks - nheld) / (double)d->rec.nchunks) : 0);
	pump(a);
	xfer_next(a);	/* its stream may take the next OPEN */
}

void
xfer_on_ack(struct agent *a, const uint8_t *p, uint32_t len)
{
	struct ads		*d;
	struct wire_ack		 k;
	struct chunk_ref	*refs;
	uint32_t		 i, n = 0;
	int			 rc;

	memset(&k, 0, sizeof(k));
	rc = wire_ack_decode(p, len, &k);
	if (rc != SL_OK) {
		link_down(a, "malformed ACK");
		return;
	}
	d = queue_active(a, k.dsid);
	if (d == NULL || d->phase != PH_SENDING) {
		/* Late ack for a dataset we already finished or dropped. */
		wire_ack_free(&k);
		return;
	}
	if (d->npend + k.n > d->apend) {
		uint32_t na = d->npend + k.n + 256;
		refs = realloc(d->pend, na * sizeof(*refs));
		if (refs == NULL) {
			wire_ack_free(&k);
			link_down(a, "out of memory");
			return;
		}
		d->pend = refs;
		d->apend = na;
	}
	refs = d->pend + d->npend;
	for (i = 0; i < k.n; i++) {
		uint32_t f = k.ents[i].file, c = k.ents[i].chunk;

		if (f >= d->nfiles || c >= d->files[f].nchunks) {
			wire_ack_free(&k);
			link_down(a, "ACK for a chunk outside the manifest");
			return;
		}
		if (!chunk_ack(a, d, f, c, &refs[n]))
			continue;
		a->acked_bytes += wire_chunk_len(d->files[f].size, d->rec.chunk_size, c);
		n++;
	}
	wire_ack_free(&k);
	d->npend += n;
	if (n > 0)
		link_progress(a);
	if (sl_time_mono() - d->flushed_at >= ACK_FLUSH_SECS)
		flush_counts(a, d);
	pump(a);
}

void
xfer_on_nack(struct agent *a, const uint8_t *p, uint32_t len)
{
	struct ads		*d;
	struct wire_nack	 k;
	uint64_t		 g;

	if (wire_nack_decode(p, len, &k) != SL_OK) {
		link_down(a, "malformed NACK");
		return;
	}
	d = queue_active(a, k.dsid);
	if (d == NULL || d->phase != PH_SENDING)
		return;
	if (k.file >= d->nfiles || k.chunk >= d->files[k.file].nchunks) {
		link_down(a, "NACK for a chunk outside the manifest");
		return;
	}
	g = d->files[k.file].first_chunk + k.chunk;
	log_warnx("agent", "dataset=%016llx file=%s chunk=%u nacked=%.*s, resending",
	    (unsigned long long)d->rec.id, log_q(d->files[k.file].path), k.chunk,
	    (int)k.reason.len, k.reason.p);
	chunk_nack(a, d, g);
	pump(a);
}

void
xfer_on_committed(struct agent *a, const uint8_t *p, uint32_t len)
{
	struct ads		*d;
	struct wire_committed	 c;
	char			 path[SL_MAX_PATH + 1];
	double			 dt;

	if (wire_committed_decode(p, len, &c) != SL_OK) {
		link_down(a, "malformed COMMITTED");
		return;
	}
	d = queue_active(a, c.dsid);
	if (d == NULL || d->phase != PH_COMMITTING)
		return;
	if (wire_str_copy(path, sizeof(path), c.path) != SL_OK)
		snprintf(path, sizeof(path), "%s", d->rec.name);
	dt = sl_time_wall() - d->t_start;
	log_info("dataset", "dataset=%016llx name=%s published=%s bytes=%llu "
	    "seconds=%.3f mb_per_s=%.1f resent=%llu", (unsigned long long)d->rec.id,
	    log_q(d->rec.name), log_q(path), (unsigned long long)d->rec.bytes, dt,
	    dt > 0 ? (double)(d->rec.bytes - d->bytes_at_start) / dt / 1e6 : 0.0,
	    (unsigned long long)d->rec.chunks_resent);
	published(a, d, path);
}
