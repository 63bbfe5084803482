/*
 * send_queue.h: the agent's datasets in memory (send_queue.c): the queue,
 * each dataset's phase on the wire, its chunks' states, and what of it
 * reaches the journal.  No I/O but the journal: the session above decides
 * what to send and calls these to record it.  Loop thread only.
 */
#ifndef SEND_QUEUE_H
#define SEND_QUEUE_H

#include <stdint.h>
#include "journal.h"
#include "wire.h"

struct agent;
struct ads;
struct astream;

/* A dataset record in memory for r (meta not copied), chunks not loaded.
 * Caller queues it (queue_add) or frees it; NULL when out of memory. */
struct ads *	ads_new(const struct ds_rec *r);
/* Load d's files and chunk states from the journal (the push path's
 * queue, and a pull session, send_pull_xfer.c).  SL_OK; SL_EJOURNAL when a
 * chunk record lies outside the manifest, SL_ENOMEM, or the journal's
 * error; then d is left unloaded. */
int		ads_load(struct agent *a, struct ads *d);
/* Free d and what it holds (loaded or not).  NULL is fine. */
void		ads_free(struct ads *d);
/* File f's digest for COMMIT: XXH3-128 over its chunk hashes (u64 LE). */
void		ads_file_digest(const struct ads *d, uint32_t f,
		    uint8_t out[WIRE_DIGEST_LEN]);
/* Log d's phase change (enum phase) and set it. */
void	phase_enter(struct ads *d, int phase);
/* Journal d's state change (DS_*, with reason and published path, either
 * may be NULL) and log it; the in-memory copy follows even when the
 * journal refuses (logged). */
void	ds_enter(struct agent *a, struct ads *d, int state, const char *reason,
	    const char *published);

/* Queue every journaled dataset neither published nor failed.  SL_OK, the
 * journal's error, or SL_ENOMEM. */
int	queue_load(struct agent *a);
/* Queue d (owned by the queue from now on): oldest first, or newest first
 * with priority = newest. */
void	queue_add(struct agent *a, struct ads *d);
/* The queued dataset with this id, or NULL. */
struct ads *	queue_find(struct agent *a, uint64_t id);
/* How many datasets wait that destination here may take, by lane
 * (waiting[0] live, waiting[1] backlog; sched_lane at now). */
void	queue_waiting(struct agent *a, const char *here, double now, int waiting[2]);
/* The first waiting dataset of lane (in queue order) destination here
 * may take, loaded and bound to here, put in flight (a->act, its lane
 * fixed) and transferring; NULL when there is none or every slot is
 * taken.  One that cannot be loaded is failed on the way. */
struct ads *	queue_next(struct agent *a, const char *here, int lane, double now);
/* lane for queue_next: a dataset whose COMMIT went to here (only here can
 * answer it), of either lane. */
#define QUEUE_COMMITTED_HERE	(-1)
/* The dataset in flight with this id, or NULL. */
struct ads *	queue_active(struct agent *a, uint64_t id);
/* d leaves the queue (and its slot in flight) in state (with reason,
 * published as for ds_enter) and is freed. */
void	queue_drop(struct agent *a, struct ads *d, int state, const char *reason,
	    const char *published);
/* d failed for reason: its chunks out of flight, its counters journaled,
 * journaled as failed, dropped. */
void	queue_fail(struct agent *a, struct ads *d, const char *reason);
/* The session closed (link_ops.closed): every dataset in flight has its
 * in-flight chunks back to pending, its acks journaled, and waits, idle,
 * to be picked again. */
void	queue_park(struct agent *a);
/* Free every queued dataset (at stop). */
void	queue_free(struct agent *a);
/* Journal the acks and counters kept in memory between journal writes. */
void	flush_counts(struct agent *a, struct ads *d);

/* Chunk states of a loaded dataset.  The next pending chunk from the
 * cursor into *g: 0 when there is none. */
int	chunk_next(struct ads *d, uint64_t *g);
/* Chunk g (len bytes, XXH3-64 h) was queued on stream as. */
void	chunk_sent(struct ads *d, struct astream *as, uint64_t g, uint64_t h,
	    uint32_t len);
/* Chunk c of file f is acked by the sink: out of flight, and *ref names it
 * for the journal.  0 when it was acked already (ref untouched). */
int	chunk_ack(struct agent *a, struct ads *d, uint32_t f, uint32_t c,
	    struct chunk_ref *ref);
/* Chunk g was refused (NACK): back to pending if it was in flight. */
void	chunk_nack(struct agent *a, struct ads *d, uint64_t g);
/* Apply the sink's HAVE bitmap (one bit per chunk) to d and journal the
 * newly acked chunks; *nheld and *nlost count what it holds and what it
 * lost of what it once acked.  SL_OK or SL_ENOMEM (nothing changed). */
int	queue_have(struct agent *a, struct ads *d, const uint8_t *bitmap,
	    uint64_t *nheld, uint64_t *nlost);

#endif
