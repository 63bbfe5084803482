/*
 * workq.c: a pool of worker threads fed by the event loop (workq.h).
 *
 * One mutex guards a FIFO of queued jobs and a list of finished ones;
 * "work" wakes a worker, "idle" wakes workq_wait, and an ev_async wakes
 * the loop for the finished list.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "sluice.h"
#include "workq.h"

struct workq {
	struct ev_loop	*loop;
	wq_run_fn	*run;
	wq_done_fn	*done;
	void		*arg;
	char		 name[16];	/* pthread_setname_np's limit */
	pthread_t	*th;
	int		 nth;

	pthread_mutex_t	 mu;
	pthread_cond_t	 work;		/* a job is queued, or stop */
	pthread_cond_t	 idle;		/* a job finished, or a worker left run() */
	struct wq_job	*head, **tailp;	/* queued */
	struct wq_job	*fin;		/* finished, for the loop */
	unsigned	 busy;		/* workers inside run() */
	int		 started;	/* workers' indexes handed out */
	int		 stop;
	ev_async	 wake;

	unsigned	 pending;	/* pushed .. through done(); loop only */
};

static void *
worker_main(void *arg)
{
	struct workq	*q = arg;
	struct wq_job	*j;
	int		 me;

	if (q->name[0] != '\0')
		(void)pthread_setname_np(pthread_self(), q->name);
	pthread_mutex_lock(&q->mu);
	me = q->started++;
	for (;;) {
		while (q->head == NULL && !q->stop)
			pthread_cond_wait(&q->work, &q->mu);
		if (q->stop)		/* what is still queued goes to done() */
			break;
		j = q->head;
		if ((q->head = j->next) == NULL)
			q->tailp = &q->head;
		q->busy++;
		pthread_mutex_unlock(&q->mu);

		q->run(j, me, q->arg);

		pthread_mutex_lock(&q->mu);
		q->busy--;
		pthread_cond_broadcast(&q->idle);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

static void
wake_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	(void)loop; (void)revents;
	workq_reap(w->data);
}

int
workq_start(struct workq **out, struct ev_loop *loop, int nthreads,
    const char *name, wq_run_fn *run, wq_done_fn *done, void *arg)
{
	struct workq	*q;
	sigset_t	 all, old;
	int		 i;

	if ((q = calloc(1, sizeof(*q))) == NULL ||
	    (q->th = calloc((size_t)nthreads, sizeof(*q->th))) == NULL) {
		free(q);
		return SL_ENOMEM;
	}
	q->loop = loop;
	q->run = run;
	q->done = done;
	q->arg = arg;
	snprintf(q->name, sizeof(q->name), "%s", name ? name : "");
	q->tailp = &q->head;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->work, NULL);
	pthread_cond_init(&q->idle, NULL);
	ev_async_init(&q->wake, wake_cb);
	q->wake.data = q;
	ev_async_start(loop, &q->wake);
	ev_unref(loop);		/* only pending jobs keep the loop (workq_push) */
	/* workers take no signals: they belong to the loop thread */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0; i < nthreads; i++) {
		if (pthread_create(&q->th[i], NULL, worker_main, q) != 0)
			break;
		q->nth = i + 1;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (q->nth < nthreads) {
		workq_stop(q);
		return SL_EIO;
	}
	*out = q;
	return SL_OK;
}

void
workq_push(struct workq *q, struct wq_job *j)
{
	j->next = NULL;
	q->pending++;
	ev_ref(q->loop);
	pthread_mutex_lock(&q->mu);
	*q->tailp = j;
	q->tailp = &j->next;
	pthread_cond_signal(&q->work);
	pthread_mutex_unlock(&q->mu);
}

void
workq_finish(struct workq *q, struct wq_job *j)
{
	pthread_mutex_lock(&q->mu);
	j->next = q->fin;
	q->fin = j;
	pthread_cond_broadcast(&q->idle);
	pthread_mutex_unlock(&q->mu);
	ev_async_send(q->loop, &q->wake);
}

unsigned
workq_pending(const struct workq *q)
{
	return q->pending;
}

void
workq_reap(struct workq *q)
{
	struct wq_job *j, *next;

	pthread_mutex_lock(&q->mu);
	j = q->fin;
	q->fin = NULL;
	pthread_mutex_unlock(&q->mu);
	for (; j != NULL; j = next) {
		next = j->next;
		q->pending--;
		ev_unref(q->loop);
		q->done(j, q->arg);
	}
}

int
workq_wait(struct workq *q)
{
	int r;

	pthread_mutex_lock(&q->mu);
	while (q->fin == NULL && (q->head != NULL || q->busy > 0))
		pthread_cond_wait(&q->idle, &q->mu);
	r = q->fin != NULL;
	pthread_mutex_unlock(&q->mu);
	return r;
}

void
workq_stop(struct workq *q)
{
	struct wq_job	*j, *next;
	int		 i;

	if (q == NULL)
		return;
	pthread_mutex_lock(&q->mu);
	q->stop = 1;
	pthread_cond_broadcast(&q->work);
	pthread_mutex_unlock(&q->mu);
	for (i = 0; i < q->nth; i++)
		pthread_join(q->th[i], NULL);
	/* Jobs no worker started are handed back as they are. */
	pthread_mutex_lock(&q->mu);
	for (j = q->head; j != NULL; j = next) {
		next = j->next;
		j->next = q->fin;
		q->fin = j;
	}
	q->head = NULL;
	q->tailp = &q->head;
	pthread_mutex_unlock(&q->mu);
	workq_reap(q);
	ev_ref(q->loop);	/* balances workq_start's unref */
	ev_async_stop(q->loop, &q->wake);
	pthread_cond_destroy(&q->idle);
	pthread_cond_destroy(&q->work);
	pthread_mutex_destroy(&q->mu);
	free(q->th);
	free(q);
}
