// links: agent/libnet.a agent/libbase.a
/*
 * test_workq.c: the worker pool (workq.h) with real threads and a real
 * libev loop: every job runs once on a worker and comes back to done() on
 * the loop thread; pending jobs keep ev_run going and an idle pool does
 * not; a job run() hands on is finished by another thread; workq_wait
 * tells "something finished" from "nothing can finish here"; stop hands
 * back the jobs no worker started.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "sluice.h"
#include "workq.h"

#define NJOBS	64
#define NTH	3

struct job {
	struct wq_job	 wq;
	int		 id;
	atomic_int	 runs;
	int		 worker;
	int		 dones;
	int		 done_on_loop;
	int		 hold;		/* run() keeps it: finished elsewhere */
};

struct fx {
	struct ev_loop	*loop;
	struct workq	*q;
	pthread_t	 loop_thread;
	struct job	 jobs[NJOBS];
	int		 ndone;
	int		 order[NJOBS];	/* ids in done() order */
	/* run() blocks on gate while closed */
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	int		 gate_closed;
	int		 in_run;
	struct wq_job	*held;		/* the job a hold run() kept */
};

static void
run(struct wq_job *wj, int worker, void *arg)
{
	struct fx	*f = arg;
	struct job	*j = WQ_CONTAINER(wj, struct job, wq);

	atomic_fetch_add(&j->runs, 1);
	j->worker = worker;
	pthread_mutex_lock(&f->mu);
	f->in_run++;
	pthread_cond_broadcast(&f->cv);
	while (f->gate_closed)
		pthread_cond_wait(&f->cv, &f->mu);
	if (j->hold)
		f->held = wj;
	pthread_mutex_unlock(&f->mu);
	if (!j->hold)
		workq_finish(f->q, wj);
}

static void
done(struct wq_job *wj, void *arg)
{
	struct fx	*f = arg;
	struct job	*j = WQ_CONTAINER(wj, struct job, wq);

	j->dones++;
	j->done_on_loop = pthread_equal(pthread_self(), f->loop_thread);
	f->order[f->ndone++] = j->id;
}

static int
setup(void **state)
{
	static struct fx	 f;
	int			 i;

	memset(&f, 0, sizeof(f));
	f.loop = ev_loop_new(EVFLAG_AUTO);
	f.loop_thread = pthread_self();
	pthread_mutex_init(&f.mu, NULL);
	pthread_cond_init(&f.cv, NULL);
	for (i = 0; i < NJOBS; i++) {
		f.jobs[i].id = i;
		f.jobs[i].worker = -1;
	}
	if (f.loop == NULL || workq_start(&f.q, f.loop, NTH, "wq-test", run, done,
	    &f) != SL_OK)
		return -1;
	*state = &f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	workq_stop(f->q);
	ev_loop_destroy(f->loop);
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->mu);
	return 0;
}

/* Every job once on a worker, back on the loop; ev_run returns when the
 * last is done (pending jobs keep it, the idle pool does not). */
static void
test_all_run_once(void **state)
{
	struct fx	*f = *state;
	int		 i;

	ev_run(f->loop, 0);		/* nothing pending: returns at once */
	assert_int_equal(f->ndone, 0);
	for (i = 0; i < NJOBS; i++)
		workq_push(f->q, &f->jobs[i].wq);
	assert_int_equal(workq_pending(f->q), NJOBS);
	ev_run(f->loop, 0);
	assert_int_equal(f->ndone, NJOBS);
	assert_int_equal(workq_pending(f->q), 0);
	for (i = 0; i < NJOBS; i++) {
		assert_int_equal(atomic_load(&f->jobs[i].runs), 1);
		assert_int_equal(f->jobs[i].dones, 1);
		assert_true(f->jobs[i].done_on_loop);
		assert_true(f->jobs[i].worker >= 0 && f->jobs[i].worker < NTH);
	}
}

/* run() hands a job on; workq_wait says nothing can finish here until
 * another thread finishes it. */
static void *
finisher(void *arg)
{
	struct fx *f = arg;

	usleep(20000);
	workq_finish(f->q, f->held);
	return NULL;
}

static void
test_handed_on(void **state)
{
	struct fx	*f = *state;
	pthread_t	 t;

	f->jobs[0].hold = 1;
	workq_push(f->q, &f->jobs[0].wq);
	pthread_mutex_lock(&f->mu);
	while (f->held == NULL)
		pthread_cond_wait(&f->cv, &f->mu);
	pthread_mutex_unlock(&f->mu);
	/* the worker may still be on its way out of run(): wait covers it */
	assert_int_equal(workq_wait(f->q), 0);
	workq_reap(f->q);
	assert_int_equal(f->ndone, 0);
	assert_int_equal(workq_pending(f->q), 1);

	assert_int_equal(pthread_create(&t, NULL, finisher, f), 0);
	while (workq_wait(f->q) == 0)
		usleep(1000);		/* the finisher has not run yet */
	pthread_join(t, NULL);
	workq_reap(f->q);
	assert_int_equal(f->ndone, 1);
	assert_int_equal(f->jobs[0].dones, 1);
	assert_int_equal(workq_pending(f->q), 0);
}

/* Stop: the jobs the workers were in finish; the queued ones come back
 * to done() without running. */
static void *
opener(void *arg)
{
	struct fx *f = arg;

	usleep(50000);			/* workq_stop is waiting to join */
	pthread_mutex_lock(&f->mu);
	f->gate_closed = 0;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

static void
test_stop_hands_back_queued(void **state)
{
	struct fx	*f = *state;
	pthread_t	 t;
	int		 i, ran = 0;

	f->gate_closed = 1;
	for (i = 0; i < 10; i++)
		workq_push(f->q, &f->jobs[i].wq);
	pthread_mutex_lock(&f->mu);
	while (f->in_run < NTH)		/* every worker is inside a job */
		pthread_cond_wait(&f->cv, &f->mu);
	pthread_mutex_unlock(&f->mu);
	assert_int_equal(pthread_create(&t, NULL, opener, f), 0);
	workq_stop(f->q);
	f->q = NULL;
	pthread_join(t, NULL);
	assert_int_equal(f->ndone, 10);
	for (i = 0; i < 10; i++) {
		assert_int_equal(f->jobs[i].dones, 1);
		ran += atomic_load(&f->jobs[i].runs);
	}
	assert_int_equal(ran, NTH);	/* only the ones the workers had */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_all_run_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_handed_on, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_hands_back_queued, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
