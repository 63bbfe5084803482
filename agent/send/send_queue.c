/*
 * send_queue.c: the agent's datasets in memory.
 *
 * The queue holds every dataset not yet published nor failed, oldest
 * first (or newest first with priority = newest); up to max_in_flight of
 * them are on the wire (a->act, chosen by lane: send_sched.c).  Each one's
 * phase follows the protocol on its own:
 *
 *   IDLE --OPEN--> OPENING --HAVE--> SENDING --all acked, COMMIT-->
 *   COMMITTING --COMMITTED--> (journal: transferred, dropped)
 *
 * A loaded dataset keeps one byte per chunk (pending, in flight, acked,
 * plus flags) and its hash; the journal holds only what must survive a
 * crash: which chunks the sink confirmed, and the counters.  Acks and
 * counters are batched in memory and journaled by flush_counts, which the
 * session calls often enough (and always before COMMIT, on link loss and
 * at stop).
 *
 * This file decides nothing about the wire: send_xfer.c says what was
 * sent, acked, refused or lost, and this records it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include <unistd.h>

#include "log.h"
#include "sltime.h"
#include "send_int.h"
#include "send_queue.h"
#include "send_sched.h"
#include "send_source.h"

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
phase_enter(struct ads *d, int phase)
{
	log_debug("agent", "dataset=%016llx phase=%s->%s",
	    (unsigned long long)d->rec.id, phase_name(d->phase), phase_name(phase));
	d->phase = phase;
}

/* Journal a dataset state change; the in-memory copy follows. */
void
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

void
ads_free(struct ads *d)
{
	if (d == NULL)
		return;
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

int
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

/* Per-file digest: XXH3-128 over the chunk hashes as u64 LE (PROTOCOL.md
 * COMMIT); the push (send_xfer.c) and the pull (send_pull_xfer.c) send it. */
void
ads_file_digest(const struct ads *d, uint32_t f, uint8_t out[WIRE_DIGEST_LEN])
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

/* ---- the queue ----------------------------------------------------------- */

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

/* d is no longer in flight (its slot is free). */
static void
act_remove(struct agent *a, struct ads *d)
{
	int i;

	for (i = 0; i < a->nact; i++)
		if (a->act[i] == d) {
			a->act[i] = a->act[--a->nact];
			a->act[a->nact] = NULL;
			return;
		}
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
	act_remove(a, d);
}

struct ads *
queue_active(struct agent *a, uint64_t id)
{
	int i;

	for (i = 0; i < a->nact; i++)
		if (a->act[i]->rec.id == id)
			return a->act[i];
	return NULL;
}

static int
queue_from_journal(const struct ds_rec *r, void *arg)
{
	struct agent	*a = arg;
	struct ads	*d;

	if (DS_PUBLISHED(r->state) || r->state == DS_FAILED)
		return 0;
	if (strcmp(r->dest, DS_ROUTE_JOB) == 0)	/* pulled, never pushed (send_pull.c) */
		return 0;
	d = ads_new(r);
	if (d == NULL)
		return 1;
	queue_add(a, d);
	return 0;
}

int
queue_load(struct agent *a)
{
	return journal_ds_foreach(a->j, queue_from_journal, a);
}

struct ads *
queue_find(struct agent *a, uint64_t id)
{
	struct ads *d;

	for (d = a->queue; d && d->rec.id != id; d = d->next)
		;
	return d;
}

void
queue_drop(struct agent *a, struct ads *d, int state, const char *reason,
    const char *published)
{
	ds_enter(a, d, state, reason, published);
	queue_remove(a, d);
	ads_free(d);
}

void
queue_free(struct agent *a)
{
	struct ads *d;

	while ((d = a->queue) != NULL) {
		a->queue = d->next;
		ads_free(d);
	}
	a->nact = 0;
}

/*
 * Bind d to destination here.  A move from another one is journaled with
 * its history note, and what the old destination acked is pending again
 * here (journal_ds_rebind): HAVE from here says what here holds, so "the
 * sink no longer holds chunks it acked" is only ever about this sink.
 * The old destination keeps its partial copy: the dataset resumes from
 * it if it comes back, and the sink is told to release it once the
 * dataset is published elsewhere (send_xfer.c, release_left).
 */
static int
queue_rebind(struct agent *a, struct ads *d, const char *here)
{
	char		 note[1200];
	uint64_t	 g, was = d->nacked;
	int		 rc;

	if (d->rec.dest[0])
		snprintf(note, sizeof(note), "moved from %s to %s (%s unavailable); "
		    "%llu chunks acked there are sent again here unless %s holds "
		    "them; %s keeps its partial copy: resumed there if the dataset "
		    "comes back, released once it is published elsewhere (or by "
		    "that sink's partial_ttl)",
		    d->rec.dest, here, d->rec.dest, (unsigned long long)was, here,
		    d->rec.dest);
	rc = journal_ds_rebind(a->j, d->rec.id, d->rec.dest[0] ? note : NULL, here);
	if (rc != SL_OK)
		return rc;
	if (d->rec.dest[0]) {
		log_warnx("dataset", "dataset=%016llx name=%s %s",
		    (unsigned long long)d->rec.id, log_q(d->rec.name), note);
		for (g = 0; g < d->rec.nchunks; g++)
			if ((d->cst[g] & CS_STATE) == CS_ACKED)
				d->cst[g] = (uint8_t)(d->cst[g] & ~CS_STATE);
		d->nacked = 0;
		d->npend = 0;		/* acks of the old one: not for here */
		d->rec.chunks_acked = 0;
		d->rec.bytes_acked = 0;
	}
	snprintf(d->rec.dest, sizeof(d->rec.dest), "%s", here);
	return SL_OK;
}

/* d waits, and destination here may take it. */
static int
eligible(const struct ads *d, const char *here)
{
	if (d->phase != PH_IDLE)
		return 0;	/* in flight */
	/* COMMIT went to another destination: only it may answer. */
	return !(d->rec.state == DS_COMMITTING && d->rec.dest[0] &&
	    strcmp(d->rec.dest, here) != 0);
}

void
queue_waiting(struct agent *a, const char *here, double now, int waiting[2])
{
	struct ads *d;

	waiting[0] = waiting[1] = 0;
	for (d = a->queue; d != NULL; d = d->next)
		if (eligible(d, here))
			waiting[sched_lane(a, d, now) == LANE_BACKLOG]++;
}

/* Is d's COMMIT waiting for an answer from here alone? */
static int
committing_here(const struct ads *d, const char *here)
{
	return d->phase == PH_IDLE && d->rec.state == DS_COMMITTING &&
	    strcmp(d->rec.dest, here) == 0;
}

/* Put the first dataset of lane this destination may take in flight
 * (lane -1: one whose COMMIT went here, of either lane). */
struct ads *
queue_next(struct agent *a, const char *here, int lane, double now)
{
	struct ads	*d, *next;
	int		 rc;

	if (a->nact >= SEND_MAX_IN_FLIGHT)
		return NULL;
	for (d = a->queue; d != NULL; d = next) {
		next = d->next;
		if (lane < 0 ? !committing_here(d, here) :
		    !eligible(d, here) || sched_lane(a, d, now) != lane)
			continue;
		if (!d->loaded) {
			rc = ads_load(a, d);
			if (rc != SL_OK) {
				char why[128];
				snprintf(why, sizeof(why), "cannot load from journal: %s",
				    sl_strerror(rc));
				queue_drop(a, d, DS_FAILED, why, NULL);
				continue;
			}
		}
		if (strcmp(d->rec.dest, here) != 0) {
			rc = queue_rebind(a, d, here);
			if (rc != SL_OK) {
				log_err("journal", "dataset=%016llx bind to %s: %s",
				    (unsigned long long)d->rec.id, here, sl_strerror(rc));
				continue;	/* not sent unbound: tried again later */
			}
		}
		d->lane = lane < 0 ? sched_lane(a, d, now) : lane;
		d->left = d->rec.bytes;
		d->admitted = ++a->admit_seq;
		a->act[a->nact++] = d;
		if (d->rec.state == DS_QUEUED)
			ds_enter(a, d, DS_TRANSFERRING, NULL, NULL);
		d->t_start = sl_time_wall();
		d->bytes_at_start = d->rec.bytes_acked;
		return d;
	}
	return NULL;
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

/* ---- chunk states -------------------------------------------------------- */

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
static void
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

/* Stop working on d: it failed for a reason an operator must see. */
void
queue_fail(struct agent *a, struct ads *d, const char *reason)
{
	if (d->loaded)
		release_inflight(a, d);
	flush_counts(a, d);
	queue_drop(a, d, DS_FAILED, reason, NULL);
}

void
queue_park(struct agent *a)
{
	struct ads *d;

	while (a->nact > 0) {
		d = a->act[--a->nact];
		a->act[a->nact] = NULL;
		release_inflight(a, d);
		flush_counts(a, d);
		phase_enter(d, PH_IDLE);	/* queue_next picks it again */
	}
}

int
chunk_next(struct ads *d, uint64_t *gp)
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

void
chunk_sent(struct ads *d, struct astream *as, uint64_t g, uint64_t h, uint32_t len)
{
	if (d->cst[g] & CS_SENT)
		d->resent_d++;
	d->sent_d++;
	d->hash[g] = h;
	d->cst[g] = CS_INFLIGHT | CS_HASHED | CS_SENT;
	d->owner[g] = (uint8_t)as->idx;
	as->inflight++;
	as->inflight_bytes += len;
	d->ninflight++;
}

/* One logic for ACK and HAVE: a chunk the sink holds durable. */
int
chunk_ack(struct agent *a, struct ads *d, uint32_t f, uint32_t c,
    struct chunk_ref *ref)
{
	uint64_t g = d->files[f].first_chunk + c;

	if ((d->cst[g] & CS_STATE) == CS_ACKED)
		return 0;
	if ((d->cst[g] & CS_STATE) == CS_INFLIGHT)
		unflight(a, d, g);
	d->cst[g] = (uint8_t)((d->cst[g] & ~CS_STATE) | CS_ACKED);
	d->nacked++;
	ref->file = f;
	ref->chunk = c;
	ref->hash = d->hash[g];
	ref->has_hash = !!(d->cst[g] & CS_HASHED);
	return 1;
}

void
chunk_nack(struct agent *a, struct ads *d, uint64_t g)
{
	if ((d->cst[g] & CS_STATE) != CS_INFLIGHT)
		return;
	unflight(a, d, g);
	d->cst[g] = (uint8_t)(d->cst[g] & ~CS_STATE);
	if (g < d->cursor)
		d->cursor = g;
	d->nacked_d++;
}

int
queue_have(struct agent *a, struct ads *d, const uint8_t *bitmap,
    uint64_t *nheld, uint64_t *nlost)
{
	struct chunk_ref	*refs;
	uint64_t		 g;
	uint32_t		 n = 0, f;
	int			 rc;

	*nheld = *nlost = 0;
	refs = calloc(d->rec.nchunks ? d->rec.nchunks : 1, sizeof(*refs));
	if (refs == NULL)
		return SL_ENOMEM;
	for (g = 0; g < d->rec.nchunks; g++) {
		int held = (bitmap[g / 8] >> (g % 8)) & 1;

		if (held) {
			(*nheld)++;
			if ((d->cst[g] & CS_STATE) == CS_ACKED)
				continue;
			f = chunk_file(d, g);
			n += (uint32_t)chunk_ack(a, d, f,
			    (uint32_t)(g - d->files[f].first_chunk), &refs[n]);
		} else if ((d->cst[g] & CS_STATE) == CS_ACKED) {
			/* The sink lost what it once confirmed (its journal was
			 * reset?): send it again rather than publish a hole. */
			(*nlost)++;
			d->cst[g] = (uint8_t)(d->cst[g] & ~CS_STATE);
			d->nacked--;
		}
	}
	if (n > 0 && (rc = journal_chunks_ack(a->j, d->rec.id, refs, n)) != SL_OK)
		log_err("journal", "dataset=%016llx ack: %s",
		    (unsigned long long)d->rec.id, sl_strerror(rc));
	free(refs);
	return SL_OK;
}
