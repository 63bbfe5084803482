/*
 * workq.h: a pool of threads that take jobs off the event loop and hand
 * them back to it (agent/base/workq.c).
 *
 * The loop pushes a job; a worker takes it in FIFO order and runs run();
 * whoever finishes with the job (run() itself, or a thread it handed the
 * job to) calls workq_finish, and done() runs for it on the loop, woken
 * through an ev_async.  The sink's chunk writers, its group commit and the
 * streams' TLS threads and the hook runner are each one of these.
 *
 * Jobs are intrusive: embed a struct wq_job and recover the container in
 * run() and done().  Only jobs between push and done() keep the loop
 * running (as a child watcher would).
 *
 * Threads: workq_finish may be called from any thread; everything else is
 * for the loop thread.  run() runs on a worker, done() on the loop.
 */
#ifndef WORKQ_H
#define WORKQ_H

#include <stddef.h>
#include <ev.h>

struct workq;

struct wq_job {
	struct wq_job	*next;		/* the queue's */
};

/* The job that embeds wq_job j as its member m. */
#define WQ_CONTAINER(j, type, m)	((type *)(void *)((char *)(j) - offsetof(type, m)))

/* worker: 0 .. nthreads-1, for per-thread scratch space. */
typedef void wq_run_fn(struct wq_job *j, int worker, void *arg);
typedef void wq_done_fn(struct wq_job *j, void *arg);

/* Start nthreads workers, named name (NULL: unnamed) for top -H.  SL_OK,
 * SL_ENOMEM, SL_EIO (pthread). */
int	workq_start(struct workq **out, struct ev_loop *loop, int nthreads,
	    const char *name, wq_run_fn *run, wq_done_fn *done, void *arg);
/* The job is the pool's until done(j). */
void	workq_push(struct workq *q, struct wq_job *j);
/* Any thread: j is finished, done(j) runs on the loop. */
void	workq_finish(struct workq *q, struct wq_job *j);
/* Jobs pushed and not yet through done(). */
unsigned workq_pending(const struct workq *q);
/* Run done() here, now, for the jobs finished so far. */
void	workq_reap(struct workq *q);
/* Block until a job is finished (1), or until none is queued nor in
 * run() and none finished (0: what is pending waits on something else,
 * such as a job run() handed on). */
int	workq_wait(struct workq *q);
/* Join the workers, then run done() for every job they finished and for
 * the ones none started (the caller must let those go), and free q.
 * NULL is fine. */
void	workq_stop(struct workq *q);

#endif
