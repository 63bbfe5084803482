// links: agent/libsink.a agent/libnet.a agent/libstore.a agent/libbase.a
/*
 * test_gcommit.c: the sink's group commit (gcommit.h) with a real LMDB
 * journal, real files and a real libev loop: a batch is journaled before
 * done() runs and its owned fds are closed; chunks pushed while a batch is
 * at the committer form the next one; stop commits what is pending; a
 * batch the journal refuses reaches done() with that error; several
 * O_DIRECT fds of one inode make one batch (one of them is synced), but
 * an fd that is not O_DIRECT is always synced itself; an fd marked keep
 * is left open for done().
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sluice.h"
#include "gcommit.h"
#include "journal.h"
#include "wire.h"

#define CS	65536u
#define DSID	0x61u

struct fx {
	char			 dir[64];
	char			 jpath[96];
	struct journal		*j;
	struct ev_loop		*loop;
	struct file_rec		 file;
	int			 dsmark;	/* what gc_ent.ds points to */
	/* what done() saw, in order */
	int			 ndone;
	uint32_t		 sizes[8];
	int			 rcs[8];
	int			 held_in_done[8];
	struct gcommit		*g;
};

static void
on_done(const struct gc_ent *ents, uint32_t n, int rc, void *arg)
{
	struct fx *f = arg;

	assert_true(f->ndone < 8);
	assert_true(n > 0 && ents != NULL);
	f->sizes[f->ndone] = n;
	f->rcs[f->ndone] = rc;
	f->held_in_done[f->ndone] = f->g ? gcommit_holds(f->g, &f->dsmark) : -1;
	f->ndone++;
}

static int
setup(void **state)
{
	struct fx	*f = calloc(1, sizeof(*f));
	struct ds_rec	 d;
	char		 err[256];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/sluice-gcommit.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->jpath, sizeof(f->jpath), "%s/j", f->dir);
	assert_int_equal(journal_open(&f->j, f->jpath, JOURNAL_SINK, 0, 0, err,
	    sizeof(err)), SL_OK);
	memset(&d, 0, sizeof(d));
	d.id = DSID;
	d.state = SDS_RECEIVING;
	d.chunk_size = CS;
	d.nfiles = 1;
	d.nchunks = 3;
	d.bytes = 3 * CS;
	snprintf(d.name, sizeof(d.name), "g");
	snprintf(d.src, sizeof(d.src), "agent-1");
	f->file = (struct file_rec){ .idx = 0, .size = 3 * CS, .mode = 0644,
	    .nchunks = 3, .first_chunk = 0, .path = (char *)"f" };
	assert_int_equal(journal_sink_ds_create(f->j, &d, &f->file, 1, NULL), SL_OK);
	f->loop = ev_loop_new(EVFLAG_AUTO);
	assert_non_null(f->loop);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx	*f = *state;
	char		 cmd[128];

	journal_close(f->j);
	ev_loop_destroy(f->loop);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static int
open_file(struct fx *f)
{
	char	path[128];
	int	fd;

	snprintf(path, sizeof(path), "%s/f", f->dir);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	return fd;
}

static struct gc_ent
ent(struct fx *f, uint32_t chunk, int fd, int owns)
{
	return (struct gc_ent){ &f->dsmark, DSID, 0, chunk, CS, 0x1000u + chunk, fd,
	    owns, 7, 0, 0, 0 };
}

/* Run the loop until done() has run n times (or 5 s). */
static void
wait_done(struct fx *f, int n)
{
	int i;

	for (i = 0; i < 500 && f->ndone < n; i++) {
		ev_run(f->loop, EVRUN_NOWAIT);
		if (f->ndone < n)
			usleep(10000);
	}
	assert_int_equal(f->ndone, n);
}

static void
test_batch(void **state)
{
	struct fx	*f = *state;
	struct gc_ent	 e;
	uint64_t	 h[3];
	int		 fd = open_file(f);

	assert_int_equal(gcommit_start(&f->g, f->loop, f->j, on_done, f), SL_OK);
	assert_int_equal(gcommit_holds(f->g, &f->dsmark), 0);
	assert_int_equal(gcommit_fd(f->g, &f->dsmark, 0), -1);
	e = ent(f, 0, fd, 1);
	assert_int_equal(gcommit_push(f->g, &e), SL_OK);
	e = ent(f, 1, fd, 0);		/* same file: shares the fd */
	assert_int_equal(gcommit_push(f->g, &e), SL_OK);
	assert_int_equal(gcommit_fd(f->g, &f->dsmark, 0), fd);
	assert_int_equal(gcommit_fd(f->g, &f->dsmark, 1), -1);
	assert_int_equal(gcommit_holds(f->g, &f->dsmark), 1);
	assert_int_equal(gcommit_holds(f->g, f), 0);
	/* not journaled before the flush */
	assert_int_equal(journal_sink_hashes(f->j, DSID, 0, h, 2), SL_ENOTFOUND);
	gcommit_flush(f->g);
	assert_int_equal(gcommit_fd(f->g, &f->dsmark, 0), -1);	/* batch gone */
	assert_int_equal(gcommit_holds(f->g, &f->dsmark), 1);	/* at the committer */
	wait_done(f, 1);
	assert_int_equal(f->sizes[0], 2);
	assert_int_equal(f->rcs[0], SL_OK);
	assert_int_equal(f->held_in_done[0], 0);	/* no longer counted in done() */
	/* durable in the journal once done() ran; the owned fd is closed */
	assert_int_equal(journal_sink_hashes(f->j, DSID, 0, h, 2), SL_OK);
	assert_int_equal(h[0], 0x1000);
	assert_int_equal(h[1], 0x1001);
	assert_int_equal(journal_sink_hashes(f->j, DSID, 0, h, 3), SL_ENOTFOUND);
	errno = 0;
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	assert_int_equal(errno, EBADF);
	gcommit_stop(f->g);
	assert_int_equal(f->ndone, 1);		/* nothing pending: no call */
}

/* An owned fd marked keep (a small file's, kept to publication) is
 * synced and journaled like the others but left open for done(). */
static void
test_keep(void **state)
{
	struct fx	*f = *state;
	struct gc_ent	 e;
	int		 fd = open_file(f), fd2 = open_file(f);

	assert_int_equal(gcommit_start(&f->g, f->loop, f->j, on_done, f), SL_OK);
	e = ent(f, 0, fd, 1);
	e.cached = 1;
	e.keep = 1;
	assert_int_equal(gcommit_push(f->g, &e), SL_OK);
	e = ent(f, 1, fd2, 1);
	e.cached = 1;
	assert_int_equal(gcommit_push(f->g, &e), SL_OK);
	gcommit_flush(f->g);
	wait_done(f, 1);
	assert_int_equal(f->rcs[0], SL_OK);
	assert_true(fcntl(fd, F_GETFD) != -1);		/* kept: the caller's */
	errno = 0;
	assert_int_equal(fcntl(fd2, F_GETFD), -1);	/* not kept: closed */
	assert_int_equal(errno, EBADF);
	close(fd);
	gcommit_stop(f->g);
}

/* Pushed while a batch is at the committer: the next batch, committed
 * without another flush (done() flushes), and by stop if still open. */
static void
test_next_batch_and_stop(void **state)
{
	struct fx	*f = *state;
	struct gc_ent	 e;
	uint64_t	 h[3];
	int		 fd;

	assert_int_equal(gcommit_start(&f->g, f->loop, f->j, on_done, f), SL_OK);
	fd = open_file(f);
	e = ent(f, 0, fd, 1);
	assert_int_equal(gcommit_push(f->g, &e), SL_OK);
	gcommit_flush(f->g);
	fd = open_file(f);
	e = ent(f, 1, fd, 1);
	assert_int_equal(gcommit_push(f->g, &e), SL_OK);
	gcommit_flush(f->g);		/* busy: stays open */
	assert_int_equal(gcommit_fd(f->g, &f->dsmark, 0), fd);
	wait_done(f, 2);
	assert_int_equal(f->sizes[0], 1);
	assert_int_equal(f->sizes[1], 1);
	assert_int_equal(journal_sink_hashes(f->j, DSID, 0, h, 2), SL_OK);
	/* stop commits what is still open */
	fd = open_file(f);
	e = ent(f, 2, fd, 1);
	assert_int_equal(gcommit_push(f->g, &e), SL_OK);
	gcommit_stop(f->g);
	f->g = NULL;
	assert_int_equal(f->ndone, 3);
	assert_int_equal(f->rcs[2], SL_OK);
	assert_int_equal(journal_sink_hashes(f->j, DSID, 0, h, 3), SL_OK);
	assert_int_equal(h[2], 0x1002);
}

/* A chunk the journal refuses (its length does not match the file):
 * the whole batch fails, and done() says so; nothing is recorded. */
static void
test_refused(void **state)
{
	struct fx	*f = *state;
	struct gc_ent	 e;
	uint64_t	 h[1];

	assert_int_equal(gcommit_start(&f->g, f->loop, f->j, on_done, f), SL_OK);
	e = ent(f, 0, open_file(f), 1);
	assert_int_equal(gcommit_push(f->g, &e), SL_OK);
	e = ent(f, 1, open_file(f), 1);
	e.len = 5;
	assert_int_equal(gcommit_push(f->g, &e), SL_OK);
	gcommit_flush(f->g);
	wait_done(f, 1);
	assert_int_equal(f->sizes[0], 2);
	assert_int_not_equal(f->rcs[0], SL_OK);
	assert_int_equal(journal_sink_hashes(f->j, DSID, 0, h, 1), SL_ENOTFOUND);
	gcommit_stop(f->g);
}

/* A batch holding a new file's first chunk (newent) is made durable by a
 * syncfs of its file system instead of fdatasyncs: the same outcome for
 * done() and the journal, the owned fds closed. */
static void
test_newent(void **state)
{
	struct fx	*f = *state;
	struct gc_ent	 e;
	uint64_t	 h[2];
	int		 fd = open_file(f);

	assert_int_equal(gcommit_start(&f->g, f->loop, f->j, on_done, f), SL_OK);
	e = ent(f, 0, fd, 1);
	e.newent = 1;
	assert_int_equal(gcommit_push(f->g, &e), SL_OK);
	e = ent(f, 1, fd, 0);		/* same file, its fd shared */
	e.newent = 1;
	assert_int_equal(gcommit_push(f->g, &e), SL_OK);
	gcommit_flush(f->g);
	wait_done(f, 1);
	assert_int_equal(f->rcs[0], SL_OK);
	assert_int_equal(f->sizes[0], 2);
	assert_int_equal(journal_sink_hashes(f->j, DSID, 0, h, 2), SL_OK);
	assert_int_equal(h[1], 0x1001);
	errno = 0;
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	assert_int_equal(errno, EBADF);
	gcommit_stop(f->g);
}

/* fds of one inode: three O_DIRECT (where the file system has it) and
 * one through the page cache; all owned, all closed, all journaled. */
static void
test_same_inode(void **state)
{
	struct fx	*f = *state;
	struct gc_ent	 e;
	uint64_t	 h[3];
	char		 path[128];
	int		 fds[3], i;

	snprintf(path, sizeof(path), "%s/f", f->dir);
	close(open_file(f));
	for (i = 0; i < 2; i++) {
		fds[i] = open(path, O_WRONLY | O_DIRECT);
		if (fds[i] == -1 && errno == EINVAL)
			fds[i] = open(path, O_WRONLY);
		assert_true(fds[i] >= 0);
	}
	fds[2] = open(path, O_WRONLY);
	assert_true(fds[2] >= 0);
	assert_int_equal(gcommit_start(&f->g, f->loop, f->j, on_done, f), SL_OK);
	for (i = 0; i < 3; i++) {
		e = ent(f, (uint32_t)i, fds[i], 1);
		assert_int_equal(gcommit_push(f->g, &e), SL_OK);
	}
	gcommit_flush(f->g);
	wait_done(f, 1);
	assert_int_equal(f->sizes[0], 3);
	assert_int_equal(f->rcs[0], SL_OK);
	assert_int_equal(journal_sink_hashes(f->j, DSID, 0, h, 3), SL_OK);
	assert_int_equal(h[2], 0x1002);
	for (i = 0; i < 3; i++) {
		errno = 0;
		assert_int_equal(fcntl(fds[i], F_GETFD), -1);
		assert_int_equal(errno, EBADF);
	}
	gcommit_stop(f->g);
}

/* A non-O_DIRECT fd is synced even beside O_DIRECT fds: here it is a
 * pipe, whose fdatasync fails, so the batch must fail. */
static void
test_buffered_synced(void **state)
{
	struct fx	*f = *state;
	struct gc_ent	 e;
	char		 path[128];
	int		 fd, p[2];

	snprintf(path, sizeof(path), "%s/f", f->dir);
	close(open_file(f));
	fd = open(path, O_WRONLY | O_DIRECT);
	if (fd == -1 && errno == EINVAL)
		fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(gcommit_start(&f->g, f->loop, f->j, on_done, f), SL_OK);
	e = ent(f, 0, fd, 1);
	assert_int_equal(gcommit_push(f->g, &e), SL_OK);
	e = ent(f, 1, p[1], 1);
	assert_int_equal(gcommit_push(f->g, &e), SL_OK);
	gcommit_flush(f->g);
	wait_done(f, 1);
	assert_int_equal(f->rcs[0], SL_EIO);
	close(p[0]);
	gcommit_stop(f->g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keep, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_next_batch_and_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_same_inode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_buffered_synced, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
