/*
 * sink_commit.c: the sink's group commit (gcommit.h).
 *
 * Two batches at most: the open one the loop appends to, and the one the
 * committer thread is making durable (busy).  The committer is a workq
 * (workq.h) of one thread, so a batch is its job.
 *
 * Each chunk written with O_DIRECT comes with its own fd, so a batch of
 * several chunks of one file held as many fds of one inode, and synced
 * each: every fdatasync after the first found nothing to write but still
 * cost a flush of the disk's cache.  fdatasync is per inode, and an
 * O_DIRECT write's errors come back from the write itself, so one fd per
 * inode among those still O_DIRECT is enough.  An fd that went through
 * the page cache (a tail, a file system without O_DIRECT) is always
 * synced itself: a write-back error is reported to the fds that were
 * open when it happened, so which fd asks matters there.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsx.h"
#include "gcommit.h"
#include "log.h"
#include "sluice.h"
#include "workq.h"

struct batch {
	struct wq_job	 wq;
	struct gc_ent	*ents;
	uint32_t	 n;
	int		 rc;
};

struct gcommit {
	struct journal	*j;
	gc_done_fn	*done;
	void		*arg;

	struct gc_ent	*open;		/* the open batch (loop thread) */
	uint32_t	 nopen, aopen;
	struct batch	*busy;		/* at the committer (loop's view) */
	struct workq	*q;		/* the committer thread */
};

/* Is fd written only with O_DIRECT and of an inode one of fds[0..n)
 * (also O_DIRECT, see dio_key) already is?  keys[i] describes fds[i]. */
struct dio_key {
	dev_t	dev;
	ino_t	ino;
	int	dio;
};

static int
dio_dup(struct dio_key *keys, uint32_t n, int fd, int cached)
{
	struct stat	st;
	uint32_t	i;
	int		fl;

	keys[n].dio = 0;
	if (cached)
		return 0;	/* synced on its own; a small file's fcntl saved */
	fl = fcntl(fd, F_GETFL);
	if (fl == -1 || !(fl & O_DIRECT) || fstat(fd, &st) == -1)
		return 0;	/* synced on its own */
	keys[n].dev = st.st_dev;
	keys[n].ino = st.st_ino;
	keys[n].dio = 1;
	for (i = 0; i < n; i++)
		if (keys[i].dio && keys[i].ino == st.st_ino && keys[i].dev == st.st_dev)
			return 1;
	return 0;
}

/* Sync the files of b, journal its chunks, close its fds. */
static void
commit_one(struct gcommit *g, struct batch *b)
{
	struct sink_chunk	*sc;
	struct dio_key		*keys;
	int			*fds;
	uint32_t		 i, nfd = 0, nsame = 0;
	int			 newent = 0;

	fds = malloc((b->n ? b->n : 1) * sizeof(*fds));
	sc = malloc((b->n ? b->n : 1) * sizeof(*sc));
	keys = malloc((b->n ? b->n : 1) * sizeof(*keys));
	b->rc = (fds && sc && keys) ? SL_OK : SL_ENOMEM;
	for (i = 0; b->rc == SL_OK && i < b->n; i++) {
		struct gc_ent *e = &b->ents[i];
		if (e->owns_fd && dio_dup(keys, nfd, e->fd, e->cached))
			nsame++;
		else if (e->owns_fd)
			fds[nfd++] = e->fd;
		newent |= e->newent;
		sc[i] = (struct sink_chunk){ e->dsid, e->file, e->chunk, e->hash,
		    e->len };
	}
	/* A file created since the last sync: its entry must be durable
	 * before its chunk is acknowledged, which fdatasync does not do. */
	if (b->rc == SL_OK && (newent && b->n > 0 ? syncfs(b->ents[0].fd) :
	    fsx_sync_fds(fds, nfd)) == -1) {
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
		if (b->ents[i].owns_fd && !b->ents[i].keep)
			close(b->ents[i].fd);
	log_debug("sink", "group commit chunks=%u files=%u same-inode=%u rc=%s",
	    b->n, nfd, nsame, sl_strerror(b->rc));
	free(keys);
	free(fds);
	free(sc);
}

static void
commit_job(struct wq_job *j, int worker, void *arg)
{
	(void)worker;
	commit_one(arg, WQ_CONTAINER(j, struct batch, wq));
	workq_finish(((struct gcommit *)arg)->q, j);
}

/* The committer is done with b: the caller's turn, then the next batch. */
static void
commit_done(struct wq_job *j, void *arg)
{
	struct gcommit	*g = arg;
	struct batch	*b = WQ_CONTAINER(j, struct batch, wq);

	g->busy = NULL;		/* gcommit_holds no longer sees b */
	g->done(b->ents, b->n, b->rc, g->arg);
	free(b->ents);
	free(b);
	gcommit_flush(g);
}

int
gcommit_start(struct gcommit **out, struct ev_loop *loop, struct journal *j,
    gc_done_fn *done, void *arg)
{
	struct gcommit	*g = calloc(1, sizeof(*g));
	int		 rc;

	if (g == NULL)
		return SL_ENOMEM;
	g->j = j;
	g->done = done;
	g->arg = arg;
	rc = workq_start(&g->q, loop, 1, NULL, commit_job, commit_done, g);
	if (rc != SL_OK) {
		free(g);
		return rc;
	}
	*out = g;
	return SL_OK;
}

void
gcommit_stop(struct gcommit *g)
{
	if (g == NULL)
		return;
	gcommit_drain(g);
	workq_stop(g->q);
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
	workq_push(g->q, &b->wq);
}

void
gcommit_drain(struct gcommit *g)
{
	while (g->busy != NULL || g->nopen > 0) {
		gcommit_flush(g);
		if (g->busy == NULL)
			return;		/* out of memory: nothing more to do */
		(void)workq_wait(g->q);	/* busy is queued or committing */
		workq_reap(g->q);	/* commit_done */
	}
}
