/*
 * sink_write.c: the sink's chunk writers (swrite.h), a workq (workq.h).
 *
 * A job finishes either on its writer (written, and its bytes hashed or
 * not wanted) or later on whichever thread hashes it after the chunks
 * before it (verifier_feed parked it): that thread calls job_release.
 */
#include <errno.h>
#include <stdlib.h>

#include "fsx.h"
#include "log.h"
#include "swrite.h"
#include "sluice.h"
#include "verify.h"
#include "workq.h"

struct swriter {
	struct workq	*q;
	struct verifier	*ver;
	void		(*done)(struct swjob *, void *);
	void		*arg;
	struct bounce {			/* per writer */
		uint8_t	*p;
		size_t	 len;
	}		*bounce;
	int		 nth;
};

/* The job's bytes are no longer needed: back to the loop. */
static void
job_release(void *tok)
{
	struct swjob *j = tok;

	workq_finish(j->w->q, &j->wq);
}

static void
write_job(struct wq_job *wj, int me, void *arg)
{
	struct swriter	*w = arg;
	struct swjob	*j = WQ_CONTAINER(wj, struct swjob, wq);
	struct bounce	*b = &w->bounce[me];
	const uint8_t	*p;

	/* An unaligned buffer (a frame not at the head of its stream's
	 * input) goes through a bounce copy. */
	p = NULL;
	if (fsx_dio_aligned(NULL, j->len, j->off) &&
	    !fsx_dio_aligned(j->p, j->len, j->off)) {
		if (b->len < j->len) {
			free(b->p);
			b->len = 0;
			if ((b->p = fsx_dio_alloc(j->len)) != NULL)
				b->len = j->len;
		}
		p = b->p;
	}
	j->err = fsx_pwrite_all(j->fd, j->p, j->len, j->off, (void *)p) == -1 ?
	    (errno ? errno : EIO) : 0;
	if (j->err != 0 || j->vd == NULL) {
		/* Its successors must not wait for it: it comes again. */
		if (j->err != 0)
			verifier_giveup(w->ver, j->vd, j->file,
			    "a chunk of it failed to write");
		verifier_unref(w->ver, j->vd);
		job_release(j);
	} else if (verifier_feed(w->ver, j->vd, j->file, j->chunk, j->p,
	    j->len, j->hash, job_release, j))
		job_release(j);
}

static void
job_done(struct wq_job *wj, void *arg)
{
	struct swriter	*w = arg;

	w->done(WQ_CONTAINER(wj, struct swjob, wq), w->arg);
}

int
swrite_start(struct swriter **out, struct ev_loop *loop, int nthreads,
    struct verifier *ver, void (*done)(struct swjob *, void *), void *arg)
{
	struct swriter	*w;
	int		 rc;

	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->bounce = calloc((size_t)nthreads, sizeof(*w->bounce))) == NULL) {
		free(w);
		return SL_ENOMEM;
	}
	w->ver = ver;
	w->done = done;
	w->arg = arg;
	w->nth = nthreads;
	rc = workq_start(&w->q, loop, nthreads, NULL, write_job, job_done, w);
	if (rc != SL_OK) {
		free(w->bounce);
		free(w);
		return rc;
	}
	*out = w;
	return SL_OK;
}

void
swrite_queue(struct swriter *w, struct swjob *j)
{
	j->w = w;
	j->err = 0;
	verifier_ref(w->ver, j->vd);	/* j->vd outlives a drop until fed */
	workq_push(w->q, &j->wq);
}

unsigned
swrite_pending(const struct swriter *w)
{
	return workq_pending(w->q);
}

void
swrite_drain(struct swriter *w)
{
	for (;;) {
		workq_reap(w->q);
		if (workq_pending(w->q) == 0)
			return;
		/* Nothing written nor being written: what is left is parked
		 * behind chunks that will not come now. */
		if (!workq_wait(w->q))
			(void)verifier_expire(w->ver, 1e300);
	}
}

void
swrite_stop(struct swriter *w)
{
	int i;

	if (w == NULL)
		return;
	swrite_drain(w);
	workq_stop(w->q);
	for (i = 0; i < w->nth; i++)
		free(w->bounce[i].p);
	free(w->bounce);
	free(w);
}
