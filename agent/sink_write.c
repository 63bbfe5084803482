/*
 * sink_write.c: the sink's chunk writers (swrite.h).
 *
 * A FIFO of jobs under one mutex, nthreads threads taking from it, and a
 * list of finished jobs that an ev_async hands back to the loop.  A job
 * finishes either on its writer (written, and its bytes hashed or not
 * wanted) or later on whichever thread hashes it after the chunks before
 * it (verifier_feed parked it): that thread calls job_release.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "fsx.h"
#include "log.h"
#include "swrite.h"
#include "sluice.h"
#include "verify.h"

struct swriter {
	struct ev_loop	*loop;
	struct verifier	*ver;
	void		(*done)(struct swjob *, void *);
	void		*arg;
	pthread_t	*th;
	int		 nth;
	pthread_mutex_t	 mu;
	pthread_cond_t	 work, idle;
	struct swjob	*head, **tailp;	/* queued */
	struct swjob	*fin;		/* finished, for the loop */
	unsigned	 pending;	/* queued .. through done(); loop only */
	unsigned	 busy;		/* writers inside a job */
	int		 stop;
	ev_async	 wake;
};

/* The job's bytes are no longer needed: back to the loop. */
static void
job_release(void *tok)
{
	struct swjob	*j = tok;
	struct swriter	*w = j->w;

	pthread_mutex_lock(&w->mu);
	j->next = w->fin;
	w->fin = j;
	pthread_cond_broadcast(&w->idle);
	pthread_mutex_unlock(&w->mu);
	ev_async_send(w->loop, &w->wake);
}

static void *
writer_main(void *arg)
{
	struct swriter	*w = arg;
	struct swjob	*j;
	uint8_t		*bounce = NULL;
	size_t		 blen = 0;
	const uint8_t	*p;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (w->head == NULL && !w->stop)
			pthread_cond_wait(&w->work, &w->mu);
		if ((j = w->head) == NULL)
			break;		/* stopping, nothing queued */
		if ((w->head = j->next) == NULL)
			w->tailp = &w->head;
		w->busy++;
		pthread_mutex_unlock(&w->mu);

		/* An unaligned buffer (a frame not at the head of its
		 * stream's input) goes through a bounce copy. */
		p = NULL;
		if (fsx_dio_aligned(NULL, j->len, j->off) &&
		    !fsx_dio_aligned(j->p, j->len, j->off)) {
			if (blen < j->len) {
				free(bounce);
				blen = 0;
				if ((bounce = fsx_dio_alloc(j->len)) != NULL)
					blen = j->len;
			}
			p = bounce;
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
		pthread_mutex_lock(&w->mu);
		w->busy--;
		pthread_cond_broadcast(&w->idle);
	}
	pthread_mutex_unlock(&w->mu);
	free(bounce);
	return NULL;
}

/* Hand finished jobs to done(), on the loop thread. */
static void
run_done(struct swriter *w)
{
	struct swjob *j, *n;

	pthread_mutex_lock(&w->mu);
	j = w->fin;
	w->fin = NULL;
	pthread_mutex_unlock(&w->mu);
	for (; j != NULL; j = n) {
		n = j->next;
		w->pending--;
		w->done(j, w->arg);
	}
}

static void
wake_cb(struct ev_loop *loop, ev_async *a, int revents)
{
	(void)loop; (void)revents;
	run_done(a->data);
}

int
swrite_start(struct swriter **out, struct ev_loop *loop, int nthreads,
    struct verifier *ver, void (*done)(struct swjob *, void *), void *arg)
{
	struct swriter	*w;
	int		 i;

	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->th = calloc((size_t)nthreads, sizeof(*w->th))) == NULL) {
		free(w);
		return SL_ENOMEM;
	}
	w->loop = loop;
	w->ver = ver;
	w->done = done;
	w->arg = arg;
	w->tailp = &w->head;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->work, NULL);
	pthread_cond_init(&w->idle, NULL);
	ev_async_init(&w->wake, wake_cb);
	w->wake.data = w;
	ev_async_start(loop, &w->wake);
	ev_unref(loop);		/* the writers alone do not keep the loop */
	for (i = 0; i < nthreads; i++) {
		if (pthread_create(&w->th[i], NULL, writer_main, w) != 0) {
			w->nth = i;
			swrite_stop(w);
			return SL_EIO;
		}
		w->nth = i + 1;
	}
	*out = w;
	return SL_OK;
}

void
swrite_queue(struct swriter *w, struct swjob *j)
{
	j->w = w;
	j->next = NULL;
	j->err = 0;
	verifier_ref(w->ver, j->vd);	/* j->vd outlives a drop until fed */
	w->pending++;
	pthread_mutex_lock(&w->mu);
	*w->tailp = j;
	w->tailp = &j->next;
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->mu);
}

unsigned
swrite_pending(const struct swriter *w)
{
	return w->pending;
}

void
swrite_drain(struct swriter *w)
{
	while (w->pending > 0) {
		run_done(w);
		if (w->pending == 0)
			break;
		pthread_mutex_lock(&w->mu);
		if (w->fin == NULL && w->head == NULL && w->busy == 0) {
			/* What is left is parked behind chunks that will not
			 * come now. */
			pthread_mutex_unlock(&w->mu);
			(void)verifier_expire(w->ver, 1e300);
			continue;
		}
		/* job_release and a writer leaving a job both signal idle. */
		if (w->fin == NULL)
			pthread_cond_wait(&w->idle, &w->mu);
		pthread_mutex_unlock(&w->mu);
	}
}

void
swrite_stop(struct swriter *w)
{
	int i;

	if (w == NULL)
		return;
	swrite_drain(w);
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_broadcast(&w->work);
	pthread_mutex_unlock(&w->mu);
	for (i = 0; i < w->nth; i++)
		pthread_join(w->th[i], NULL);
	ev_ref(w->loop);
	ev_async_stop(w->loop, &w->wake);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->work);
	pthread_cond_destroy(&w->idle);
	free(w->th);
	free(w);
}
