/*
 * role_agent.c: the sending side.
 *
 * The agent keeps one *session* with its destination: N parallel streams
 * (config streams), each through CHALLENGE / HELLO / WELCOME.  The link is
 * up only while all N are; losing any one takes the whole session down,
 * puts every in-flight chunk back to pending and reconnects after an
 * exponential backoff with jitter.  One rule, no partial sessions to
 * reason about.
 *
 * Datasets are sent one at a time, oldest first.  For the current one:
 *
 *   IDLE --OPEN--> OPENING --HAVE--> SENDING --all acked, COMMIT-->
 *   COMMITTING --COMMITTED--> (journal: transferred, next dataset)
 *
 * In SENDING, each stream owns one send buffer: a chunk is pread straight
 * into it behind a DATA prefix, hashed with XXH3-64, and queued without a
 * copy; when the socket has taken the last byte the buffer is free for
 * the next chunk.  A stream may have at most `window` chunks sent but not
 * acked.  The sink acks a chunk only once it is durable, so an ACK is
 * journaled as "acked" and the chunk is never sent again, in this session
 * or after a restart (HAVE reports the sink's view after reconnecting).
 *
 * Per-chunk state lives in memory as one byte per chunk (plus its hash);
 * the journal holds only what must survive a crash: which chunks the sink
 * confirmed, and the counters.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "conn.h"
#include "digest.h"
#include "log.h"
#include "net.h"
#include "pathchk.h"
#include "roles.h"
#include "stream.h"
#include "walk.h"
#include "ingest.h"
#include "retention.h"
#include "mreg.h"
#include "agent_hook.h"
#include "sltime.h"

/* Acks and counters reach the journal at most this often while chunks
 * flow (and always before COMMIT, on link loss and at stop). */
#define ACK_FLUSH_SECS	0.5
#include "send_int.h"

static void	pump(struct agent *);

const char *
link_name(int l)
{
	switch (l) {
	case LINK_DOWN:		return "down";
	case LINK_CONNECTING:	return "connecting";
	case LINK_UP:		return "up";
	case LINK_BACKOFF:	return "backoff";
	case LINK_WAIT:		return "waiting";	/* paused or maintenance */
	}
	return "unknown";
}

static const char *
phase_name(int p)
{
	switch (p) {
	case PH_IDLE:		return "idle";
	case PH_OPENING:	return "opening";
	case PH_SENDING:	return "sending";
	case PH_COMMITTING:	return "committing";
	}
	return "unknown";
}

void
link_enter(struct agent *a, int state, const char *why)
{
	if (a->link != state)
		log_info("link", "dest=%s state=%s->%s%s%s", a->dests[a->cur_dest].text,
		    link_name(a->link), link_name(state), why ? " why=" : "",
		    why ? log_q(why) : "");
	a->link = state;
	a->link_since = sl_time_wall();
	snprintf(a->link_why, sizeof(a->link_why), "%s", why ? why : "");
}

void
phase_enter(struct agent *a, struct ads *d, int phase)
{
	log_debug("agent", "dataset=%016llx phase=%s->%s",
	    (unsigned long long)d->rec.id, phase_name(d->phase), phase_name(phase));
	d->phase = phase;
	(void)a;
}

/* Journal a dataset state change; the in-memory copy follows. */
static void
ds_enter(struct agent *a, struct ads *d, int state, const char *reason,
    const char *published)
{
	int rc;

	if (d->rec.state == state && reason == NULL)
		return;
	rc = journal_ds_set_state(a->j, d->rec.id, state, reason, published);
	if (rc != SL_OK)
		log_err("journal", "dataset=%016llx cannot record state %s: %s",
		    (unsigned long long)d->rec.id, ds_state_name(state), sl_strerror(rc));
	log_info("dataset", "dataset=%016llx name=%s state=%s->%s%s%s",
	    (unsigned long long)d->rec.id, log_q(d->rec.name),
	    ds_state_name(d->rec.state), ds_state_name(state),
	    reason ? " reason=" : "", reason ? log_q(reason) : "");
	d->rec.state = state;
}

/* ---- datasets in memory ------------------------------------------------ */

static void
ads_unload(struct ads *d)
{
	if (d->fd != -1)
		close(d->fd);
	d->fd = -1;
	free(d->files);
	free(d->cst);
	free(d->owner);
	free(d->hash);
	free(d->pend);
	d->pend = NULL;
	d->npend = d->apend = 0;
	d->files = NULL;
	d->cst = NULL;
	d->owner = NULL;
	d->hash = NULL;
	d->loaded = 0;
}

static void
ads_free(struct ads *d)
{
	ads_unload(d);
	free(d);
}

struct load_ctx {
	struct ads	*d;
	int		 bad;
};

static void
load_chunk(uint32_t file, uint32_t chunk, int state, uint64_t hash, int has_hash,
    void *arg)
{
	struct load_ctx	*l = arg;
	struct ads	*d = l->d;
	uint64_t	 g;

	if (file >= d->nfiles || chunk >= d->files[file].nchunks) {
		l->bad = 1;
		return;
	}
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
ads_load(struct agent *a, struct ads *d)
{
	struct load_ctx	l = { d, 0 };
	uint64_t	n = d->rec.nchunks;
	int		rc;

	rc = journal_files_load(a->j, d->rec.id, &d->files, &d->nfiles);
	if (rc != SL_OK)
		return rc;
	d->cst = calloc(n ? n : 1, 1);
	d->owner = calloc(n ? n : 1, 1);
	d->hash = calloc(n ? n : 1, sizeof(uint64_t));
	if (d->cst == NULL || d->owner == NULL || d->hash == NULL) {
		ads_unload(d);
		return SL_ENOMEM;
	}
	d->nacked = 0;
	d->ninflight = 0;
	d->cursor = 0;
	rc = journal_chunks_foreach(a->j, d->rec.id, load_chunk, &l);
	if (rc == SL_OK && l.bad)
		rc = SL_EJOURNAL;
	if (rc != SL_OK) {
		ads_unload(d);
		return rc;
	}
	d->loaded = 1;
	return SL_OK;
}

/* Insert in created order: oldest first, or newest first with
 * priority = newest (the latest acquisition is often the one someone is
 * waiting for). */
void
queue_add(struct agent *a, struct ads *d)
{
	struct ads **pp = &a->queue;
	int newest = a->cfg->priority == PRIO_NEWEST;

	while (*pp && (newest ? (*pp)->rec.created_ns >= d->rec.created_ns :
	    (*pp)->rec.created_ns <= d->rec.created_ns))
		pp = &(*pp)->next;
	d->next = *pp;
	*pp = d;
}

static void
queue_remove(struct agent *a, struct ads *d)
{
	struct ads **pp;

	for (pp = &a->queue; *pp; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	if (a->cur == d)
		a->cur = NULL;
}

struct ads *
ads_new(const struct ds_rec *r)
{
	struct ads *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	d->rec = *r;
	d->rec.nmeta = 0;
	d->rec.meta = NULL;
	d->fd = -1;
	return d;
}

static int
queue_from_journal(const struct ds_rec *r, void *arg)
{
	struct agent	*a = arg;
	struct ads	*d;

	if (DS_PUBLISHED(r->state) || r->state == DS_FAILED)
		return 0;
	d = ads_new(r);
	if (d == NULL)
		return 1;
	queue_add(a, d);
	return 0;
}

/* Flush the acks and counters we keep in memory between journal writes. */
void
flush_counts(struct agent *a, struct ads *d)
{
	int rc;

	d->flushed_at = sl_time_mono();
	if (d->npend > 0) {
		rc = journal_chunks_ack(a->j, d->rec.id, d->pend, d->npend);
		if (rc != SL_OK)
			log_err("journal", "dataset=%016llx ack: %s",
			    (unsigned long long)d->rec.id, sl_strerror(rc));
		d->npend = 0;
	}
	if (d->sent_d == 0 && d->resent_d == 0 && d->nacked_d == 0)
		return;
	rc = journal_ds_count(a->j, d->rec.id, d->sent_d, d->resent_d, d->nacked_d);
	if (rc != SL_OK) {
		log_warnx("journal", "dataset=%016llx counters: %s",
		    (unsigned long long)d->rec.id, sl_strerror(rc));
		return;
	}
	d->rec.chunks_sent += d->sent_d;
	d->rec.chunks_resent += d->resent_d;
	d->rec.chunks_nacked += d->nacked_d;
	d->sent_d = d->resent_d = d->nacked_d = 0;
}


/* Chunk g of d is no longer in flight on its stream (acked or to resend). */
static void
unflight(struct agent *a, struct ads *d, uint64_t g)
{
	struct astream	*as = &a->st[d->owner[g]];
	uint32_t	 f = chunk_file(d, g);
	uint32_t	 len = wire_chunk_len(d->files[f].size, d->rec.chunk_size,
			    (uint32_t)(g - d->files[f].first_chunk));

	if (as->inflight > 0)
		as->inflight--;
	as->inflight_bytes -= len < as->inflight_bytes ? len : as->inflight_bytes;
	d->ninflight--;
}

/* In-flight chunks of d go back to pending; their streams' windows open. */
void
release_inflight(struct agent *a, struct ads *d)
{
	uint64_t g;

	for (g = 0; g < d->rec.nchunks && d->ninflight > 0; g++)
		if ((d->cst[g] & CS_STATE) == CS_INFLIGHT) {
			unflight(a, d, g);
			d->cst[g] = (uint8_t)(d->cst[g] & ~CS_STATE);
		}
	d->ninflight = 0;
	d->cursor = 0;
}

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
fail_dataset(struct agent *a, struct ads *d, const char *reason)
{
	abandon_at_sink(a, d, reason);
	if (d->loaded)
		release_inflight(a, d);
	flush_counts(a, d);
	ds_enter(a, d, DS_FAILED, reason, NULL);
	queue_remove(a, d);
	ads_free(d);
	start_next(a);
}

/* ---- sending ----------------------------------------------------------- */

static int
next_pending(struct ads *d, uint64_t *gp)
{
	uint64_t g;

	for (g = d->cursor; g < d->rec.nchunks; g++)
		if ((d->cst[g] & CS_STATE) == CS_PENDING) {
			d->cursor = g + 1;
			*gp = g;
			return 1;
		}
	d->cursor = d->rec.nchunks;
	return 0;
}

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
		log_err("agent", "dataset=%016llx file=%s chunk=%u: %s",
		    (unsigned long long)d->rec.id, log_q(d->files[f].path), c, err);
		if (rc == SL_ECHANGED)
			fail_dataset(a, d, err);
		else
			link_down(a, err);	/* retry later: may be transient */
		return rc;
	}
	if ((d->cst[g] & CS_HASHED) && d->hash[g] != h) {
		snprintf(err, sizeof(err), "%s/%s: chunk %u changed since it was "
		    "last sent", d->rec.src, d->files[f].path, c);
		fail_dataset(a, d, err);
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
	if (d->cst[g] & CS_SENT)
		d->resent_d++;
	d->sent_d++;
	d->hash[g] = h;
	d->cst[g] = CS_INFLIGHT | CS_HASHED | CS_SENT;
	d->owner[g] = (uint8_t)as->idx;
	as->inflight++;
	as->inflight_bytes += len;
	d->ninflight++;
	return SL_OK;
}

static void send_commit(struct agent *, struct ads *);

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

static void
pump(struct agent *a)
{
	struct ads	*d = a->cur;
	struct astream	*as;
	uint64_t	 g;
	int		 i, progress, n = a->cfg->streams;

	if (a->link != LINK_UP || d == NULL || d->phase != PH_SENDING)
		return;
	do {
		progress = 0;
		for (i = 0; i < n; i++) {
			as = &a->st[(a->rr + i) % n];
			if (as->state != AS_READY || as->buf_busy ||
			    !window_open(a, as))
				continue;
			if (!next_pending(d, &g))
				goto done;
			if (send_chunk(a, as, d, g) != SL_OK)
				return;		/* d or the link may be gone */
			progress = 1;
		}
		a->rr = (a->rr + 1) % n;
	} while (progress);
done:
	if (d->nacked == d->rec.nchunks)
		send_commit(a, d);
}

/* ---- protocol ------------------------------------------------------------ */

static void
send_frame(struct agent *a, struct astream *as, struct wbuf *b)
{
	if (stream_send_wbuf(as->s, b) != SL_OK)
		link_down(a, "cannot queue a frame");
}

static void
send_open(struct agent *a, struct ads *d)
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
		send_frame(a, &a->st[0], &b);
		phase_enter(a, d, PH_OPENING);
	}
	wbuf_free(&b);
out:
	free(o.files);
	free(o.meta);
	ds_rec_free(&full);
	if (rc != SL_OK) {
		char why[128];
		snprintf(why, sizeof(why), "cannot encode OPEN: %s", sl_strerror(rc));
		fail_dataset(a, d, why);
	}
}


/* Pick the oldest dataset this destination may take and OPEN it. */
void
start_next(struct agent *a)
{
	struct ads	*d, *next;
	const char	*here;
	char		 note[600];
	int		 rc;

	if (a->link != LINK_UP || a->cur != NULL)
		return;
	if (want_failback(a)) {
		link_switch(a, "trying a preferred destination again");
		return;
	}
	here = a->dests[a->cur_dest].text;
	for (d = a->queue; d != NULL; d = next) {
		next = d->next;
		/* COMMIT went to another destination: only it may answer. */
		if (d->rec.state == DS_COMMITTING && d->rec.dest[0] &&
		    strcmp(d->rec.dest, here) != 0)
			continue;
		if (!d->loaded) {
			rc = ads_load(a, d);
			if (rc != SL_OK) {
				char why[128];
				snprintf(why, sizeof(why), "cannot load from journal: %s",
				    sl_strerror(rc));
				ds_enter(a, d, DS_FAILED, why, NULL);
				queue_remove(a, d);
				ads_free(d);
				continue;
			}
		}
		if (strcmp(d->rec.dest, here) != 0) {
			if (d->rec.dest[0]) {
				snprintf(note, sizeof(note), "moved from %s to %s (%s "
				    "unavailable); resent from the start there; the "
				    "partial copy at %s is never committed", d->rec.dest,
				    here, d->rec.dest, d->rec.dest);
				log_warnx("dataset", "dataset=%016llx name=%s %s",
				    (unsigned long long)d->rec.id, log_q(d->rec.name), note);
			}
			rc = journal_ds_note(a->j, d->rec.id, d->rec.dest[0] ? note : NULL,
			    here);
			if (rc != SL_OK)
				log_err("journal", "dataset=%016llx bind: %s",
				    (unsigned long long)d->rec.id, sl_strerror(rc));
			snprintf(d->rec.dest, sizeof(d->rec.dest), "%s", here);
		}
		a->cur = d;
		if (d->rec.state == DS_QUEUED)
			ds_enter(a, d, DS_TRANSFERRING, NULL, NULL);
		d->t_start = sl_time_wall();
		d->bytes_at_start = d->rec.bytes_acked;
		send_open(a, d);
		return;
	}
}

/* Per-file digest: XXH3-128 over the chunk hashes as u64 LE. */
static void
file_digest(const struct ads *d, uint32_t f, uint8_t out[WIRE_DIGEST_LEN])
{
	XXH3_state_t	*st = XXH3_createState();
	XXH128_canonical_t canon;
	uint8_t		 le[8];
	uint64_t	 g;

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

static void
send_commit(struct agent *a, struct ads *d)
{
	struct wire_commit	 wc;
	struct wbuf		 b;
	uint8_t			*dig, *tmp = NULL;
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
			fail_dataset(a, d, err);
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
			fail_dataset(a, d, err);
			return;
		}
		d->hash[g] = h;
		d->cst[g] |= CS_HASHED;
	}
	free(tmp);
	dig = malloc((size_t)d->nfiles * WIRE_DIGEST_LEN + 1);
	if (dig == NULL) {
		link_down(a, "out of memory");
		return;
	}
	for (f = 0; f < d->nfiles; f++)
		file_digest(d, f, dig + (size_t)f * WIRE_DIGEST_LEN);
	wc.dsid = d->rec.id;
	wc.nfiles = d->nfiles;
	wc.digests = dig;
	wbuf_init(&b, 0);
	rc = wire_commit_encode(&b, &wc);
	free(dig);
	if (rc != SL_OK) {
		wbuf_free(&b);
		fail_dataset(a, d, "cannot encode COMMIT");
		return;
	}
	phase_enter(a, d, PH_COMMITTING);
	ds_enter(a, d, DS_COMMITTING, NULL, NULL);
	send_frame(a, &a->st[0], &b);
	wbuf_free(&b);
}

/* The sink published d: journal it (hook_pending when a hook is
 * configured, so that a crash right here still runs the hook), hand it to
 * the hook schedule, and move on to the next dataset. */
static void
published(struct agent *a, struct ads *d, const char *path)
{
	uint64_t id = d->rec.id;

	a->backoff = 0;		/* progress */
	ds_enter(a, d, a->hook ? DS_HOOK_PENDING : DS_TRANSFERRED, NULL, path);
	queue_remove(a, d);
	ads_free(d);
	if (a->hook)
		ahook_published(a->hook, id);
	start_next(a);
}

static void
on_have(struct agent *a, struct astream *as, const uint8_t *p, uint32_t len)
{
	struct ads		*d = a->cur;
	struct wire_have	 h;
	struct chunk_ref	*refs;
	uint64_t		 g, nheld = 0, nlost = 0;
	uint32_t		 n = 0, f;
	int			 rc;

	rc = wire_have_decode(p, len, &h);
	if (rc != SL_OK || d == NULL || h.dsid != d->rec.id || d->phase != PH_OPENING) {
		link_down(a, rc != SL_OK ? "malformed HAVE" : "unexpected HAVE");
		return;
	}
	(void)as;
	if (h.status == WIRE_HAVE_PUBLISHED) {
		/* Published in an earlier session whose COMMITTED we missed. */
		char path[SL_MAX_PATH + 1];
		snprintf(path, sizeof(path), "%s", d->rec.name);
		published(a, d, path);
		return;
	}
	if (h.nchunks != d->rec.nchunks) {
		link_down(a, "HAVE chunk count does not match the manifest");
		return;
	}
	refs = calloc(d->rec.nchunks ? d->rec.nchunks : 1, sizeof(*refs));
	if (refs == NULL) {
		link_down(a, "out of memory");
		return;
	}
	for (g = 0; g < d->rec.nchunks; g++) {
		int held = (h.bitmap[g / 8] >> (g % 8)) & 1;
		int st = d->cst[g] & CS_STATE;

		if (held) {
			nheld++;
			if (st != CS_ACKED) {
				f = chunk_file(d, g);
				refs[n].file = f;
				refs[n].chunk = (uint32_t)(g - d->files[f].first_chunk);
				refs[n].hash = d->hash[g];
				refs[n].has_hash = !!(d->cst[g] & CS_HASHED);
				n++;
				d->cst[g] = (uint8_t)((d->cst[g] & ~CS_STATE) | CS_ACKED);
				d->nacked++;
			}
		} else if (st == CS_ACKED) {
			/* The sink lost what it once confirmed (its journal was
			 * reset?): send it again rather than publish a hole. */
			nlost++;
			d->cst[g] = (uint8_t)(d->cst[g] & ~CS_STATE);
			d->nacked--;
		}
	}
	if (n > 0 && (rc = journal_chunks_ack(a->j, d->rec.id, refs, n)) != SL_OK)
		log_err("journal", "dataset=%016llx ack: %s",
		    (unsigned long long)d->rec.id, sl_strerror(rc));
	free(refs);
	if (nlost)
		log_warnx("agent", "dataset=%016llx sink no longer holds %llu chunks "
		    "it acked; resending them", (unsigned long long)d->rec.id,
		    (unsigned long long)nlost);
	log_info("agent", "dataset=%016llx name=%s sink_holds=%llu/%llu chunks",
	    (unsigned long long)d->rec.id, log_q(d->rec.name),
	    (unsigned long long)nheld, (unsigned long long)d->rec.nchunks);
	d->cursor = 0;
	phase_enter(a, d, PH_SENDING);
	pump(a);
}

static void
on_ack(struct agent *a, struct astream *as, const uint8_t *p, uint32_t len)
{
	struct ads		*d = a->cur;
	struct wire_ack		 k;
	struct chunk_ref	*refs;
	uint32_t		 i, n = 0;
	uint64_t		 g;
	int			 rc;

	memset(&k, 0, sizeof(k));
	rc = wire_ack_decode(p, len, &k);
	if (rc != SL_OK) {
		link_down(a, "malformed ACK");
		return;
	}
	if (d == NULL || k.dsid != d->rec.id) {
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
		g = d->files[f].first_chunk + c;
		if ((d->cst[g] & CS_STATE) == CS_ACKED)
			continue;
		if ((d->cst[g] & CS_STATE) == CS_INFLIGHT)
			unflight(a, d, g);
		d->cst[g] = (uint8_t)((d->cst[g] & ~CS_STATE) | CS_ACKED);
		d->nacked++;
		a->acked_bytes += wire_chunk_len(d->files[f].size, d->rec.chunk_size, c);
		refs[n].file = f;
		refs[n].chunk = c;
		refs[n].hash = d->hash[g];
		refs[n].has_hash = !!(d->cst[g] & CS_HASHED);
		n++;
	}
	wire_ack_free(&k);
	d->npend += n;
	if (n > 0)
		a->backoff = 0;		/* progress */
	if (sl_time_mono() - d->flushed_at >= ACK_FLUSH_SECS)
		flush_counts(a, d);
	(void)as;
	pump(a);
}

static void
on_nack(struct agent *a, const uint8_t *p, uint32_t len)
{
	struct ads		*d = a->cur;
	struct wire_nack	 k;
	uint64_t		 g;

	if (wire_nack_decode(p, len, &k) != SL_OK) {
		link_down(a, "malformed NACK");
		return;
	}
	if (d == NULL || k.dsid != d->rec.id)
		return;
	if (k.file >= d->nfiles || k.chunk >= d->files[k.file].nchunks) {
		link_down(a, "NACK for a chunk outside the manifest");
		return;
	}
	g = d->files[k.file].first_chunk + k.chunk;
	log_warnx("agent", "dataset=%016llx file=%s chunk=%u nacked=%.*s, resending",
	    (unsigned long long)d->rec.id, log_q(d->files[k.file].path), k.chunk,
	    (int)k.reason.len, k.reason.p);
	if ((d->cst[g] & CS_STATE) == CS_INFLIGHT) {
		unflight(a, d, g);
		d->cst[g] = (uint8_t)(d->cst[g] & ~CS_STATE);
		if (g < d->cursor)
			d->cursor = g;
		d->nacked_d++;
	}
	pump(a);
}

static void
on_committed(struct agent *a, const uint8_t *p, uint32_t len)
{
	struct ads		*d = a->cur;
	struct wire_committed	 c;
	char			 path[SL_MAX_PATH + 1];
	double			 dt;

	if (wire_committed_decode(p, len, &c) != SL_OK) {
		link_down(a, "malformed COMMITTED");
		return;
	}
	if (d == NULL || c.dsid != d->rec.id || d->phase != PH_COMMITTING)
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

static void
on_error(struct agent *a, const uint8_t *p, uint32_t len)
{
	struct wire_error	 e;
	struct ads		*d = a->cur;
	char			 msg[SL_MAX_MSG + 64];
	int			 code;

	if (wire_error_decode(p, len, &e) != SL_OK) {
		link_down(a, "malformed ERROR");
		return;
	}
	code = -(int)e.code;
	snprintf(msg, sizeof(msg), "sink: %.*s", (int)e.message.len, e.message.p);
	if (e.dsid == 0 || d == NULL || e.dsid != d->rec.id || sl_err_retryable(code)) {
		log_err("agent", "dest=%s error=%s %s", a->dests[a->cur_dest].text, sl_strerror(code),
		    log_q(msg));
		link_down(a, msg);
		return;
	}
	fail_dataset(a, d, msg);
}

static void
send_hello(struct agent *a, struct astream *as, const uint8_t *p, uint32_t len)
{
	struct wire_challenge	ch;
	struct wire_hello	h;
	struct wbuf		b, mac;

	if (wire_challenge_decode(p, len, &ch) != SL_OK) {
		link_down(a, "malformed CHALLENGE");
		return;
	}
	if (ch.min_version > SL_PROTO_VERSION || ch.max_version < SL_PROTO_VERSION) {
		char why[128];
		snprintf(why, sizeof(why), "sink speaks protocol %u..%u, we speak %u",
		    (unsigned)ch.min_version, (unsigned)ch.max_version, (unsigned)SL_PROTO_VERSION);
		link_down(a, why);
		return;
	}
	memset(&h, 0, sizeof(h));
	h.version = SL_PROTO_VERSION;
	h.stream = (uint16_t)as->idx;
	h.nstreams = (uint16_t)a->cfg->streams;
	h.agent_id = wire_str_c(a->cfg->id);
	if (!a->cfg->tls) {
		wbuf_init(&mac, 0);
		if (wire_hello_mac_input(&mac, ch.nonce, &h) != SL_OK ||
		    hmac_sha256(a->cfg->secret, a->cfg->secret_len, mac.p, mac.len,
		    h.mac) != SL_OK) {
			wbuf_free(&mac);
			link_down(a, "cannot compute HELLO MAC");
			return;
		}
		wbuf_free(&mac);
		h.maclen = WIRE_MAC_LEN;
	}
	wbuf_init(&b, 0);
	if (wire_hello_encode(&b, &h) == SL_OK)
		send_frame(a, as, &b);
	wbuf_free(&b);
	as->state = AS_HELLO;
}

static void
link_up(struct agent *a)
{
	struct dest *dd = &a->dests[a->cur_dest];

	/* The backoff is not reset here: a sink that accepts and then refuses
	 * (disk full) would be hammered.  Progress resets it (on_ack,
	 * published), or a session that stays up (tick_cb). */
	ev_timer_stop(a->loop, &a->connect_to);
	if (dd->down_since != 0)
		log_info("link", "dest=%s back after %.0fs down", dd->text,
		    sl_time_wall() - dd->down_since);
	dd->down_since = 0;
	link_enter(a, LINK_UP, NULL);
	start_next(a);
}

static void
as_frame(struct stream *s, const struct wire_hdr *h, const uint8_t *p, void *arg)
{
	struct astream	*as = arg;
	struct agent	*a = as->a;

	(void)s;
	if (as->state == AS_CONNECTING && h->type == WIRE_CHALLENGE) {
		send_hello(a, as, p, h->len);
		return;
	}
	if (as->state == AS_HELLO && h->type == WIRE_WELCOME) {
		as->state = AS_READY;
		if (++a->nready == a->cfg->streams)
			link_up(a);
		return;
	}
	if (h->type == WIRE_ERROR) {
		on_error(a, p, h->len);
		return;
	}
	if (as->state != AS_READY || a->link != LINK_UP) {
		link_down(a, "frame out of order during handshake");
		return;
	}
	switch (h->type) {
	case WIRE_HAVE:		on_have(a, as, p, h->len); break;
	case WIRE_ACK:		on_ack(a, as, p, h->len); break;
	case WIRE_NACK:		on_nack(a, p, h->len); break;
	case WIRE_COMMITTED:	on_committed(a, p, h->len); break;
	default: {
		char why[64];
		snprintf(why, sizeof(why), "unexpected %s frame", wire_type_name(h->type));
		link_down(a, why);
	}
	}
}

static void
as_close(struct stream *s, const char *why, void *arg)
{
	struct astream	*as = arg;
	struct agent	*a = as->a;

	if (as->s == s) {
		as->s = NULL;
		link_down(a, why);
	}
}

const struct stream_ops agent_stream_ops = {
	.on_frame = as_frame,
	.on_close = as_close,
};
/* ---- start / stop --------------------------------------------------------- */

int
agent_start(struct agent **out, struct ev_loop *loop, const struct config *cfg,
    struct journal *j, char *err, size_t errlen)
{
	struct agent	*a;
	int		 rc, i;

	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return SL_ENOMEM;
	a->loop = loop;
	a->cfg = cfg;
	a->j = j;
	rc = parse_destinations(a, err, errlen);
	if (rc == SL_OK)
		rc = parse_maintenance(a, err, errlen);
	if (rc != SL_OK)
		goto fail;
	if (cfg->tls) {
		rc = tls_ctx_new(&a->tls, 0, cfg->ca, cfg->cert, cfg->key, err, errlen);
		if (rc != SL_OK)
			goto fail;
		if (cfg->ciphersuites[0] != '\0') {
			rc = tls_ctx_set_suites(a->tls, cfg->ciphersuites, err, errlen);
			if (rc != SL_OK)
				goto fail;
		}
	}
	if (cfg->tls && cfg->tls_threads > 0 &&
	    stream_pool_start(&a->pool, loop, cfg->tls_threads) != SL_OK) {
		snprintf(err, errlen, "cannot start the TLS threads");
		rc = SL_EIO;
		goto fail;
	}
	for (i = 0; i < SL_MAX_STREAMS; i++) {
		a->st[i].a = a;
		a->st[i].idx = i;
	}
	rc = journal_ds_foreach(j, queue_from_journal, a);
	if (rc != SL_OK) {
		snprintf(err, errlen, "journal %s: %s", journal_path(j), sl_strerror(rc));
		goto fail;
	}
	ev_init(&a->retry, retry_cb);
	a->retry.data = a;
	ev_init(&a->connect_to, connect_timeout_cb);
	a->connect_to.data = a;
	a->spool.pct = -1;
	ev_timer_init(&a->tick, tick_cb, 1.0, 1.0);
	a->tick.data = a;
	ev_timer_start(loop, &a->tick);
	a->link = LINK_DOWN;
	log_info("agent", "id=%s dest=%s streams=%d chunk_size=%u window=%d tls=%s "
	    "maintenance_windows=%d", log_q(cfg->id), log_q(cfg->destination),
	    cfg->streams, cfg->chunk_size, cfg->window, cfg->tls ? "on" : "off",
	    a->nwindows);
	connect_all(a);
	rc = ahook_start(&a->hook, loop, cfg, j, err, errlen);
	if (rc == SL_OK)
		rc = ingest_start(&a->ingest, loop, cfg, ingest_sealed, a, err, errlen);
	if (rc != SL_OK) {
		agent_stop(a);
		return rc;
	}
	(void)mreg_register(agent_metrics, a);	/* one role, one collector: fits */
	*out = a;
	return SL_OK;
fail:
	stream_pool_stop(a->pool);
	tls_ctx_free(a->tls);
	free(a);
	return rc;
}

void
agent_stop(struct agent *a)
{
	struct ads	*d;
	int		 i;

	if (a == NULL)
		return;
	mreg_unregister(agent_metrics, a);
	ev_timer_stop(a->loop, &a->retry);
	ev_timer_stop(a->loop, &a->connect_to);
	ev_timer_stop(a->loop, &a->tick);
	ingest_stop(a->ingest);
	ahook_stop(a->hook);
	if (a->cur)
		flush_counts(a, a->cur);
	for (i = 0; i < a->cfg->streams; i++)
		if (a->st[i].s) {
			stream_close(a->st[i].s, "shutting down");
			a->st[i].s = NULL;
		}
	/* Streams are freed by the reaper on the next loop pass; their send
	 * buffers must outlive them, so run one pass before freeing. */
	ev_run(a->loop, EVRUN_NOWAIT);
	stream_pool_stop(a->pool);	/* lets the last offloaded streams go */
	ev_run(a->loop, EVRUN_NOWAIT);
	for (i = 0; i < SL_MAX_STREAMS; i++)
		free(a->st[i].buf);
	while ((d = a->queue) != NULL) {
		a->queue = d->next;
		ads_free(d);
	}
	tls_ctx_free(a->tls);
	free(a);
}
