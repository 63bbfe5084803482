/*
 * swrite.h: the sink's chunk writers (agent/sink/sink_write.c).
 *
 * An O_DIRECT pwrite of an 8 MiB chunk waits on the disk for about 13 ms.
 * On the loop thread that wait is time in which no socket is read: with
 * TLS on it was half of the sink loop's wall time.  The writers take those
 * writes off the loop, without a copy.  The loop verifies a chunk, holds
 * its stream's input buffer (stream_hold) and queues a job.  A writer
 * pwrites it and hands the bytes to verifier_feed (verify.h).  Once they
 * are no longer needed (hashed, or not wanted) the job comes back to the
 * loop through done(), which releases the stream and puts the chunk in
 * the group commit.
 *
 * Each job has its own fd: the O_DIRECT flag that fsx_pwrite_all turns
 * off for a tail belongs to the open file, and a group commit closes its
 * fds when it is done.
 *
 * Threads: every call is for the loop thread; done() runs there.
 */
#ifndef SWRITE_H
#define SWRITE_H

#include <stdint.h>
#include <sys/types.h>
#include <ev.h>
#include "workq.h"

struct swriter;
struct verifier;
struct vds;

struct swjob {
	/* Set by the caller. */
	int		 fd;		/* the caller closes it after done() */
	const uint8_t	*p;		/* valid until done() */
	uint32_t	 len;
	off_t		 off;
	struct vds	*vd;		/* hash from memory (verifier_feed), or NULL */
	uint32_t	 file, chunk;
	uint64_t	 hash;		/* XXH3-64, checked on arrival */
	void		*arg;
	/* Set by the writer. */
	int		 err;		/* errno of the write, 0 when written */
	/* The writers' own. */
	struct wq_job	 wq;
	struct swriter	*w;
};

/* Start nthreads writers.  SL_OK, SL_ENOMEM, SL_EIO (pthread). */
int	swrite_start(struct swriter **out, struct ev_loop *loop, int nthreads,
	    struct verifier *ver, void (*done)(struct swjob *j, void *arg),
	    void *arg);
/* Queue j; it is the writers' until done(j). */
void	swrite_queue(struct swriter *w, struct swjob *j);
/* Jobs queued and not yet through done(). */
unsigned swrite_pending(const struct swriter *w);
/* Run done() here for every job until none is left (parked chunks are
 * given up: verifier_expire).  For shutdown, before the streams go. */
void	swrite_drain(struct swriter *w);
/* Drain, then join the threads and free w.  NULL is fine. */
void	swrite_stop(struct swriter *w);

#endif
