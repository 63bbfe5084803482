/*
 * sink_commit.c: the sink's group commit (gcommit.h).
 *
 * Two batches at most: the open one the loop appends to, and the one the
 * committer thread is making durable (busy).  The hand-over is one
 * pointer each way under a mutex (todo, fin); an ev_async wakes the loop
 * for the result.
 */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "fsx.h"
#include "gcommit.h"
#include "log.h"
#include "sluice.h"

struct batch {
	struct gc_ent	*ents;
	uint32_t	 n;
	int		 rc;
};

struct gcommit {
	struct ev_loop	*loop;
	struct journal	*j;
	gc_done_fn	*done;
	void		*arg;

	struct gc_ent	*open;		/* the open batch (loop thread) */
	uint32_t	 nopen, aopen;
	struct batch	*busy;		/* at the committer (loop's view) */

	pthread_t	 th;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	struct batch	*todo;		/* handed over, guarded by mu */
	struct batch	*fin;		/* finished, guarded by mu */
	int		 stop;
	ev_async	 wake;
};

/* Sync the files of b, journal its chunks, close its fds. */
static void
commit_one(struct gcommit *g, struct batch *b)
{
	struct sink_chunk	*sc;
	int			*fds;
	uint32_t		 i, nfd = 0;

	fds = malloc((b->n ? b->n : 1) * sizeof(*fds));
	sc = malloc((b->n ? b->n : 1) * sizeof(*sc));
	b->rc = (fds && sc) ? SL_OK : SL_ENOMEM;
	for (i = 0; b->rc == SL_OK && i < b->n; i++) {
		struct gc_ent *e = &b->ents[i];
		if (e->owns_fd)
			fds[nfd++] = e->fd;
		sc[i] = (struct sink_chunk){ e->dsid, e->file, e->chunk, e->hash,
		    e->len };
	}
	if (b->rc == SL_OK && fsx_sync_fds(fds, nfd) == -1) {
		log_warn("sink", "group commit: sync of %u files failed", nfd);
		b->rc = SL_EIO;
	}
	if (b->rc == SL_OK) {
		b->rc = journal_sink_chunks_put(g->j, sc, b->n);
		if (b->rc != SL_OK)
			log_err("journal", "group commit of %u chunks: %s", b->n,
			    sl_strerror(b->rc));
	}
	for (i = 0; i < b->n; i++)
		if (b->ents[i].owns_fd)
			close(b->ents[i].fd);
	log_debug("sink", "group commit chunks=%u files=%u rc=%s", b->n, nfd,
	    sl_strerror(b->rc));
	free(fds);
	free(sc);
}

static void *
committer_main(void *arg)
{
	struct gcommit	*g = arg;
	struct batch	*b;

	for (;;) {
		pthread_mutex_lock(&g->mu);
		while (g->todo == NULL && !g->stop)
			pthread_cond_wait(&g->cv, &g->mu);
		b = g->todo;
		g->todo = NULL;
		pthread_mutex_unlock(&g->mu);
		if (b == NULL)
			return NULL;	/* stopping, nothing left */
		commit_one(g, b);
		pthread_mutex_lock(&g->mu);
		g->fin = b;
		pthread_cond_broadcast(&g->cv);		/* gcommit_drain waits here */
		pthread_mutex_unlock(&g->mu);
		ev_async_send(g->loop, &g->wake);
	}
}

/* The committer is done with b: the caller's turn, then the next batch. */
static void
finish(struct gcommit *g, struct batch *b)
{
	g->busy = NULL;		/* gcommit_holds no longer sees b */
	g->done(b->ents, b->n, b->rc, g->arg);
	free(b->ents);
	free(b);
}

static void
wake_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct gcommit	*g = w->data;
	struct batch	*b;

	(void)loop; (void)revents;
	pthread_mutex_lock(&g->mu);
	b = g->fin;
	g->fin = NULL;
	pthread_mutex_unlock(&g->mu);
	if (b == NULL)
		return;
	finish(g, b);
	gcommit_flush(g);
}

int
gcommit_start(struct gcommit **out, struct ev_loop *loop, struct journal *j,
    gc_done_fn *done, void *arg)
{
	struct gcommit *g = calloc(1, sizeof(*g));

	if (g == NULL)
		return SL_ENOMEM;
	g->loop = loop;
	g->j = j;
	g->done = done;
	g->arg = arg;
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
	if (pthread_create(&g->th, NULL, committer_main, g) != 0) {
		pthread_cond_destroy(&g->cv);
		pthread_mutex_destroy(&g->mu);
		free(g);
		return SL_EIO;
	}
	ev_async_init(&g->wake, wake_cb);
	g->wake.data = g;
	ev_async_start(loop, &g->wake);
	*out = g;
	return SL_OK;
}

void
gcommit_stop(struct gcommit *g)
{
	if (g == NULL)
		return;
	gcommit_drain(g);
	pthread_mutex_lock(&g->mu);
	g->stop = 1;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
	pthread_join(g->th, NULL);
	ev_async_stop(g->loop, &g->wake);
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
	free(g->open);
	free(g);
}

int
gcommit_push(struct gcommit *g, const struct gc_ent *e)
{
	if (g->nopen == g->aopen) {
		uint32_t na = g->aopen ? g->aopen * 2 : 64;
		struct gc_ent *p = realloc(g->open, na * sizeof(*p));
		if (p == NULL)
			return SL_ENOMEM;
		g->open = p;
		g->aopen = na;
	}
	g->open[g->nopen++] = *e;
	return SL_OK;
}

int
gcommit_fd(const struct gcommit *g, const void *ds, uint32_t file)
{
	uint32_t i;

	for (i = g->nopen; i > 0 && g->nopen - i < 8; i--) {
		const struct gc_ent *e = &g->open[i - 1];
		if (e->ds == ds && e->file == file)
			return e->fd;
	}
	return -1;
}

int
gcommit_holds(const struct gcommit *g, const void *ds)
{
	uint32_t i;

	for (i = 0; i < g->nopen; i++)
		if (g->open[i].ds == ds)
			return 1;
	if (g->busy != NULL)
		for (i = 0; i < g->busy->n; i++)
			if (g->busy->ents[i].ds == ds)
				return 1;
	return 0;
}

void
gcommit_flush(struct gcommit *g)
{
	struct batch *b;

	if (g->busy != NULL || g->nopen == 0)
		return;
	if ((b = malloc(sizeof(*b))) == NULL)
		return;		/* try again next pass */
	b->ents = g->open;
	b->n = g->nopen;
	b->rc = SL_OK;
	g->open = NULL;
	g->nopen = g->aopen = 0;
	g->busy = b;
	pthread_mutex_lock(&g->mu);
	g->todo = b;
	pthread_cond_signal(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

void
gcommit_drain(struct gcommit *g)
{
	struct batch *b;

	while (g->busy != NULL || g->nopen > 0) {
		gcommit_flush(g);
		if (g->busy == NULL)
			return;		/* out of memory: nothing more to do */
		pthread_mutex_lock(&g->mu);
		while (g->fin == NULL)
			pthread_cond_wait(&g->cv, &g->mu);
		b = g->fin;
		g->fin = NULL;
		pthread_mutex_unlock(&g->mu);
		finish(g, b);
	}
}
