/*
 * gcommit.h: the sink's group commit (agent/sink/sink_commit.c).
 *
 * Every chunk the sink writes joins the open batch (gcommit_push).  Once
 * per loop pass the caller hands the batch over (gcommit_flush): if the
 * committer thread is idle it takes the batch, fdatasyncs its files (one
 * syncfs when there are many: fsx_sync_fds; or when one is new, newent,
 * since fdatasync does not make a new directory entry durable), records its chunks in one
 * LMDB txn, closes the fds the batch owns and wakes the loop, where
 * done() runs with the batch and its result.  Whatever was written
 * meanwhile forms the next batch: the busier the sink, the larger the
 * batch, and the loop never waits for the disk.
 *
 * done() is where ACKs are promised, so it runs only once the batch's
 * chunks are durable (rc SL_OK); rc != SL_OK means none of them may be
 * acknowledged.
 *
 * Threads: every call is for the loop thread; the committer thread only
 * syncs, journals and closes.
 */
#ifndef GCOMMIT_H
#define GCOMMIT_H

#include <stdint.h>
#include <ev.h>
#include "journal.h"

struct gcommit;

struct gc_ent {
	void		*ds;		/* the caller's dataset */
	uint64_t	 dsid;
	uint32_t	 file, chunk, len;
	uint64_t	 hash;		/* XXH3-64, journaled */
	int		 fd;
	int		 owns_fd;	/* closed after the sync; 0: an earlier
					 * entry of the same file owns fd */
	uint64_t	 conn;		/* the caller's: whom to acknowledge */
	int		 newent;	/* the file may have been created since
					 * the last sync: its directory entry
					 * (and its parents') is made durable
					 * too, by one syncfs for the batch */
	int		 cached;	/* fd opened without O_DIRECT: synced
					 * itself, no need to ask (sink_commit.c) */
	int		 keep;		/* owns_fd but not closed after the sync:
					 * done() gets it (kept to publication) */
};

/* A batch is durable (rc SL_OK) or failed (rc says why).  ents are valid
 * during the call only; their fds are closed already. */
typedef void gc_done_fn(const struct gc_ent *ents, uint32_t n, int rc, void *arg);

/* Start the committer thread.  SL_OK, SL_ENOMEM, SL_EIO (pthread). */
int	gcommit_start(struct gcommit **out, struct ev_loop *loop,
	    struct journal *j, gc_done_fn *done, void *arg);
/* Commit everything pending (done() runs for it), then stop the thread. */
void	gcommit_stop(struct gcommit *g);

/* Add a written chunk to the open batch.  SL_OK or SL_ENOMEM (e not
 * taken: the caller still owns its fd). */
int	gcommit_push(struct gcommit *g, const struct gc_ent *e);
/* The fd the open batch already has for (ds, file), or -1; looks at the
 * last few entries only (consecutive chunks of a file share one fd). */
int	gcommit_fd(const struct gcommit *g, const void *ds, uint32_t file);
/* Does the open batch or the one being committed hold a chunk of ds? */
int	gcommit_holds(const struct gcommit *g, const void *ds);
/* Hand the open batch to the committer if it is idle (else it waits for
 * the next flush; done() flushes too). */
void	gcommit_flush(struct gcommit *g);
/* Wait until nothing is pending; done() runs for each batch. */
void	gcommit_drain(struct gcommit *g);

#endif
